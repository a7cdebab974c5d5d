-- Chat: an answer streams into the markdown chat buffer piece by piece, tool
-- events show as lines, :OrionStatus reports the model, :OrionCancel stops a
-- turn that would otherwise never end.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.capture_notify()

local ANSWER = 'The function add returns the sum of its two arguments, a and b, without any checks.'

local model = H.model_server({
  replies = {
    -- turn 1: a tool call with text beside it, then a slow streamed answer
    { text = 'Let me look. ', tool_calls = { { name = 'read_file', arguments = { path = 'a.py' } } } },
    { text = ANSWER, chunk_delay_s = 0.03 },
    -- turn 2: streams one piece, then hangs until cancelled
    { text = 'Thinking very slowly about it', hang = true },
    -- turn 3: the range chat; turn 4: hangs until the server is killed
    { text = 'default reply' },
    { text = 'Still thinking', hang = true },
  },
  default = { text = 'default reply' },
})
local ws = H.workspace({ ['a.py'] = 'def add(a, b):\n    return a + b\n' })
local db = H.tmpdir() .. '/orion.db'
H.setup(model, db)
local src_buf, client = H.open(ws .. '/a.py')

H.run('chat', {
  {
    'answer streams into a markdown chat buffer with tool lines',
    function()
      -- Record every state of the buffer while the turn runs. Read inside on_lines
      -- (reading is allowed there), not in a scheduled callback: each chatDelta is
      -- its own buffer change whatever the machine's load, where a scheduled read
      -- would see several deltas at once when Neovim falls behind.
      local partials = {}
      local chat = require('orion.chat')
      vim.cmd('OrionChat What does add do?')
      local buf
      H.wait('the chat buffer', function()
        buf = H.chat_buf(client)
        return buf ~= nil
      end, 5000)
      vim.api.nvim_buf_attach(buf, false, {
        on_lines = function(_, b)
          table.insert(partials, H.text(b))
        end,
      })
      H.wait_turn_done(client)
      local text = H.text(buf)
      H.eq('markdown', vim.bo[buf].filetype, 'filetype')
      H.contains(text, '## You\nWhat does add do?', 'prompt shown')
      H.contains(text, '## Orion\nLet me look.', 'text beside the tool call')
      H.contains(text, '> → read_file', 'tool call line')
      H.contains(text, '> ✓ read_file', 'tool result line')
      H.contains(text, ANSWER, 'final answer')
      -- Streaming: some recorded state held only part of the answer.
      local partial_seen = 0
      for _, p in ipairs(partials) do
        if p:find(ANSWER:sub(1, 10), 1, true) and not p:find(ANSWER, 1, true) then
          partial_seen = partial_seen + 1
        end
      end
      H.truthy(partial_seen >= 3, 'answer arrived in several pieces (' .. partial_seen .. ' partial states)')
      -- The source buffer is untouched and no error was shown.
      H.eq({ 'def add(a, b):', '    return a + b' }, H.lines(src_buf), 'source buffer')
      H.eq(nil, H.find_note(vim.log.levels.ERROR, ''), 'no error notification')
      -- The buffer is a scratch buffer: never asks to be saved.
      H.eq('nofile', vim.bo[buf].buftype, 'buftype')
      H.eq(false, vim.bo[buf].modified, 'modified')
      H.truthy(chat.running(client.id) == nil, 'turn finished')
    end,
  },
  {
    ':OrionStatus reports model, database and schema',
    function()
      vim.cmd('OrionStatus')
      local note
      H.wait('the status notification', function()
        note = H.find_note(vim.log.levels.INFO, 'Database: ')
        return note ~= nil
      end, 10000)
      H.contains(note.msg, 'Model: openai/scripted')
      H.contains(note.msg, 'Database: ' .. db)
      H.truthy(note.msg:match('schema %d+'), 'schema version shown: ' .. note.msg)
      H.contains(note.msg, 'Project: ')
      -- The statusline helper shows the model of the buffer's server.
      vim.cmd.buffer(src_buf)
      H.contains(require('orion').statusline(), 'Orion openai/scripted', 'statusline')
    end,
  },
  {
    ':OrionCancel stops a running turn',
    function()
      vim.cmd.buffer(src_buf)
      vim.cmd('OrionChat Think about it forever')
      local buf = H.chat_buf(client)
      H.wait('the first streamed piece', function()
        return H.text(buf):find('Thinking', 1, true) ~= nil
      end, 30000)
      H.truthy(require('orion.chat').running(client.id), 'turn running')
      vim.cmd('OrionCancel')
      H.wait_turn_done(client, 15000)
      H.contains(H.text(buf), '_(cancelled)_', 'cancelled shown in place')
      H.eq(nil, H.find_note(vim.log.levels.ERROR, ''), 'a cancel is not an error')
    end,
  },
  {
    ':\'<,\'>OrionChat sends the file and the selection, unsaved text included',
    function()
      vim.cmd.buffer(src_buf)
      vim.api.nvim_buf_set_lines(src_buf, 1, 2, false, { '    return a - b  # unsaved' })
      local before = #H.model_requests(model)
      vim.cmd('1,2OrionChat Explain the selection')
      H.wait('the model request', function()
        return #H.model_requests(model) > before
      end, 30000)
      H.wait_turn_done(client)
      local reqs = H.model_requests(model)
      local system = reqs[#reqs].messages[1].content
      -- The server puts the active file and the selection in the system prompt.
      H.contains(system, 'return a - b  # unsaved', 'the open buffer, not the disk')
      H.contains(system, 'lines 1-2', 'the selected lines')
      H.contains(H.text(H.chat_buf(client)), 'default reply', 'answer')
    end,
  },
  {
    'a server that dies mid-turn closes the turn in place (last: kills the server)',
    function()
      vim.cmd('OrionChat One more question')
      local buf = H.chat_buf(client)
      H.wait('the first streamed piece', function()
        return H.text(buf):find('Still', 1, true) ~= nil
      end, 30000)
      client:stop(true)
      H.wait_turn_done(client, 15000)
      local text = H.text(H.chat_buf(client))
      H.contains(text, '\n\n**Error:** the Orion server stopped during the turn', 'closed in place')
      H.truthy(text:find('## You\nOne more question\n\n## Orion\nStill', 1, true), 'the partial answer stays')
      H.eq(nil, H.find_note(vim.log.levels.ERROR, 'Orion'), 'nothing the server said: no server error')
      -- A new turn is possible again (a new server starts for the project).
      H.eq(nil, require('orion.chat').running(client.id), 'no turn left running')
    end,
  },
})
