-- Each workspace folder is one project: two folders open in one Neovim get
-- their own server, their own chat buffer and their own history.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.capture_notify()

local model = H.model_server({
  replies = { { text = 'Answer for alpha.' }, { text = 'Answer for beta.' } },
})
local alpha = H.workspace({ ['a.py'] = 'a = 1\n' })
local beta = H.workspace({ ['b.py'] = 'b = 2\n' })
H.setup(model, H.tmpdir() .. '/orion.db')

H.run('projects', {
  {
    'two folders, two projects, separate chats and histories',
    function()
      local _, ca = H.open(alpha .. '/a.py')
      vim.cmd('OrionChat question from alpha')
      H.wait_turn_done(ca)
      local _, cb = H.open(beta .. '/b.py')
      H.truthy(ca.id ~= cb.id, 'one client per workspace root')
      H.eq(beta, cb.root_dir, 'beta root')
      vim.cmd('OrionChat question from beta')
      H.wait_turn_done(cb)
      local ta, tb = H.text(H.chat_buf(ca)), H.text(H.chat_buf(cb))
      H.truthy(H.chat_buf(ca) ~= H.chat_buf(cb), 'one chat buffer per project')
      H.contains(ta, 'Answer for alpha.')
      H.contains(tb, 'Answer for beta.')
      H.truthy(not ta:find('beta', 1, true), 'alpha chat has nothing of beta:\n' .. ta)
      H.truthy(not tb:find('alpha', 1, true), 'beta chat has nothing of alpha:\n' .. tb)
      -- The stored histories are separate too (same database file).
      vim.cmd.edit(vim.fn.fnameescape(beta .. '/b.py'))
      local tick = vim.b[H.chat_buf(cb)].changedtick
      vim.cmd('OrionHistory')
      H.wait('beta history', function()
        return vim.b[H.chat_buf(cb)].changedtick ~= tick
      end, 10000)
      tb = H.text(H.chat_buf(cb))
      H.contains(tb, 'question from beta')
      H.truthy(not tb:find('question from alpha', 1, true), 'beta history:\n' .. tb)
    end,
  },
})
