--- Finding, starting and talking to the Orion language server client.
---
--- Why: every user command needs "the Orion client for what I am looking at"
--- (the project of the current file, or of the chat buffer), and must work on
--- Neovim 0.10 (dot-call client methods) and 0.11+ (colon-call methods).
--- Commands go through `workspace/executeCommand` with one camelCase object as
--- the only argument (docs/protocol.md#commands).

local config = require('orion.config')

local M = {}

local has_011 = vim.fn.has('nvim-0.11') == 1

---@param client vim.lsp.Client
---@return boolean
function M.stopped(client)
  if has_011 then
    return client:is_stopped()
  end
  return client.is_stopped()
end

---@param client vim.lsp.Client
---@return integer? request_id
function M.request(client, method, params, handler, bufnr)
  local ok, id
  if has_011 then
    ok, id = client:request(method, params, handler, bufnr)
  else
    ok, id = client.request(method, params, handler, bufnr)
  end
  if not ok then
    return nil
  end
  return id
end

---@param client vim.lsp.Client
function M.cancel_request(client, id)
  if has_011 then
    return client:cancel_request(id)
  end
  return client.cancel_request(id)
end

---@param client vim.lsp.Client
function M.request_sync(client, method, params, timeout_ms)
  if has_011 then
    return client:request_sync(method, params, timeout_ms)
  end
  return client.request_sync(method, params, timeout_ms)
end

--- `workspace/executeCommand` for an Orion command with one argument object.
---@param client vim.lsp.Client
---@param command string
---@param args table
---@param handler fun(err: lsp.ResponseError?, result: any)
---@return integer? request_id
function M.exec(client, command, args, handler)
  return M.request(client, 'workspace/executeCommand', {
    command = command,
    -- vim.empty_dict so `{}` is sent as a JSON object, not an array.
    arguments = { next(args) == nil and vim.empty_dict() or args },
  }, function(err, result)
    handler(err, result)
  end)
end

---@param path string
---@param root string
local function is_under(path, root)
  path = vim.fs.normalize(path)
  root = vim.fs.normalize(root)
  return path == root or vim.startswith(path, root .. '/')
end

--- All running Orion clients.
---@return vim.lsp.Client[]
function M.all()
  return vim.lsp.get_clients({ name = 'orion' })
end

---@param root string
---@return vim.lsp.Client?
function M.by_root(root)
  for _, c in ipairs(M.all()) do
    if c.root_dir and vim.fs.normalize(c.root_dir) == vim.fs.normalize(root) and not M.stopped(c) then
      return c
    end
  end
end

--- The client for a buffer: the chat buffer's project, the attached client,
--- or a running client whose root contains the buffer's file (or the cwd).
---@param bufnr? integer
---@return vim.lsp.Client?
function M.for_buffer(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local chat_root = vim.b[bufnr].orion_root
  if chat_root then
    return M.by_root(chat_root)
  end
  local attached = vim.lsp.get_clients({ name = 'orion', bufnr = bufnr })
  if attached[1] then
    return attached[1]
  end
  local name = vim.api.nvim_buf_get_name(bufnr)
  local path = name ~= '' and name or vim.fn.getcwd()
  local best
  for _, c in ipairs(M.all()) do
    if c.root_dir and is_under(path, c.root_dir) then
      if not best or #c.root_dir > #best.root_dir then
        best = c -- deepest root wins, as on the server
      end
    end
  end
  return best
end

--- Start (or reuse) the client for a buffer's workspace root. File buffers
--- are attached; other buffers (the chat, an empty start screen) are not.
---@param bufnr? integer
---@return integer? client_id
function M.start(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local cfg = config.client_config()
  local is_file = vim.bo[bufnr].buftype == '' and vim.api.nvim_buf_get_name(bufnr) ~= ''
  cfg.root_dir = vim.b[bufnr].orion_root or config.root_dir(bufnr)
  cfg.workspace_folders = {
    { uri = vim.uri_from_fname(cfg.root_dir), name = vim.fs.basename(cfg.root_dir) },
  }
  if is_file then
    return vim.lsp.start(cfg, { bufnr = bufnr })
  end
  if has_011 then
    return vim.lsp.start(cfg, { bufnr = bufnr, attach = false })
  end
  local existing = M.by_root(cfg.root_dir)
  if existing then
    return existing.id
  end
  return vim.lsp.start_client(cfg)
end

--- Call `fn(client)` once the client for the buffer is initialized, starting
--- it when needed. Requests sent before `initialize` returns would race it.
---@param fn fun(client: vim.lsp.Client)
---@param bufnr? integer
function M.with_client(fn, bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = M.for_buffer(bufnr)
  if not client then
    local id = M.start(bufnr)
    client = id and vim.lsp.get_client_by_id(id) or nil
  end
  if not client then
    require('orion.handlers').notify_error('Orion: could not start the server (see :checkhealth orion)')
    return
  end
  if client.initialized then
    fn(client)
    return
  end
  local timer = assert(vim.uv.new_timer())
  local waited = 0
  timer:start(
    20,
    20,
    vim.schedule_wrap(function()
      waited = waited + 20
      if client.initialized then
        timer:stop()
        timer:close()
        fn(client)
      elseif M.stopped(client) or waited > 30000 then
        timer:stop()
        timer:close()
        require('orion.handlers').notify_error(
          'Orion: the server did not start (see :checkhealth orion and :LspLog)'
        )
      end
    end)
  )
end

return M
