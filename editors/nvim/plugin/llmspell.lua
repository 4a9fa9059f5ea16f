-- Commands exist as soon as the plugin is on 'runtimepath' (lazy.nvim, packadd); the language
-- server is configured by require('llmspell').setup({...}).
if vim.g.loaded_llmspell then
  return
end
vim.g.loaded_llmspell = true
require('llmspell').create_commands()
