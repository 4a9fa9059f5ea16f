-- Loads only this plugin: nvim --headless --clean -u tests/minimal_init.lua
local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h:h')
vim.opt.rtp:prepend(vim.env.PLUGIN_DIR or here)
vim.opt.swapfile = false
vim.opt.shadafile = 'NONE'
vim.cmd('filetype on')
vim.cmd('runtime plugin/llmspell.lua')
