-- Orion: define the user commands at startup without loading the plugin's
-- modules (each command requires them when run). The server starts only after
-- require("orion").setup({...}), or on 0.11+ via vim.lsp.enable("orion").
if vim.g.loaded_orion then
  return
end
vim.g.loaded_orion = true

if vim.fn.has('nvim-0.10') == 0 then
  vim.notify('orion.nvim needs Neovim >= 0.10', vim.log.levels.ERROR)
  return
end

require('orion').create_commands()
