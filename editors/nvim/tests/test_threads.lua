-- Threads and rewind with the commands: a second thread (:OrionNew) never
-- sees the first one's messages, :OrionThreads switches back, :OrionRewind on
-- the turn under the cursor puts the file's buffer back (through Neovim's own
-- workspace/applyEdit handler, undoable) and takes the turn out of the
-- thread, :OrionForget deletes a thread.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.capture_notify()

local SOURCE = 'def add(a, b):\n    return a + b  # ünïcode 🙂\n'
local DOCSTRING = '    """Return the sum of a and b."""'
local model = H.model_server({
  replies = {
    { text = 'Alpha noted.' },
    { tool_calls = { { name = 'read_file', arguments = { path = 'calc.py' } } } },
    {
      tool_calls = {
        {
          name = 'edit_file',
          arguments = { path = 'calc.py', oldText = 'def add(a, b):\n', newText = 'def add(a, b):\n' .. DOCSTRING .. '\n' },
        },
      },
    },
    { text = 'Added a docstring.' },
    { text = 'Beta answer.' },
  },
})
local ws = H.workspace({ ['calc.py'] = SOURCE })
local db = H.tmpdir() .. '/orion.db'
H.setup(model, db)
local buf, client = H.open(ws .. '/calc.py')

--- Answer the next vim.ui.select with the item whose text contains `pick`.
local function choose(pick)
  vim.ui.select = function(items, opts, on_choice)
    for i, item in ipairs(items) do
      local text = opts.format_item and opts.format_item(item) or tostring(item)
      if text:find(pick, 1, true) then
        return on_choice(item, i)
      end
    end
    error(('no choice %q among %s'):format(pick, vim.inspect(items)))
  end
end

local function chat(prompt)
  vim.cmd('OrionChat ' .. prompt)
  H.wait_turn_done(client)
end

local function threads()
  return client:request_sync('workspace/executeCommand', { command = 'orion.threads', arguments = { vim.empty_dict() } }, 10000)
    .result.threads
end

H.run('threads', {
  {
    'a second thread never sees the first one',
    function()
      chat('Remember alpha')
      chat('Add a docstring to add')
      H.eq(DOCSTRING, H.lines(buf)[2], 'the turn edited the buffer')
      vim.cmd('OrionNew')
      H.wait('an empty new chat', function()
        return H.text(H.chat_buf(client)):find('new chat', 1, true) ~= nil
      end)
      chat('Beta question')
      local reqs = H.model_requests(model)
      local seen = vim.json.encode(reqs[#reqs].messages)
      H.contains(seen, 'Beta question', 'the new prompt')
      H.eq(nil, seen:find('alpha', 1, true), 'no message of the first thread: ' .. seen)
      H.eq(2, #threads(), 'two threads')
      H.eq('Beta question', threads()[1].title, 'the latest thread first')
    end,
  },
  {
    ':OrionThreads switches back; :OrionRewind on the editing turn restores the buffer',
    function()
      choose('Remember alpha')
      vim.cmd('OrionThreads')
      local cbuf = H.chat_buf(client)
      H.wait('the first thread in the chat buffer', function()
        return H.text(cbuf):find('Added a docstring.', 1, true) ~= nil
      end)
      H.eq(nil, H.text(cbuf):find('Beta', 1, true), 'only the first thread shown')
      H.contains(H.text(cbuf), '> changed calc.py', 'the turn says what it changed')
      -- The cursor on the docstring turn's answer, as a user would put it.
      local row
      for i, line in ipairs(H.lines(cbuf)) do
        if line == 'Added a docstring.' then
          row = i
        end
      end
      vim.api.nvim_set_current_buf(cbuf)
      vim.api.nvim_win_set_cursor(0, { row, 0 })
      -- A user's :OrionRewind comes after other commands: its change is an
      -- undo step of its own (headless, nothing typed, would join the two).
      vim.api.nvim_buf_call(buf, function()
        vim.cmd('let &undolevels = &undolevels')
      end)
      local asked
      vim.ui.select = function(items, opts, on_choice)
        asked = opts.prompt
        on_choice(items[1], 1)
      end
      vim.cmd('OrionRewind')
      H.wait('the buffer restored', function()
        return table.concat(H.lines(buf), '\n') .. '\n' == SOURCE
      end, 30000)
      H.contains(asked, 'calc.py', 'the confirmation names the file')
      H.wait('the turn gone from the chat buffer', function()
        return H.text(cbuf):find('Added a docstring.', 1, true) == nil
      end)
      H.contains(H.text(cbuf), 'Alpha noted.', 'the earlier turn stays')
      H.eq(SOURCE, H.read(ws .. '/calc.py'), 'the file on disk was never written')
      H.truthy(H.find_note(vim.log.levels.INFO, 'rewound 1 turn'), 'summary notified')
      -- Undo in the buffer brings the turn's version back (an ordinary change).
      vim.api.nvim_buf_call(buf, function()
        vim.cmd('silent undo')
      end)
      H.eq(DOCSTRING, H.lines(buf)[2], 'after undo')
    end,
  },
  {
    ':OrionForget deletes the thread shown, after asking',
    function()
      choose('Beta question')
      vim.cmd('OrionThreads')
      H.wait('the second thread shown', function()
        return H.text(H.chat_buf(client)):find('Beta answer.', 1, true) ~= nil
      end)
      choose('Forget')
      vim.cmd('OrionForget')
      H.wait('the thread deleted', function()
        return #threads() == 1
      end)
      H.eq('Remember alpha', threads()[1].title, 'the other thread stays')
      H.wait('the remaining thread shown', function()
        return H.text(H.chat_buf(client)):find('Alpha noted.', 1, true) ~= nil
      end)
      H.eq(nil, H.find_note(vim.log.levels.ERROR, ''), 'no error notification')
    end,
  },
})
