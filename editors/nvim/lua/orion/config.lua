--- Options of the Orion plugin and the LSP client configuration built from them.
---
--- Why a module of its own: `setup()`, the 0.11 `lsp/orion.lua` file and
--- `:checkhealth orion` must all start the server the same way (same command,
--- same environment, same settings), so there is exactly one place that turns
--- user options into a `vim.lsp.ClientConfig`.
---
--- Settings follow docs/protocol.md#settings: a flat object sent both as
--- `initializationOptions` and as the `orion` section of
--- `workspace/configuration`. The API key is never a setting: it only reaches
--- the server through its environment (`ORION_API_KEY`).

local M = {}

--- The server's setting keys (camelCase, as it reads them). Others are
--- passed through untouched: the server ignores keys it does not know.
M.setting_keys = {
  'model',
  'apiBase',
  'criticModel',
  'databasePath',
  'historyLimit',
  'maxSteps',
  'contextTokens',
}

---@class orion.Options
---@field python? string Python interpreter that has `orion_lsp` installed (runs `-m orion_lsp`)
---@field cmd? string[] Full server command; overrides `python`
---@field settings? table<string, any> Server settings (model, apiBase, databasePath, ...)
---@field env? table<string, string> Extra environment for the server process
---@field api_key? string|fun(): string|nil Sent as ORION_API_KEY in the server's environment only
---@field root_markers? string[] Files/dirs marking a workspace root (nearest wins)
---@field filetypes? string[]|nil Attach only to these filetypes (nil: every file buffer)
---@field autostart? boolean Attach automatically to file buffers (default true)
---@field log_file? string Passed to the server as `--log-file`
---@field chat? {open?: string, size?: integer} How the chat window opens: 'vsplit' | 'split' | 'tab' | 'current'
---@field trust_prompt? fun(root: string, command: string): boolean Asks whether a workspace may run its test command (default: a confirm dialog)

---@type orion.Options
M.defaults = {
  python = nil,
  cmd = nil,
  settings = {},
  env = {},
  api_key = nil,
  -- A workspace folder is a project (one history): keep roots coarse.
  root_markers = { '.orion', '.git' },
  filetypes = nil,
  autostart = true,
  log_file = nil,
  chat = { open = 'vsplit', size = nil },
}

---@type orion.Options
M.options = vim.deepcopy(M.defaults)

---@param opts? orion.Options
function M.set(opts)
  M.options = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  -- tbl_deep_extend merges list-like tables index by index: take lists as given.
  if opts and opts.root_markers then
    M.options.root_markers = opts.root_markers
  end
  if opts and opts.cmd then
    M.options.cmd = opts.cmd
  end
  return M.options
end

--- The Python interpreter: option, then $ORION_PYTHON, then python3 on PATH.
---@return string
function M.python()
  local o = M.options
  if o.python and o.python ~= '' then
    return o.python
  end
  local env = vim.env.ORION_PYTHON
  if env and env ~= '' then
    return env
  end
  return 'python3'
end

---@return string[]
function M.server_cmd()
  local o = M.options
  local cmd = o.cmd and vim.deepcopy(o.cmd) or { M.python(), '-m', 'orion_lsp' }
  if o.log_file and o.log_file ~= '' then
    vim.list_extend(cmd, { '--log-file', o.log_file })
  end
  return cmd
end

--- Environment for the server (and for `orion doctor` in :checkhealth).
--- The key goes here and nowhere else.
---@return table<string, string>
function M.server_env()
  local env = vim.deepcopy(M.options.env or {})
  local key = M.options.api_key
  if type(key) == 'function' then
    key = key()
  end
  if type(key) == 'string' and key ~= '' then
    env.ORION_API_KEY = key
  end
  return env
end

--- The flat settings object, without anything that looks like a secret.
---@return table<string, any>
function M.settings()
  local s = vim.deepcopy(M.options.settings or {})
  -- A key in settings would end up in the server's configuration and in
  -- editor dumps; the key is environment-only (docs/protocol.md#settings), so drop it loudly.
  for _, k in ipairs({ 'apiKey', 'api_key', 'key' }) do
    if s[k] ~= nil then
      s[k] = nil
      vim.schedule(function()
        vim.notify(
          'Orion: the API key is not a setting; use setup({ api_key = ... }) (sent as ORION_API_KEY)',
          vim.log.levels.WARN
        )
      end)
    end
  end
  return s
end

--- Workspace root for a buffer: nearest root marker, else the current directory.
---@param bufnr integer
---@return string
function M.root_dir(bufnr)
  local root = vim.fs.root(bufnr, M.options.root_markers)
  if root then
    return root
  end
  return vim.fn.getcwd()
end

--- The client configuration (as for `vim.lsp.start` / `vim.lsp.config`).
---@return vim.lsp.ClientConfig
function M.client_config()
  local settings = M.settings()
  return {
    name = 'orion',
    cmd = M.server_cmd(),
    cmd_env = M.server_env(),
    init_options = settings,
    settings = { orion = settings },
    -- We show orion/* turn notifications, so the server sends no
    -- showDocument/showMessage copy of each answer (it does for stock clients).
    capabilities = { experimental = { orion = { turnNotifications = true } } },
    handlers = require('orion.handlers').client_handlers(),
    -- Asked once per workspace with a test command (orion.trust), when its
    -- server starts; told to the server like any setting.
    before_init = function(params, cfg)
      local trusted = cfg.root_dir and require('orion.trust').for_root(cfg.root_dir) or false
      params.initializationOptions = params.initializationOptions or {}
      params.initializationOptions.workspaceTrusted = trusted
      if cfg.settings and cfg.settings.orion then
        cfg.settings.orion.workspaceTrusted = trusted
      end
    end,
    on_attach = function(client, bufnr)
      require('orion').on_attach(client, bufnr)
    end,
    on_exit = function(_code, _signal, client_id)
      vim.schedule(function()
        require('orion.chat').on_exit(client_id)
      end)
    end,
  }
end

return M
