-- Code actions come from the server through vim.lsp.buf.code_action(); the
-- chosen action runs a turn (streamed into the chat buffer) whose edit reaches
-- the buffer as workspace/applyEdit through Neovim's standard handler: the
-- buffer changes, the file on disk does not, and one `u` undoes it.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.capture_notify()

local SOURCE = 'def add(a, b):\n    return a + b\n'
local model = H.model_server({
  replies = {
    { text = 'Reading the file. ', tool_calls = { { name = 'read_file', arguments = { path = 'calc.py' } } } },
    {
      text = 'Adding the docstring. ',
      tool_calls = {
        {
          name = 'edit_file',
          arguments = {
            path = 'calc.py',
            oldText = 'def add(a, b):\n',
            newText = 'def add(a, b):\n    """Return the sum of a and b."""\n',
          },
        },
      },
    },
    { text = 'Done: add() has a docstring now.' },
  },
})
local ws = H.workspace({ ['calc.py'] = SOURCE })
local db = H.tmpdir() .. '/orion.db'
H.setup(model, db)
local buf, client = H.open(ws .. '/calc.py')

--- The server's code actions for a range (synchronously, as a user would see them).
local function actions_at(start_line, end_line)
  local params = vim.lsp.util.make_given_range_params({ start_line, 0 }, { end_line, 0 }, buf, 'utf-16')
  params.context = { diagnostics = {} }
  local resp = client:request_sync('textDocument/codeAction', params, 10000, buf)
  return resp and resp.result or {}, resp and resp.err
end

H.run('code_action', {
  {
    'the server lists Orion code actions without calling the model',
    function()
      if not client.server_capabilities.codeActionProvider then
        error(H.skip('the server does not offer code actions yet (no codeActionProvider)'))
      end
      local actions, err = actions_at(1, 2)
      H.eq(nil, err, 'codeAction error')
      local titles = {}
      for _, a in ipairs(actions) do
        table.insert(titles, a.title)
      end
      H.truthy(vim.tbl_contains(titles, 'Orion: Add docstring'), 'titles: ' .. vim.inspect(titles))
      H.truthy(vim.tbl_contains(titles, 'Orion: Explain this'), 'titles: ' .. vim.inspect(titles))
      H.eq(0, #H.model_requests(model), 'no model call to list actions')
    end,
  },
  {
    "'Orion: Add docstring' applies its edit to the buffer",
    function()
      if not client.server_capabilities.codeActionProvider then
        error(H.skip('the server does not offer code actions yet (no codeActionProvider)'))
      end
      vim.api.nvim_win_set_cursor(0, { 1, 4 })
      -- What a user does: code_action() and pick the entry in vim.ui.select.
      local offered
      vim.ui.select = function(items, opts, on_choice)
        offered = {}
        for i, item in ipairs(items) do
          local title = opts.format_item and opts.format_item(item) or tostring(item)
          table.insert(offered, title)
          if title:find('Add docstring', 1, true) then
            return on_choice(item, i)
          end
        end
        on_choice(nil, nil)
      end
      vim.lsp.buf.code_action()
      H.wait('the docstring edit in the buffer', function()
        return H.lines(buf)[2] == '    """Return the sum of a and b."""'
      end, 60000)
      H.wait_turn_done(client)
      H.eq({ 'def add(a, b):', '    """Return the sum of a and b."""', '    return a + b' }, H.lines(buf))
      -- The server never writes the file: only the editor buffer changed.
      H.eq(SOURCE, H.read(ws .. '/calc.py'), 'file on disk')
      H.truthy(vim.bo[buf].modified, 'buffer modified')
      local chat = H.text(H.chat_buf(client))
      H.contains(chat, '## You\nOrion: Add docstring\n', 'the action title as the question')
      H.contains(chat, '> ✓ edit_file', 'tool result line')
      H.contains(chat, 'Done: add() has a docstring now.', 'streamed answer')
      H.contains(chat, '> edit calc.py: applied', 'edit reported')
      -- One undo step restores the original (the edit is an ordinary change).
      vim.api.nvim_buf_call(buf, function()
        vim.cmd('silent undo')
      end)
      H.eq({ 'def add(a, b):', '    return a + b' }, H.lines(buf), 'after undo')
      H.eq(nil, H.find_note(vim.log.levels.ERROR, ''), 'no error notification')
    end,
  },
})
