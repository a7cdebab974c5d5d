-- Sensitive paths are never edited silently. Neovim declares no change
-- annotations, so the server asks with window/showMessageRequest, which
-- Neovim's standard handler shows through vim.ui.select: Deny leaves the
-- buffer alone (and the model sees a refused edit), Allow applies it.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.capture_notify()

local function edit_env(new)
  return {
    name = 'edit_file',
    arguments = { path = '.env', oldText = 'DEBUG=0\n', newText = new },
  }
end
local model = H.model_server({
  replies = {
    { text = '', tool_calls = { { name = 'read_file', arguments = { path = '.env' } } } },
    { text = '', tool_calls = { edit_env('DEBUG=1\n') } },
    { text = 'I could not change it.' },
    { text = '', tool_calls = { { name = 'read_file', arguments = { path = '.env' } } } },
    { text = '', tool_calls = { edit_env('DEBUG=2\n') } },
    { text = 'Changed.' },
  },
})
local ws = H.workspace({ ['.env'] = 'DEBUG=0\n' })
H.setup(model, H.tmpdir() .. '/orion.db')
local env_buf, client = H.open(ws .. '/.env')

local asked = {}
local function answer_with(choice)
  vim.ui.select = function(items, opts, on_choice)
    table.insert(asked, opts.prompt)
    for _, item in ipairs(items) do
      if item.title == choice then
        return on_choice(item)
      end
    end
    on_choice(nil)
  end
end

H.run('sensitive', {
  {
    'Deny: no edit, the tool result says refused',
    function()
      answer_with('Deny')
      vim.cmd('OrionChat turn on debug')
      H.wait_turn_done(client)
      H.eq(1, #asked, 'asked once')
      H.contains(asked[1], '.env', 'the question names the file')
      H.eq({ 'DEBUG=0' }, H.lines(env_buf), 'buffer unchanged')
      local chat = H.text(H.chat_buf(client))
      H.contains(chat, '> ✗ edit_file', 'refused edit shown')
      H.contains(chat, 'I could not change it.')
    end,
  },
  {
    'Allow: the edit is applied to the buffer, not written',
    function()
      asked = {}
      answer_with('Allow')
      vim.cmd('OrionChat turn on debug, really')
      H.wait_turn_done(client)
      H.eq(1, #asked, 'asked once')
      H.eq({ 'DEBUG=2' }, H.lines(env_buf), 'buffer edited')
      H.eq('DEBUG=0\n', H.read(ws .. '/.env'), 'disk unchanged')
      H.contains(H.text(H.chat_buf(client)), 'Changed.')
    end,
  },
})
