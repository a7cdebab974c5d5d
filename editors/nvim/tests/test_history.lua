-- History: a conversation survives a server restart (same ORION_DB), shows in
-- :OrionHistory and in a new chat buffer, and is the same history the
-- `orion history` CLI prints for the project.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.capture_notify()

local model = H.model_server({
  replies = {
    { text = 'Noted: the secret number is 42.' },
    { text = 'It was 42.' },
  },
})
local ws = H.workspace({ ['main.py'] = 'print("hi")\n' })
local db = H.tmpdir() .. '/orion.db'
H.setup(model, db)

local project_id

H.run('history', {
  {
    'a turn is stored',
    function()
      local _, client = H.open(ws .. '/main.py')
      local result
      require('orion').chat('Remember the number 42', {
        on_done = function(err, res)
          H.eq(nil, err, 'orion.chat error')
          result = res
        end,
      })
      H.wait('the turn', function()
        return result ~= nil
      end, 60000)
      H.eq('completed', result.status, 'status')
      H.eq('Noted: the secret number is 42.', result.answer, 'answer')
      project_id = result.projectId
      H.truthy(type(project_id) == 'string' and project_id ~= '', 'projectId')
      H.contains(H.text(H.chat_buf(client)), 'Noted: the secret number is 42.')
    end,
  },
  {
    'after a restart, :OrionHistory shows the stored conversation',
    function()
      H.stop_all()
      -- Drop the old chat buffer: what shows now must come from the server.
      for _, b in ipairs(vim.api.nvim_list_bufs()) do
        if vim.b[b].orion_root then
          vim.api.nvim_buf_delete(b, { force = true })
        end
      end
      vim.cmd('bwipeout! ' .. vim.fn.fnameescape(ws .. '/main.py'))
      local _, client = H.open(ws .. '/main.py')
      vim.cmd('OrionHistory')
      local buf
      H.wait('the history in the chat buffer', function()
        buf = H.chat_buf(client)
        return buf ~= nil and H.text(buf):find('42.', 1, true) ~= nil
      end, 20000)
      local text = H.text(buf)
      H.contains(text, '# Orion: ' .. project_id, 'project header')
      H.contains(text, '## You\nRemember the number 42\n\n## Orion\nNoted: the secret number is 42.')
      H.eq('markdown', vim.bo[buf].filetype)
    end,
  },
  {
    'a new chat continues the same history (model sees it) and the CLI agrees',
    function()
      local client = require('orion.client').for_buffer()
      local done
      vim.cmd('OrionChat What was the number?')
      H.wait('the second turn', function()
        done = H.text(H.chat_buf(client)):find('It was 42.', 1, true)
        return done ~= nil and require('orion.chat').running(client.id) == nil
      end, 60000)
      -- The second model request carried the first turn from the database.
      local reqs = H.model_requests(model)
      local last = reqs[#reqs]
      local seen = vim.json.encode(last.messages)
      H.contains(seen, 'Remember the number 42', 'history sent to the model')
      -- `orion history --json` prints the same messages, oldest first.
      local cli = vim
        .system({
          H.python,
          '-c',
          'import sys; from orion_lsp.cli import main; sys.exit(main(sys.argv[1:]))',
          'history',
          '--project-id',
          project_id,
          '--json',
        }, { text = true, env = { ORION_DB = db } })
        :wait(30000)
      H.eq(0, cli.code, 'orion history exit code (stderr: ' .. tostring(cli.stderr) .. ')')
      local out = vim.json.decode(cli.stdout)
      local got = {}
      for _, m in ipairs(out.messages) do
        table.insert(got, m.role .. ': ' .. m.content)
      end
      H.eq({
        'user: Remember the number 42',
        'assistant: Noted: the secret number is 42.',
        'user: What was the number?',
        'assistant: It was 42.',
      }, got, 'CLI history')
      -- And the editor's chat buffer shows the same four messages in order.
      local text = H.text(H.chat_buf(client))
      local a = text:find('Remember the number 42', 1, true)
      local b = text:find('Noted: the secret number is 42.', 1, true)
      local c = text:find('What was the number?', 1, true)
      local d = text:find('It was 42.', 1, true)
      H.truthy(a and b and c and d and a < b and b < c and c < d, 'order in the chat buffer')
    end,
  },
  {
    ':OrionHistory N shows the last N messages',
    function()
      local client = require('orion.client').for_buffer()
      local buf = H.chat_buf(client)
      vim.cmd('OrionHistory 2')
      H.wait('the shorter history', function()
        return not H.text(buf):find('Remember the number 42', 1, true)
      end, 20000)
      local text = H.text(buf)
      H.contains(text, '## You\nWhat was the number?\n\n## Orion\nIt was 42.')
    end,
  },
})
