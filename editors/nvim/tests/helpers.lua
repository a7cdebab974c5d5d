--- Test helpers for the Orion Neovim plugin, run inside headless Neovim:
---   nvim --headless -u NONE -i NONE -n -l tests/test_x.lua
--- Each test file is its own Neovim process, with the real orion-lsp server
--- and the scripted OpenAI-compatible model server (`python -m
--- orion_lsp.testing serve`) as real subprocesses. Nothing is mocked on the
--- editor side except `vim.notify`/`vim.ui.select`, which are recorded.

local H = {}

local this = debug.getinfo(1, 'S').source:sub(2)
H.plugin_root = vim.fs.dirname(vim.fs.dirname(vim.fn.fnamemodify(this, ':p')))
H.repo_root = vim.fs.dirname(vim.fs.dirname(H.plugin_root))
H.python = os.getenv('ORION_PYTHON') or (H.repo_root .. '/.venv/bin/python')

vim.opt.rtp:prepend(H.plugin_root)
-- Plugins are not loaded with -u NONE; health and lsp/ files are found on rtp.
vim.o.swapfile = false
-- As in a user's config: FileType events drive vim.lsp.enable().
vim.cmd('filetype on')
vim.o.shortmess = vim.o.shortmess .. 'F'

local procs = {}
H.notes = {} ---@type {msg: string, level: integer}[]

--- Record every vim.notify (and still print it, for debugging failures).
function H.capture_notify()
  vim.notify = function(msg, level)
    table.insert(H.notes, { msg = tostring(msg), level = level or vim.log.levels.INFO })
    io.stderr:write(('[notify %s] %s\n'):format(tostring(level), tostring(msg)))
  end
end

---@param level integer
---@param pattern string plain substring
function H.find_note(level, pattern)
  for _, n in ipairs(H.notes) do
    if n.level == level and n.msg:find(pattern, 1, true) then
      return n
    end
  end
end

function H.tmpdir()
  local d = vim.fn.tempname()
  vim.fn.mkdir(d, 'p')
  return vim.fn.resolve(d)
end

function H.write(path, text)
  vim.fn.mkdir(vim.fs.dirname(path), 'p')
  local f = assert(io.open(path, 'wb'))
  f:write(text)
  f:close()
end

function H.read(path)
  local f = io.open(path, 'rb')
  if not f then
    return nil
  end
  local s = f:read('*a')
  f:close()
  return s
end

--- A workspace folder (marked by .git) with the given files.
---@param files table<string,string>
function H.workspace(files)
  local root = H.tmpdir() .. '/ws'
  vim.fn.mkdir(root .. '/.git', 'p')
  for name, text in pairs(files or {}) do
    H.write(root .. '/' .. name, text)
  end
  return root
end

function H.wait(what, cond, timeout_ms)
  if not vim.wait(timeout_ms or 30000, cond, 20) then
    error('timed out waiting for ' .. what, 2)
  end
end

--- Start the scripted model server with `script` ({replies=..., default=...}).
---@return {url: string, requests_file: string}
function H.model_server(script)
  local dir = H.tmpdir()
  local script_file = dir .. '/script.json'
  local port_file = dir .. '/url'
  local requests_file = dir .. '/requests.jsonl'
  H.write(script_file, vim.json.encode(script))
  local proc = vim.system({
    H.python,
    '-m',
    'orion_lsp.testing',
    'serve',
    '--script',
    script_file,
    '--port-file',
    port_file,
    '--requests-file',
    requests_file,
  }, { text = true })
  table.insert(procs, proc)
  H.wait('the scripted model server', function()
    local s = H.read(port_file)
    return s ~= nil and s ~= ''
  end, 20000)
  return { url = vim.trim(H.read(port_file)), requests_file = requests_file }
end

--- Requests the model server received, decoded.
function H.model_requests(model)
  local out = {}
  for line in (H.read(model.requests_file) or ''):gmatch('[^\n]+') do
    table.insert(out, vim.json.decode(line))
  end
  return out
end

--- setup() pointed at the venv's interpreter, the scripted model and `db`.
---@param model {url: string}?
---@param db string
---@param extra? table
function H.setup(model, db, extra)
  local env = { ORION_DB = db, ORION_MODEL = 'openai/scripted', ORION_API_KEY = 'x' }
  if model then
    env.ORION_API_BASE = model.url
  end
  require('orion').setup(vim.tbl_deep_extend('force', {
    python = H.python,
    env = env,
    log_file = vim.fs.dirname(db) .. '/server.log',
    chat = { open = 'current' },
  }, extra or {}))
end

--- Open a file and wait until the Orion client is attached and initialized.
---@return integer bufnr, vim.lsp.Client client
function H.open(path)
  vim.cmd.edit(vim.fn.fnameescape(path))
  local buf = vim.api.nvim_get_current_buf()
  local client
  H.wait('the Orion client to attach to ' .. path, function()
    client = vim.lsp.get_clients({ name = 'orion', bufnr = buf })[1]
    return client ~= nil and client.initialized == true
  end, 30000)
  return buf, client
end

function H.lines(buf)
  return vim.api.nvim_buf_get_lines(buf, 0, -1, false)
end

function H.text(buf)
  return table.concat(H.lines(buf), '\n')
end

function H.contains(haystack, needle, msg)
  if not haystack:find(needle, 1, true) then
    error(('%s: expected to find %q in:\n%s'):format(msg or 'contains', needle, haystack), 2)
  end
end

function H.eq(expected, actual, msg)
  if not vim.deep_equal(expected, actual) then
    error(('%s: expected %s, got %s'):format(msg or 'eq', vim.inspect(expected), vim.inspect(actual)), 2)
  end
end

function H.truthy(v, msg)
  if not v then
    error((msg or 'expected a true value') .. ', got ' .. vim.inspect(v), 2)
  end
end

--- The chat buffer of a client's project.
function H.chat_buf(client)
  return require('orion.chat').find_buffer(client.root_dir)
end

--- Wait until no turn runs for the client.
function H.wait_turn_done(client, timeout_ms)
  H.wait('the turn to finish', function()
    return require('orion.chat').running(client.id) == nil
  end, timeout_ms or 60000)
end

function H.stop_all()
  local clients = vim.lsp.get_clients({ name = 'orion' })
  for _, c in ipairs(clients) do
    c:stop()
  end
  vim.wait(5000, function()
    for _, c in ipairs(clients) do
      if not c:is_stopped() then
        return false
      end
    end
    return true
  end, 20)
  for _, c in ipairs(clients) do
    if not c:is_stopped() then
      c:stop(true)
    end
  end
end

local SKIP = {}

--- Run named test functions in order; exit non-zero when one fails.
--- A test may `error(H.skip('reason'))` to be reported as skipped.
function H.skip(reason)
  return setmetatable({ reason = reason }, SKIP)
end

---@param name string file label
---@param tests {[1]: string, [2]: fun()}[]
function H.run(name, tests)
  local failed, skipped = 0, 0
  for _, t in ipairs(tests) do
    local start = vim.uv.hrtime()
    local ok, err = xpcall(t[2], function(e)
      if getmetatable(e) == SKIP then
        return e
      end
      return debug.traceback(tostring(e), 2)
    end)
    local ms = math.floor((vim.uv.hrtime() - start) / 1e6)
    if ok then
      io.stdout:write(('ok      %s :: %s (%d ms)\n'):format(name, t[1], ms))
    elseif getmetatable(err) == SKIP then
      skipped = skipped + 1
      io.stdout:write(('SKIPPED %s :: %s: %s\n'):format(name, t[1], err.reason))
    else
      failed = failed + 1
      io.stdout:write(('FAILED  %s :: %s (%d ms)\n%s\n'):format(name, t[1], ms, err))
    end
  end
  pcall(H.stop_all)
  for _, p in ipairs(procs) do
    pcall(function()
      p:kill(15)
      p:wait(3000)
    end)
  end
  io.stdout:flush()
  os.exit(failed > 0 and 1 or 0)
end

return H
