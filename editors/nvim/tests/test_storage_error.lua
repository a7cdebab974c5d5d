-- Storage errors are loud: with ORION_DB pointing at a file that is not a
-- database, the server still starts, the user sees `Orion storage error: ...`
-- through vim.notify at ERROR level, :OrionChat fails in place with the same
-- text, and the file is left exactly as it was.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.capture_notify()

local model = H.model_server({ replies = { { text = 'should never be asked' } } })
local ws = H.workspace({ ['x.py'] = 'x = 1\n' })
local db = H.tmpdir() .. '/not-a-database.db'
local GARBAGE = string.rep('this is not an SQLite database\n', 200)
H.write(db, GARBAGE)
H.setup(model, db)

local function storage_errors()
  local out = {}
  for _, n in ipairs(H.notes) do
    if n.level == vim.log.levels.ERROR and n.msg:find('Orion storage error:', 1, true) then
      table.insert(out, n.msg)
    end
  end
  return out
end

H.run('storage_error', {
  {
    'the server starts and shows the storage error as an ERROR notification',
    function()
      local _, client = H.open(ws .. '/x.py')
      H.truthy(client.initialized, 'initialize succeeded')
      H.wait('a storage error notification', function()
        return #storage_errors() > 0
      end, 15000)
      H.contains(storage_errors()[1], db, 'the message names the database path')
    end,
  },
  {
    ':OrionChat fails with the storage error, shown in place and notified',
    function()
      H.notes = {}
      local client = require('orion.client').for_buffer()
      local err
      require('orion').chat('hello?', {
        on_done = function(e)
          err = e or false
        end,
      })
      H.wait('the failed turn', function()
        return err ~= nil
      end, 30000)
      H.truthy(err, 'orion.chat must fail')
      H.eq(-32803, err.code, 'RequestFailed')
      H.truthy(vim.startswith(err.message, 'Orion storage error:'), 'message: ' .. err.message)
      local errors = storage_errors()
      H.truthy(#errors >= 1, 'vim.notify ERROR with the storage error')
      H.eq(err.message, errors[#errors], 'the notification carries the same text')
      H.contains(H.text(H.chat_buf(client)), '**Error:** Orion storage error:', 'error in the chat buffer')
      H.eq(0, #H.model_requests(model), 'no model call after a storage error')
      H.eq(GARBAGE, H.read(db), 'the file is never overwritten')
    end,
  },
})
