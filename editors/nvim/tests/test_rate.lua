-- Feedback: :OrionRate rates the answer under the cursor in the chat buffer
-- (or the last one), a second rating replaces the first, and the workspace's
-- test command is trusted only after the user said so, asked once per workspace.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.capture_notify()

local model = H.model_server({
  replies = {
    { text = 'First answer: add returns a + b.' },
    { text = 'Second answer, with ünïcödé 🚀.' },
  },
  default = { text = 'default reply' },
})
local ws = H.workspace({
  ['a.py'] = 'def add(a, b):\n    return a + b\n',
  ['.orion/config.toml'] = '[eval]\ntest_command = "python -m pytest -q"\non_turn_end = true\n',
})
local db = H.tmpdir() .. '/orion.db'
local asked = {}
H.setup(model, db, {
  trust_prompt = function(root, command)
    table.insert(asked, { root = root, command = command })
    return true
  end,
})

--- user_rating rows, read by another process.
local function ratings()
  local code = "import json,sqlite3,sys; print(json.dumps(sqlite3.connect(sys.argv[1]).execute("
    .. "\"SELECT turn_id, label, source, explanation FROM scores WHERE name='user_rating' ORDER BY id\").fetchall()))"
  local r = vim.system({ H.python, '-c', code, db }, { text = true }):wait()
  H.eq(0, r.code, 'reading the database: ' .. (r.stderr or ''))
  return vim.json.decode(r.stdout)
end

local function ask(prompt)
  local result
  require('orion').chat(prompt, {
    on_done = function(err, res)
      H.eq(nil, err, 'orion.chat error')
      result = res
    end,
  })
  H.wait('the turn', function()
    return result ~= nil
  end, 60000)
  return result
end

local src_buf, client, first, second

H.run('rate', {
  {
    'the workspace with a test command is asked about once, and the server is told',
    function()
      src_buf, client = H.open(ws .. '/a.py')
      H.eq(1, #asked, 'asked once')
      H.eq('python -m pytest -q', asked[1].command, 'the command shown')
      local status = client:request_sync('workspace/executeCommand', {
        command = 'orion.status',
        arguments = { vim.empty_dict() },
      }, 10000)
      H.eq(true, status.result.workspaceTrusted, 'server knows the workspace is trusted')
      -- A new server for the same workspace does not ask again.
      H.stop_all()
      vim.cmd('bwipeout! ' .. vim.fn.fnameescape(ws .. '/a.py'))
      src_buf, client = H.open(ws .. '/a.py')
      H.eq(1, #asked, 'not asked a second time')
      local again = client:request_sync('workspace/executeCommand', {
        command = 'orion.status',
        arguments = { vim.empty_dict() },
      }, 10000)
      H.eq(true, again.result.workspaceTrusted, 'the answer was remembered')
    end,
  },
  {
    ':OrionRate rates the answer under the cursor',
    function()
      first = ask('What does add do?').turnId
      second = ask('And again?').turnId
      local buf = H.chat_buf(client)
      vim.api.nvim_set_current_buf(buf)
      -- Put the cursor inside the first answer.
      local row
      for i, line in ipairs(H.lines(buf)) do
        if line:find('First answer', 1, true) then
          row = i
        end
      end
      H.truthy(row, 'first answer in the chat buffer')
      vim.api.nvim_win_set_cursor(0, { row, 0 })
      vim.cmd('OrionRate up')
      H.wait('the first rating', function()
        return #ratings() == 1
      end, 10000)
      H.eq({ { first, 'up', 'human', vim.NIL } }, ratings(), 'rated the first turn')
      H.wait('the confirmation', function()
        return H.find_note(vim.log.levels.INFO, 'rated ' .. first:sub(1, 8)) ~= nil
      end, 5000)
    end,
  },
  {
    'from the source buffer :OrionRate rates the last answer; a second rating replaces the first',
    function()
      vim.api.nvim_set_current_buf(src_buf)
      vim.cmd('OrionRate down not what I asked')
      H.wait('the second rating', function()
        return #ratings() == 2
      end, 10000)
      vim.cmd('OrionRate up changed my mind')
      H.wait('the replaced rating', function()
        local r = ratings()
        return #r == 2 and r[2][2] == 'up'
      end, 10000)
      H.eq({ { first, 'up', 'human', vim.NIL }, { second, 'up', 'human', 'changed my mind' } }, ratings(), 'rows')
      vim.cmd('OrionRate sideways')
      H.truthy(H.find_note(vim.log.levels.ERROR, 'usage: :OrionRate up|down'), 'usage error')
    end,
  },
})
