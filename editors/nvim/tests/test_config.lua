-- Pure plugin logic, no server: the API key only travels in the server's
-- environment, settings are sent flat (docs/protocol.md#settings), tool lines.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.capture_notify()
local config = require('orion.config')

H.run('config', {
  {
    'the API key goes to the environment only, never to settings',
    function()
      config.set({
        python = '/opt/py/bin/python',
        api_key = function()
          return 'sk-test-123'
        end,
        settings = { model = 'openai/x', historyLimit = 5, apiKey = 'sk-leaked-456' },
        log_file = '/tmp/orion.log',
      })
      local cfg = config.client_config()
      H.eq('sk-test-123', cfg.cmd_env.ORION_API_KEY, 'env key')
      H.eq({ model = 'openai/x', historyLimit = 5 }, cfg.init_options, 'initializationOptions')
      H.eq({ orion = { model = 'openai/x', historyLimit = 5 } }, cfg.settings, 'configuration section')
      local sent = vim.json.encode({ cfg.init_options, cfg.settings })
      H.truthy(not sent:find('sk-', 1, true), 'no key in ' .. sent)
      H.eq({ '/opt/py/bin/python', '-m', 'orion_lsp', '--log-file', '/tmp/orion.log' }, cfg.cmd, 'cmd')
      vim.wait(50) -- the warning is scheduled
      H.truthy(H.find_note(vim.log.levels.WARN, 'not a setting'), 'warned about apiKey in settings')
    end,
  },
  {
    'a full cmd replaces python; the doctor gets settings as env unless env has them',
    function()
      config.set({ cmd = { 'orion-lsp' }, settings = { model = 'a/b', databasePath = '/x.db' }, env = { ORION_DB = '/y.db' } })
      H.eq({ 'orion-lsp' }, config.server_cmd())
      local env = require('orion.health').doctor_env()
      H.eq('a/b', env.ORION_MODEL, 'model from settings')
      H.eq('/y.db', env.ORION_DB, 'env wins over settings')
    end,
  },
  {
    'tool events render as one compact line',
    function()
      local line = require('orion.chat').tool_line
      H.eq('> → read_file a.py', line({ type = 'tool_call', name = 'read_file', summary = 'read_file a.py' }))
      H.eq('> → search', line({ type = 'tool_call', name = 'search' }))
      H.eq('> ✓ read_file: read a.py', line({ type = 'tool_result', name = 'read_file', ok = true, summary = 'read a.py' }))
      H.eq(
        '> ✗ edit_file: refused: read the file first',
        line({ type = 'tool_result', name = 'edit_file', ok = false, summary = 'refused:\nread the file first' })
      )
    end,
  },
})
