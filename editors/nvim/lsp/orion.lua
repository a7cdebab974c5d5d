-- Neovim 0.11+ `vim.lsp.config` file: `vim.lsp.enable("orion")` starts the
-- Orion server for file buffers with the options last given to
-- require("orion").setup() (or the defaults). Override fields with
-- vim.lsp.config("orion", {...}) as for any server.
local config = require('orion.config')
local cfg = config.client_config()
cfg.root_dir = function(bufnr, on_dir)
  on_dir(config.root_dir(bufnr))
end
if config.options.filetypes then
  cfg.filetypes = config.options.filetypes
end
return cfg
