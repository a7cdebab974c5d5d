--- Workspace trust for the test command: asked once per workspace.
---
--- A workspace's `.orion/config.toml` may name a test command (`[eval]
--- test_command`) that the server runs after a turn when `on_turn_end` is
--- set. Running a command a cloned repository brought along is the user's
--- decision: the first time a server starts for such a workspace, Neovim
--- asks, remembers the answer for that folder (in `stdpath('data')`, never
--- in the workspace) and tells the server as the `workspaceTrusted`
--- setting. A workspace without a test command is never asked about.

local M = {}

---@return string
function M.store_path()
  return vim.fn.stdpath('data') .. '/orion/trusted-workspaces.json'
end

---@return table<string, boolean>
local function load()
  local f = io.open(M.store_path(), 'r')
  if not f then
    return {}
  end
  local text = f:read('*a')
  f:close()
  local ok, data = pcall(vim.json.decode, text)
  return (ok and type(data) == 'table') and data or {}
end

---@param data table<string, boolean>
local function save(data)
  vim.fn.mkdir(vim.fs.dirname(M.store_path()), 'p')
  local f = assert(io.open(M.store_path(), 'w'))
  f:write(vim.json.encode(data))
  f:close()
end

--- The test command the workspace's config names, if any (a light read: the
--- server parses the file properly; this only decides whether to ask).
---@param root string
---@return string?
function M.test_command(root)
  local f = io.open(root .. '/.orion/config.toml', 'r')
  if not f then
    return nil
  end
  local text = f:read('*a')
  f:close()
  local cmd = text:match('\n%s*test_command%s*=%s*"([^"\n]*)"') or text:match('^%s*test_command%s*=%s*"([^"\n]*)"')
    or text:match("\n%s*test_command%s*=%s*'([^'\n]*)'")
  return cmd
end

--- Ask the user (replaceable: `setup({ trust_prompt = function(root, command) ... end })`).
---@param root string
---@param command string
---@return boolean
function M.ask(root, command)
  local custom = require('orion.config').options.trust_prompt
  if type(custom) == 'function' then
    return custom(root, command) == true
  end
  local choice = vim.fn.confirm(
    ('Orion: %s wants to run its test command after turns:\n  %s\nTrust this workspace?'):format(root, command),
    '&Yes\n&No',
    2
  )
  return choice == 1
end

--- Whether the workspace at `root` is trusted, asking once when it has a test command.
---@param root string
---@return boolean
function M.for_root(root)
  root = vim.fs.normalize(vim.fn.resolve(root))
  local data = load()
  if data[root] ~= nil then
    return data[root] == true
  end
  local command = M.test_command(root)
  if not command then
    return false
  end
  local trusted = M.ask(root, command)
  data[root] = trusted
  save(data)
  return trusted
end

--- Forget the answer for a workspace (the next server start asks again).
---@param root string
function M.forget(root)
  local data = load()
  data[vim.fs.normalize(vim.fn.resolve(root))] = nil
  save(data)
end

return M
