-- :checkhealth llmspell — Neovim version, the server command, the Python behind it, configuration.
local M = {}

local function run(cmd, timeout)
  local ok, obj = pcall(vim.system, cmd, { text = true })
  if not ok then
    return nil, tostring(obj)
  end
  local res = obj:wait(timeout or 10000)
  if res.code ~= 0 then
    return nil, vim.trim((res.stderr or '') .. (res.stdout or '')) .. (' (exit %s)'):format(res.code)
  end
  return vim.trim(res.stdout or ''), nil
end

--- The Python interpreter behind the server command: `python` setting, `cmd[1]` when it is a Python,
--- or the shebang of an llmspell-ls console script.
local function python_of(cfg, cmd)
  if cfg.python then
    return cfg.python
  end
  local exe = vim.fn.exepath(cmd[1])
  if exe == '' then
    return nil
  end
  if vim.fs.basename(exe):match('^python') then
    return exe
  end
  local f = io.open(exe, 'r')
  if not f then
    return nil
  end
  local first = f:read('*l') or ''
  f:close()
  local interp = first:match('^#!%s*(%S+)')
  if interp and vim.fs.basename(interp):match('^python') then
    return interp
  end
  return nil
end

function M.check()
  local llmspell = require('llmspell')
  local cfg = llmspell.config or llmspell.defaults

  vim.health.start('llmspell: Neovim')
  local v = vim.version()
  if vim.fn.has('nvim-0.11') == 1 then
    vim.health.ok(('Neovim %d.%d.%d (0.11+ needed)'):format(v.major, v.minor, v.patch))
  else
    vim.health.error(('Neovim %d.%d.%d is too old'):format(v.major, v.minor, v.patch), { 'Install Neovim 0.11 or newer' })
  end
  if llmspell.config then
    vim.health.ok('require("llmspell").setup() was called')
  else
    vim.health.warn('require("llmspell").setup() has not been called', { 'Call it from your config (see :help llmspell-setup)' })
  end

  vim.health.start('llmspell: server')
  local cmd = llmspell.resolve_cmd(cfg)
  local exe = vim.fn.exepath(cmd[1])
  if exe == '' then
    vim.health.error(('server command %q was not found'):format(cmd[1]), {
      'Install the server: pip install llmspell-ls',
      'Or set cmd = { "/path/to/llmspell-ls" } or python = "/path/to/python" in setup()',
    })
  else
    vim.health.ok(('server command: %s (%s)'):format(table.concat(cmd, ' '), exe))
    local version_cmd = vim.list_extend(vim.deepcopy(cmd), { '--version' })
    local out, err = run(version_cmd)
    if out then
      vim.health.ok('server answers: ' .. out)
    else
      vim.health.error('`' .. table.concat(version_cmd, ' ') .. '` failed: ' .. (err or '?'))
    end
  end
  local clients = vim.lsp.get_clients({ name = 'llmspell' })
  if #clients > 0 then
    for _, c in ipairs(clients) do
      local bufs = vim.tbl_count(c.attached_buffers or {})
      vim.health.ok(('client %d running (root %s, %d buffer(s) attached)'):format(c.id, c.root_dir or '-', bufs))
    end
  else
    vim.health.info('no llmspell-ls client is running (it starts when a ' .. table.concat(cfg.filetypes, '/') .. ' file opens)')
  end

  vim.health.start('llmspell: debugger')
  local dapmod = require('llmspell.dap')
  local dap = dapmod.nvim_dap()
  local kind = require('llmspell.debug').client_kind()
  if dap then
    local adapter = dap.adapters.llmspell
    if type(adapter) == 'table' then
      vim.health.ok(('nvim-dap is installed: adapter "llmspell" = %s %s'):format(adapter.command,
        table.concat(adapter.args or {}, ' ')))
    else
      vim.health.warn('nvim-dap is installed but has no "llmspell" adapter', { 'Call require("llmspell").setup()' })
    end
  else
    vim.health.warn('nvim-dap is not installed: :LlmspellDebug uses the built-in debug client', {
      'Optional: install mfussenegger/nvim-dap to debug spells with its UI; setup() then registers the adapter',
    })
  end
  vim.health.info(':LlmspellDebug uses ' .. (kind == 'nvim-dap' and 'nvim-dap' or 'the built-in client'))
  local dap_cmd = dapmod.adapter_cmd(cfg)
  if vim.fn.exepath(dap_cmd[1]) ~= '' then
    local help_cmd = vim.list_extend(vim.list_slice(dap_cmd, 1, #dap_cmd - 1), { '--help' })
    local help = run(help_cmd)
    if help and help:find('--dap', 1, true) then
      vim.health.ok('debug adapter: ' .. table.concat(dap_cmd, ' '))
    else
      vim.health.warn(('the server has no --dap mode (%s): :LlmspellDebug cannot start'):format(
        table.concat(help_cmd, ' ')), { 'Upgrade llmspell-ls: pip install -U llmspell-ls' })
    end
  end

  vim.health.start('llmspell: Python')
  local py = python_of(cfg, cmd)
  if not py then
    vim.health.warn('could not tell which Python runs the server', { 'Set python = "/path/to/python" in setup()' })
  else
    local out, err = run({ py, '-c', 'import sys, llmspell_ls; print(sys.version.split()[0], llmspell_ls.__file__)' })
    if out then
      local ver, where = out:match('^(%S+)%s+(.*)$')
      vim.health.ok(('Python %s (%s) has llmspell_ls at %s'):format(ver or out, py, where or '?'))
      if ver and vim.version.lt(ver, '3.11.0') then
        vim.health.error('Python ' .. ver .. ' is too old: llmspell-ls needs 3.11+')
      end
    else
      vim.health.error(('Python %s cannot import llmspell_ls: %s'):format(py, err or '?'), { 'pip install llmspell-ls' })
    end
  end

  vim.health.start('llmspell: configuration')
  if next(cfg.settings or {}) then
    vim.health.ok('initializationOptions: ' .. vim.inspect(cfg.settings, { newline = ' ', indent = '' }))
  else
    vim.health.info('no settings passed: llmspell.toml, LLMSPELL_* variables and the offline defaults apply')
  end
  local root = vim.fs.root(0, cfg.root_markers) or vim.fn.getcwd()
  local toml = vim.fs.joinpath(root, 'llmspell.toml')
  if vim.uv.fs_stat(toml) then
    local ok, err = pcall(function()
      local lines = vim.fn.readfile(toml)
      return #lines
    end)
    if ok then
      vim.health.ok('workspace configuration: ' .. toml)
    else
      vim.health.error('cannot read ' .. toml .. ': ' .. tostring(err))
    end
  else
    vim.health.info('no llmspell.toml in ' .. root .. ' (offline defaults: scripted provider, closed network)')
  end
  local env = {}
  for k, _ in pairs(vim.fn.environ()) do
    if k:match('^LLMSPELL_') then
      table.insert(env, k)
    end
  end
  table.sort(env)
  if #env > 0 then
    vim.health.info('environment overrides: ' .. table.concat(env, ', '))
  end
  local filetypes = table.concat(cfg.filetypes, ', ')
  vim.health.info(('filetypes: %s; root markers: %s'):format(filetypes, table.concat(cfg.root_markers, ', ')))
end

return M
