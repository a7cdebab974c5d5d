-- Neovim 0.11 style: without setup(), `vim.lsp.enable("orion")` finds the
-- plugin's lsp/orion.lua on 'runtimepath' and attaches the server to a file.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.capture_notify()

local ws = H.workspace({ ['e.py'] = 'e = 1\n' })
local db = H.tmpdir() .. '/orion.db'

H.run('lsp_enable', {
  {
    'vim.lsp.enable attaches with the workspace root',
    function()
      if vim.fn.has('nvim-0.11') == 0 then
        error(H.skip('vim.lsp.enable needs Neovim 0.11'))
      end
      -- Options still come from orion.config (here without autostart).
      require('orion.config').set({
        python = H.python,
        env = { ORION_DB = db, ORION_MODEL = 'openai/scripted' },
      })
      vim.lsp.enable('orion')
      local _, client = H.open(ws .. '/e.py')
      H.eq(ws, client.root_dir, 'root_dir')
      H.eq(ws, vim.uri_to_fname(client.workspace_folders[1].uri), 'workspace folder')
      H.truthy(client.server_capabilities.executeCommandProvider, 'executeCommandProvider')
      local cmds = client.server_capabilities.executeCommandProvider.commands or {}
      for _, c in ipairs({ 'orion.chat', 'orion.history', 'orion.status', 'orion.cancel' }) do
        H.truthy(vim.tbl_contains(cmds, c), c .. ' in ' .. vim.inspect(cmds))
      end
    end,
  },
})
