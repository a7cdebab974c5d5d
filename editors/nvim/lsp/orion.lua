-- Neovim 0.11+ `vim.lsp.config` file: `vim.lsp.enable("orion")` starts the
-- Orion server for file buffers with the options last given to
-- require("orion").setup() (or the defaults). Override fields with
-- vim.lsp.config("orion", {...}) as for any server.
local config = require('orion.config')
local cfg = config.client_config()
cfg.root_dir = function(bufnr, on_dir)
  -- No file, no workspace: an unnamed buffer (Neovim's first, empty one)
  -- would otherwise start a server rooted at the cwd and keep it attached
  -- when that buffer is reused for the first :edit.
  if vim.api.nvim_buf_get_name(bufnr) == '' then
    return
  end
  on_dir(config.root_dir(bufnr))
end
if config.options.filetypes then
  cfg.filetypes = config.options.filetypes
end
return cfg
