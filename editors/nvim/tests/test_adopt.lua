-- A turn the chat buffer did not start (here: orion.chat sent as a bare
-- workspace/executeCommand, as a code action whose command runs on the server
-- would) still streams into the project's chat buffer under its own heading.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.capture_notify()

local model = H.model_server({ replies = { { text = 'An answer nobody in the chat asked for.' } } })
local ws = H.workspace({ ['z.py'] = 'z = 0\n' })
H.setup(model, H.tmpdir() .. '/orion.db')
local buf, client = H.open(ws .. '/z.py')

H.run('adopt', {
  {
    'notifications of a foreign turn are shown',
    function()
      local done
      client:request('workspace/executeCommand', {
        command = 'orion.chat',
        arguments = { { prompt = 'from elsewhere', uri = vim.uri_from_bufnr(buf) } },
      }, function(err, result)
        done = { err = err, result = result }
      end)
      H.wait('the response', function()
        return done ~= nil
      end, 60000)
      H.eq(nil, done.err, 'error')
      local chat = H.chat_buf(client)
      H.truthy(chat, 'a chat buffer was opened')
      local text = H.text(chat)
      H.contains(text, '## Orion\nAn answer nobody in the chat asked for.')
      H.eq(nil, require('orion.chat').running(client.id), 'closed by turnEnd')
    end,
  },
})
