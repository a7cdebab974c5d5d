--- `:checkhealth orion`: can Orion work here, and if not, why.
---
--- Reports, in order: Neovim version; the server (interpreter found, package
--- importable, version); each running server's database path and schema
--- version (`orion.status`); and whether the model answers (`orion doctor`,
--- which makes one tiny completion with the same environment and settings
--- the server gets). Everything runs synchronously with time-outs because
--- checkhealth is synchronous.

local config = require('orion.config')
local client_mod = require('orion.client')

local M = {}

local health = vim.health

-- Setting -> environment variable, for running `orion doctor` with the same
-- settings as the editor's server (env is the CLI's only settings channel).
local SETTING_ENV = {
  model = 'ORION_MODEL',
  apiBase = 'ORION_API_BASE',
  criticModel = 'ORION_CRITIC_MODEL',
  databasePath = 'ORION_DB',
}

---@param cmd string[]
---@param env table<string,string>?
---@param timeout_ms integer
---@return vim.SystemCompleted?
local function run(cmd, env, timeout_ms)
  local ok, proc = pcall(vim.system, cmd, { text = true, env = env })
  if not ok then
    return nil
  end
  local res = proc:wait(timeout_ms)
  return res
end

--- The environment `orion doctor` gets: process env (inherited), the
--- plugin's env and key, and the settings that have an env var.
---@return table<string,string>
function M.doctor_env()
  local env = config.server_env()
  for key, var in pairs(SETTING_ENV) do
    local v = config.options.settings and config.options.settings[key]
    if type(v) == 'string' and v ~= '' and env[var] == nil and (vim.env[var] == nil or vim.env[var] == '') then
      env[var] = v
    end
  end
  return env
end

--- `orion doctor` through the configured interpreter (the `orion` script may
--- not be on PATH, but the package is importable wherever the server is).
---@return string[]
function M.doctor_cmd()
  return {
    config.python(),
    '-c',
    'import sys; from orion_lsp.cli import main; sys.exit(main(["doctor"]))',
  }
end

local function check_server()
  health.start('Orion server')
  local cmd = config.server_cmd()
  local exe = cmd[1]
  if vim.fn.executable(exe) == 0 then
    health.error(
      ('server command not found: %s'):format(exe),
      { 'set require("orion").setup({ python = "/path/to/venv/bin/python" }) or `cmd`' }
    )
    return false
  end
  health.ok(('server command: %s'):format(table.concat(cmd, ' ')))
  if config.options.cmd then
    return true -- a custom command: nothing more to probe without starting it
  end
  local probe = run({
    exe,
    '-c',
    'import importlib.metadata as m, orion_lsp\ntry:\n print(m.version("orion-lsp"))\nexcept m.PackageNotFoundError:\n print("(source checkout)")',
  }, nil, 15000)
  if not probe or probe.code ~= 0 then
    health.error(
      ('`%s` cannot import orion_lsp'):format(exe),
      { 'install orion-lsp into that interpreter: pip install orion-lsp', vim.trim((probe and probe.stderr) or '') }
    )
    return false
  end
  health.ok(('orion_lsp importable, version %s'):format(vim.trim(probe.stdout)))
  return true
end

local function check_running()
  health.start('Orion running servers')
  local clients = client_mod.all()
  if #clients == 0 then
    health.info('no Orion server running (open a file in a workspace, or run :OrionStatus)')
    return
  end
  for _, c in ipairs(clients) do
    local info = c.server_info or {}
    health.ok(('%s %s, root %s'):format(info.name or 'orion-lsp', info.version or '', c.root_dir or '?'))
    local resp = client_mod.request_sync(c, 'workspace/executeCommand', {
      command = 'orion.status',
      arguments = { vim.empty_dict() },
    }, 5000)
    if not resp then
      health.warn('orion.status did not answer within 5 s')
    elseif resp.err then
      health.error(resp.err.message)
    else
      local s = resp.result or {}
      local schema = s.schemaVersion
      if schema == nil or schema == vim.NIL then
        health.error(('database %s is not usable (no schema)'):format(s.databasePath or '?'))
      else
        health.ok(('database %s, schema version %s'):format(s.databasePath or '?', tostring(schema)))
      end
      health.info(('model %s'):format(s.model or '?'))
    end
  end
end

--- Report one line of `orion doctor` output (`[ok  ] ...`, `[FAIL] ...`,
--- `[info] ...`) at its own level.
---@param line string
local function report_doctor_line(line)
  local tag, rest = line:match('^%[(%a+)%s*%]%s*(.*)$')
  tag = tag and tag:lower()
  if tag == 'ok' then
    health.ok(rest)
  elseif tag == 'fail' or tag == 'error' then
    health.error(rest)
  elseif tag == 'warn' then
    health.warn(rest)
  else
    health.info(rest or line)
  end
end

local function check_doctor()
  health.start('Orion doctor (database, model reachable, parsers)')
  local res = run(M.doctor_cmd(), M.doctor_env(), 60000)
  if not res then
    health.error('could not run `orion doctor`')
    return
  end
  if res.code == 124 or (res.signal and res.signal ~= 0) then
    health.error('`orion doctor` did not finish within 60 s')
    return
  end
  local lines = vim.split(res.stdout or '', '\n', { plain = true, trimempty = true })
  for _, l in ipairs(lines) do
    report_doctor_line(l)
  end
  if res.code == 0 then
    health.ok('database and model reachable')
    return
  end
  local what = ({ [1] = 'a check failed (model or tool)', [2] = 'usage error', [3] = 'storage error' })[res.code]
    or ('exit code ' .. res.code)
  local advice = {}
  if #lines == 0 then
    advice = vim.split(res.stderr or '', '\n', { plain = true, trimempty = true })
  end
  health.error(('`orion doctor`: %s'):format(what), advice)
end

function M.check()
  health.start('Orion')
  if vim.fn.has('nvim-0.10') == 1 then
    health.ok(('Neovim %s'):format(tostring(vim.version())))
  else
    health.error('Neovim >= 0.10 is required')
  end
  if check_server() then
    check_running()
    check_doctor()
  end
end

return M
