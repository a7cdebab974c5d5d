-- :checkhealth orion reports the server and its version, the database path
-- and schema, and whether the model answers; and says clearly when the server
-- cannot be found.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.capture_notify()

local model = H.model_server({ default = { text = 'pong' } })
local ws = H.workspace({ ['h.py'] = 'h = 1\n' })
local db = H.tmpdir() .. '/orion.db'

local function checkhealth()
  vim.cmd('checkhealth orion')
  local text = H.text(vim.api.nvim_get_current_buf())
  vim.cmd('bwipeout!')
  return text
end

H.run('health', {
  {
    'a working setup is reported OK',
    function()
      H.setup(model, db)
      H.open(ws .. '/h.py')
      local text = checkhealth()
      H.contains(text, 'OK orion_lsp importable, version')
      H.contains(text, 'OK database ' .. db .. ', schema version')
      H.contains(text, 'OK database and model reachable')
      H.truthy(not text:find('ERROR', 1, true), 'no ERROR in:\n' .. text)
    end,
  },
  {
    'an unreachable model is an error',
    function()
      H.stop_all()
      -- Nothing listens on port 9 (discard): the model call must fail.
      H.setup({ url = 'http://127.0.0.1:9/v1' }, db)
      local text = checkhealth()
      H.contains(text, 'ERROR `orion doctor`')
    end,
  },
  {
    'a missing interpreter is an error with advice',
    function()
      H.setup(model, db, { python = '/nonexistent/bin/python' })
      local text = checkhealth()
      H.contains(text, 'ERROR server command not found: /nonexistent/bin/python')
      H.contains(text, 'setup({ python =')
    end,
  },
})
