--- Orion for Neovim: a thin client of the orion-lsp language server.
---
--- `require("orion").setup({...})` starts and attaches the server to file
--- buffers under a workspace root and defines the user commands
--- (`:OrionChat`, `:OrionHistory`, `:OrionCancel`, `:OrionStatus`,
--- `:OrionRate`, and the thread commands of lua/orion/threads.lua). Code
--- actions come from the server through `vim.lsp.buf.code_action()`; the turn
--- they start streams into the chat buffer, and its edits arrive as
--- `workspace/applyEdit`, handled by Neovim's standard handler (undoable).

local config = require('orion.config')
local client_mod = require('orion.client')

local M = {}

local augroup = vim.api.nvim_create_augroup('orion', { clear = true })

-- client_id -> last orion.status result and progress text, for statusline()
local status_cache = {}
local progress_text = {}

--- Commands the server's code actions carry run locally, so the turn streams
--- into the chat buffer (with the action's title as the question, which is
--- also what the server stores) instead of being a bare executeCommand.
local function register_lsp_commands()
  for _, name in ipairs({ 'orion.chat', 'orion.codeAction' }) do
    vim.lsp.commands[name] = function(command, ctx)
      local client = vim.lsp.get_client_by_id(ctx.client_id)
      local args = command.arguments and command.arguments[1]
      if not client or type(args) ~= 'table' then
        return
      end
      require('orion.chat').send(client, args, nil, { command = name, label = args.prompt or command.title })
    end
  end
end

---@param opts? orion.Options
function M.setup(opts)
  config.set(opts)
  register_lsp_commands()
  M.create_commands()
  vim.api.nvim_clear_autocmds({ group = augroup })
  if config.options.autostart ~= false then
    vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile', 'FileType' }, {
      group = augroup,
      callback = function(ev)
        M.maybe_attach(ev.buf)
      end,
    })
    -- Buffers already open when setup() runs (lazy-loading plugin managers).
    for _, buf in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(buf) then
        M.maybe_attach(buf)
      end
    end
  end
  vim.api.nvim_create_autocmd('LspProgress', {
    group = augroup,
    callback = function(ev)
      local data = ev.data or {}
      local value = data.params and data.params.value or {}
      if data.client_id then
        progress_text[data.client_id] = value.kind ~= 'end' and (value.message or value.title) or nil
      end
    end,
  })
end

--- Attach a file buffer to the Orion client of its workspace root.
---@param bufnr integer
function M.maybe_attach(bufnr)
  if not vim.api.nvim_buf_is_valid(bufnr) or vim.bo[bufnr].buftype ~= '' then
    return
  end
  if vim.api.nvim_buf_get_name(bufnr) == '' then
    return
  end
  local fts = config.options.filetypes
  if fts and not vim.tbl_contains(fts, vim.bo[bufnr].filetype) then
    return
  end
  if vim.lsp.get_clients({ name = 'orion', bufnr = bufnr })[1] then
    return
  end
  client_mod.start(bufnr)
end

---@param client vim.lsp.Client
---@param _bufnr integer
function M.on_attach(client, _bufnr)
  register_lsp_commands()
  if status_cache[client.id] == nil then
    status_cache[client.id] = false
    client_mod.exec(client, 'orion.status', {}, function(err, result)
      status_cache[client.id] = (not err and result) or false
    end)
  end
end

--- A short text for the statusline: the model, and what the server is doing.
---@return string
function M.statusline()
  local client = client_mod.for_buffer()
  if not client then
    return ''
  end
  local s = status_cache[client.id]
  local text = 'Orion'
  if s and s.model then
    text = text .. ' ' .. s.model
  end
  if progress_text[client.id] then
    text = text .. ' · ' .. progress_text[client.id]
  end
  return text
end

---@param opts {args: string, range: integer, line1: integer, line2: integer}
local function chat_command(opts)
  local bufnr = vim.api.nvim_get_current_buf()
  local args = {}
  local name = vim.api.nvim_buf_get_name(bufnr)
  if vim.bo[bufnr].buftype == '' and name ~= '' then
    args.uri = vim.uri_from_bufnr(bufnr)
    if opts.range > 0 then
      local last = vim.api.nvim_buf_get_lines(bufnr, opts.line2 - 1, opts.line2, false)[1] or ''
      args.range = {
        start = { line = opts.line1 - 1, character = 0 },
        ['end'] = { line = opts.line2 - 1, character = #last },
      }
    end
  end
  local function send(prompt)
    if not prompt or vim.trim(prompt) == '' then
      return
    end
    args.prompt = prompt
    client_mod.with_client(function(client)
      require('orion.chat').send(client, args)
    end, bufnr)
  end
  if opts.args ~= '' then
    send(opts.args)
  else
    vim.ui.input({ prompt = 'Orion> ' }, send)
  end
end

local function history_command(opts)
  local limit = tonumber(opts.args)
  client_mod.with_client(function(client)
    require('orion.chat').history(client, { limit = limit })
  end)
end

local function cancel_command()
  local client = client_mod.for_buffer()
  if not client then
    vim.notify('Orion: no server for this buffer', vim.log.levels.INFO)
    return
  end
  require('orion.chat').cancel(client)
end

--- Lines describing an `orion.status` result.
---@param client vim.lsp.Client
---@param s table
---@return string[]
function M.format_status(client, s)
  local info = client.server_info or {}
  local lines = {
    ('Orion server: %s %s'):format(info.name or 'orion-lsp', info.version or ''),
    ('Model: %s%s'):format(
      s.model or '?',
      (s.criticModel and s.criticModel ~= vim.NIL) and (' (critic: ' .. s.criticModel .. ')') or ''
    ),
    ('Database: %s (schema %s)'):format(s.databasePath or '?', tostring(s.schemaVersion or '?')),
  }
  for _, p in ipairs(s.projects or {}) do
    table.insert(lines, ('Project: %s  %s'):format(p.projectId, p.root))
  end
  local rm = s.repoMap
  if type(rm) == 'table' then
    table.insert(
      lines,
      ('Repo map: %s files, %s symbols, %s ms'):format(
        tostring(rm.files),
        tostring(rm.symbols),
        tostring(rm.buildMs)
      )
    )
  end
  return lines
end

local function status_command()
  client_mod.with_client(function(client)
    client_mod.exec(client, 'orion.status', {}, function(err, result)
      if err then
        require('orion.handlers').notify_error(err.message)
        return
      end
      status_cache[client.id] = result
      vim.notify(table.concat(M.format_status(client, result), '\n'), vim.log.levels.INFO, { title = 'Orion' })
    end)
  end)
end

function M.create_commands()
  local cmd = vim.api.nvim_create_user_command
  cmd('OrionChat', chat_command, {
    nargs = '*',
    range = true,
    desc = 'Ask Orion (a range adds the selected lines as context)',
  })
  cmd('OrionHistory', history_command, { nargs = '?', desc = "Show this workspace's Orion history" })
  cmd('OrionCancel', cancel_command, { nargs = 0, desc = 'Cancel the running Orion turn' })
  cmd('OrionStatus', status_command, { nargs = 0, desc = 'Show the Orion server status' })
  cmd('OrionRate', function(opts)
    require('orion.rate').command(opts)
  end, {
    nargs = '+',
    complete = function(_, line)
      return #vim.split(line, '%s+') <= 2 and { 'up', 'down' } or {}
    end,
    desc = 'Rate the Orion answer under the cursor (or the last one): up|down [comment]',
  })
  require('orion.threads').create_commands()
end

-- Public API for scripting and tests.
M.chat = function(prompt, opts)
  opts = opts or {}
  client_mod.with_client(function(client)
    local args = vim.tbl_extend('force', { prompt = prompt }, opts.args or {})
    require('orion.chat').send(client, args, opts.on_done)
  end, opts.bufnr)
end

return M
