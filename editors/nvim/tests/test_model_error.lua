-- A model that cannot be reached fails the turn loudly but once: one
-- vim.notify at ERROR level starting `Orion model error:` (the server's
-- showMessage and the failed request carry the same text), the error in place
-- in the chat buffer, and a second failure is notified again.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.capture_notify()

local ws = H.workspace({ ['m.py'] = 'm = 1\n' })
-- Port 9 (discard) has no listener here: connection refused at once.
H.setup({ url = 'http://127.0.0.1:9/v1' }, H.tmpdir() .. '/orion.db')
local _, client = H.open(ws .. '/m.py')

local function model_errors()
  local out = {}
  for _, n in ipairs(H.notes) do
    if n.level == vim.log.levels.ERROR then
      table.insert(out, n.msg)
    end
  end
  return out
end

local function ask(prompt)
  local done
  require('orion').chat(prompt, {
    on_done = function(err)
      done = err or false
    end,
  })
  H.wait('the failed turn', function()
    return done ~= nil
  end, 60000)
  -- The server's showMessage may arrive just after the response.
  vim.wait(300)
  return done
end

H.run('model_error', {
  {
    'an unreachable model is one ERROR notification and an error in place',
    function()
      local err = ask('hello?')
      H.truthy(err, 'orion.chat must fail')
      H.eq(-32803, err.code, 'RequestFailed')
      H.truthy(vim.startswith(err.message, 'Orion model error:'), err.message)
      H.contains(err.message, '127.0.0.1:9', 'names the base URL')
      H.eq({ err.message }, model_errors(), 'exactly one notification')
      H.contains(H.text(H.chat_buf(client)), '**Error:** Orion model error:')
    end,
  },
  {
    'the same failure again is notified again',
    function()
      H.notes = {}
      local err = ask('hello again?')
      H.truthy(err, 'orion.chat must fail')
      H.eq({ err.message }, model_errors(), 'exactly one notification')
    end,
  },
})
