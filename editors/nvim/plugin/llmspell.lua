-- Commands exist as soon as the plugin is on 'runtimepath' (lazy.nvim, packadd); the language
-- server is configured by require('llmspell').setup({...}).
if vim.g.loaded_llmspell then
  return
end
vim.g.loaded_llmspell = true

vim.api.nvim_create_user_command('LlmspellRun', function()
  require('llmspell').run()
end, { desc = 'Run the current spell with llmspell-ls' })

vim.api.nvim_create_user_command('LlmspellCancel', function(args)
  require('llmspell').cancel({ run_id = args.args ~= '' and args.args or nil })
end, { nargs = '?', desc = 'Cancel the running spell (or the run with the given id)' })

vim.api.nvim_create_user_command('LlmspellOutput', function()
  require('llmspell').output()
end, { desc = 'Show the run buffer of the current spell' })
