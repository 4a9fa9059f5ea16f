-- llmspell.nvim: Neovim 0.11+ client for llmspell-ls (completion, diagnostics, "Run spell" code
-- lenses) plus live spell runs: each run streams printed output, events, hook results and the
-- final status into a scratch buffer, and its progress arrives as LspProgress.
local fmt = require('llmspell.format')

local M = {}

M.defaults = {
  --- Full server command; nil = { python, '-m', 'llmspell_ls' } when `python` is set, else { 'llmspell-ls' }.
  cmd = nil,
  --- Python interpreter that has llmspell-ls installed (used when `cmd` is nil).
  python = nil,
  filetypes = { 'lua', 'javascript' },
  root_markers = { 'llmspell.toml', '.git' },
  --- Server configuration sent as initializationOptions; keys of llmspell.config.RuntimeConfig:
  --- default_model, security = { allowed_paths, network_allow, allow_private_network, process_allow },
  --- limits = { wall_time_s, max_memory_mb, instruction_budget }.
  settings = {},
  --- Refresh code lenses on attach, enter, leaving insert mode and writes.
  codelens = true,
  --- Set 'omnifunc' to the LSP omnifunc in spell buffers (<C-x><C-o>); autotrigger uses vim.lsp.completion.
  completion = { omnifunc = true, autotrigger = false },
  run = {
    --- Where the run buffer opens when a run starts: 'split', 'vsplit', 'tab' or false (don't open).
    open = 'split',
    height = 12,
    --- Move the cursor into the run buffer when it opens.
    focus = false,
    --- Write modified spell buffers before running them.
    save = true,
    show_events = true,
    --- vim.notify when a run ends ('all', 'failures' or 'none').
    notify = 'failures',
  },
  --- Echo LspProgress messages of llmspell runs in the command line.
  progress = true,
  --- Called as on_attach(client, bufnr) after the plugin's own attach logic.
  on_attach = nil,
  debug = {
    --- 'auto': nvim-dap when installed, else the built-in client; 'builtin': always the built-in one.
    client = 'auto',
    --- Ask the server for the "Debug spell" code lens beside "Run spell".
    lens = true,
    --- Height of the built-in client's llmspell://debug panel.
    height = 14,
  },
}

M.config = nil
--- runId -> { id, uri, name, bufnr (run buffer), status, started (os.time), lines }
M.runs = {}
--- Run ids in start order.
M.order = {}
--- Progress token -> { title, message, percentage, done }
M.progress = {}
--- Every llmspell/* notification kind received, counted (handy for :checkhealth and tests).
M.stats = { runStarted = 0, output = 0, event = 0, hookResult = 0, runFinished = 0, progress = 0 }

local NAME = 'llmspell'
local group = vim.api.nvim_create_augroup('llmspell', { clear = true })

function M.resolve_cmd(cfg)
  cfg = cfg or M.config or M.defaults
  if cfg.cmd then
    return type(cfg.cmd) == 'string' and { cfg.cmd } or cfg.cmd
  end
  if cfg.python then
    return { cfg.python, '-m', 'llmspell_ls' }
  end
  return { 'llmspell-ls' }
end

local function notify(msg, level)
  vim.schedule(function()
    vim.notify('llmspell: ' .. msg, level or vim.log.levels.INFO)
  end)
end

function M.client(bufnr)
  local clients = vim.lsp.get_clients({ name = NAME, bufnr = bufnr })
  if #clients == 0 and bufnr then
    clients = vim.lsp.get_clients({ name = NAME })
  end
  return clients[1]
end

-- Run buffers ---------------------------------------------------------------------------------

local function run_buffer(uri)
  local name = 'llmspell://run/' .. (vim.uri_to_fname(uri or 'file:///spell'))
  local bufnr = vim.fn.bufnr('^' .. vim.fn.escape(name, '\\^$.*~[]') .. '$')
  if bufnr == -1 or not vim.api.nvim_buf_is_valid(bufnr) then
    bufnr = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(bufnr, name)
    vim.bo[bufnr].buftype = 'nofile'
    vim.bo[bufnr].bufhidden = 'hide'
    vim.bo[bufnr].swapfile = false
    vim.bo[bufnr].filetype = 'llmspell-run'
    vim.bo[bufnr].modifiable = false
    vim.keymap.set('n', 'q', '<cmd>close<cr>', { buffer = bufnr, desc = 'Close the llmspell run buffer' })
    vim.keymap.set('n', '<C-c>', function()
      M.cancel({ bufnr = bufnr })
    end, { buffer = bufnr, desc = 'Cancel the llmspell run' })
  end
  return bufnr
end

local function with_modifiable(bufnr, fn)
  vim.bo[bufnr].modifiable = true
  local ok, err = pcall(fn)
  vim.bo[bufnr].modifiable = false
  if not ok then
    error(err)
  end
end

local function scroll_to_end(bufnr)
  local last = vim.api.nvim_buf_line_count(bufnr)
  for _, win in ipairs(vim.fn.win_findbuf(bufnr)) do
    pcall(vim.api.nvim_win_set_cursor, win, { last, 0 })
  end
end

--- Append text; `partial` tracks whether the last line is still open (printed text without "\n").
local function append(run, text, as_line)
  local bufnr = run.bufnr
  if not (bufnr and vim.api.nvim_buf_is_valid(bufnr)) then
    return
  end
  local parts = vim.split(text, '\n', { plain = true })
  with_modifiable(bufnr, function()
    if as_line then
      if run.partial then
        run.partial = false
      end
      vim.api.nvim_buf_set_lines(bufnr, -1, -1, false, parts)
    else
      local ends_open = parts[#parts] ~= ''
      if not ends_open then
        table.remove(parts)
      end
      if #parts > 0 then
        if run.partial then
          local last = vim.api.nvim_buf_get_lines(bufnr, -2, -1, false)[1] or ''
          vim.api.nvim_buf_set_lines(bufnr, -2, -1, false, { last .. parts[1] })
          table.remove(parts, 1)
        end
        vim.api.nvim_buf_set_lines(bufnr, -1, -1, false, parts)
      end
      run.partial = ends_open
    end
  end)
  run.lines = vim.api.nvim_buf_line_count(bufnr)
  scroll_to_end(bufnr)
end

local function show_buffer(bufnr, how, focus)
  if #vim.fn.win_findbuf(bufnr) > 0 then
    if focus then
      vim.api.nvim_set_current_win(vim.fn.win_findbuf(bufnr)[1])
    end
    return
  end
  local cur = vim.api.nvim_get_current_win()
  local cfg = (M.config or M.defaults).run
  if how == 'vsplit' then
    vim.cmd('botright vsplit')
  elseif how == 'tab' then
    vim.cmd('tabnew')
  else
    vim.cmd(('botright %dsplit'):format(cfg.height or 12))
  end
  local win = vim.api.nvim_get_current_win()
  vim.api.nvim_win_set_buf(win, bufnr)
  vim.wo[win].number = false
  vim.wo[win].relativenumber = false
  vim.wo[win].wrap = true
  vim.wo[win].winfixheight = true
  scroll_to_end(bufnr)
  if not focus and vim.api.nvim_win_is_valid(cur) then
    vim.api.nvim_set_current_win(cur)
  end
end

--- Get or create the record of a run (notifications may precede the executeCommand reply).
local function touch(id, uri)
  local run = M.runs[id]
  if not run then
    run = { id = id, status = 'running', started = os.time(), lines = 0 }
    M.runs[id] = run
    table.insert(M.order, id)
  end
  if uri and not run.uri then
    run.uri = uri
    run.name = fmt.basename(uri)
  end
  return run
end

--- The first line of a run's buffer (written when the buffer opens, rewritten once runStarted says more).
local function header(run)
  return fmt.started({ runId = run.id, uri = run.uri, language = run.language }, run.started)
end

local function begin_run(run)
  if run.bufnr then
    return
  end
  run.bufnr = run_buffer(run.uri)
  vim.b[run.bufnr].llmspell_run_id = run.id
  vim.b[run.bufnr].llmspell_status = 'running'
  with_modifiable(run.bufnr, function()
    vim.api.nvim_buf_set_lines(run.bufnr, 0, -1, false, { header(run) })
  end)
  local cfg = (M.config or M.defaults).run
  if cfg.open then
    show_buffer(run.bufnr, cfg.open, cfg.focus)
  end
end

-- Notification handlers --------------------------------------------------------------------------

--- The run a notification is about, with its buffer open (output may arrive before runStarted).
local function run_of(p)
  local run = touch(fmt.run_id(p))
  begin_run(run)
  return run
end

M.handlers = {}

M.handlers['llmspell/runStarted'] = function(_, p)
  M.stats.runStarted = M.stats.runStarted + 1
  local run = touch(fmt.run_id(p), p.uri or (type(p.file) == 'string' and vim.uri_from_fname(p.file) or nil))
  run.language = p.language
  if run.bufnr and vim.api.nvim_buf_is_valid(run.bufnr) then
    -- The executeCommand reply may have opened the buffer first; complete its header.
    with_modifiable(run.bufnr, function()
      vim.api.nvim_buf_set_lines(run.bufnr, 0, 1, false, { header(run) })
    end)
  end
  begin_run(run)
end

M.handlers['llmspell/output'] = function(_, p)
  M.stats.output = M.stats.output + 1
  local run = run_of(p)
  local text = p.text or ''
  if p.stream == 'stderr' then
    text = text:gsub('([^\n]+)', '[stderr] %1')
  end
  append(run, text, false)
end

M.handlers['llmspell/event'] = function(_, p)
  M.stats.event = M.stats.event + 1
  if not (M.config or M.defaults).run.show_events then
    return
  end
  local run = run_of(p)
  append(run, fmt.event(p), true)
end

M.handlers['llmspell/hookResult'] = function(_, p)
  M.stats.hookResult = M.stats.hookResult + 1
  local run = run_of(p)
  append(run, fmt.hook_result(p), true)
end

M.handlers['llmspell/runFinished'] = function(_, p)
  M.stats.runFinished = M.stats.runFinished + 1
  local run = run_of(p)
  run.status = type(p.status) == 'string' and p.status or 'unknown'
  run.result = p
  local lines = fmt.finished(p)
  append(run, table.concat(lines, '\n'), true)
  if vim.api.nvim_buf_is_valid(run.bufnr) then
    vim.b[run.bufnr].llmspell_status = run.status
  end
  local mode = (M.config or M.defaults).run.notify
  if mode == 'all' or (mode == 'failures' and run.status ~= 'success' and run.status ~= 'cancelled') then
    notify(('%s: %s'):format(run.name or 'spell', lines[1]),
      run.status == 'success' and vim.log.levels.INFO or vim.log.levels.WARN)
  end
  vim.api.nvim_exec_autocmds('User', { pattern = 'LlmspellRunFinished', data = { run_id = run.id, status = run.status } })
end

-- Runs -------------------------------------------------------------------------------------------

--- Run a spell: opts.bufnr (default current) or opts.uri. Returns nothing; the run id arrives async.
function M.run(opts)
  opts = opts or {}
  local bufnr = opts.bufnr or vim.api.nvim_get_current_buf()
  if bufnr == 0 then
    bufnr = vim.api.nvim_get_current_buf()
  end
  local uri = opts.uri
  local shown = vim.b[bufnr].llmspell_run_id
  if not uri and shown and M.runs[shown] and M.runs[shown].uri then
    -- :LlmspellRun from a run buffer runs its spell again.
    uri = M.runs[shown].uri
    bufnr = vim.uri_to_bufnr(uri)
  end
  local client = vim.lsp.get_clients({ name = NAME, bufnr = bufnr })[1]
  if not client then
    notify('llmspell-ls is not attached to this buffer (a .lua or .js spell; see :checkhealth llmspell)',
      vim.log.levels.ERROR)
    return
  end
  uri = uri or vim.uri_from_bufnr(bufnr)
  local cfg = (M.config or M.defaults).run
  if cfg.save and vim.bo[bufnr].modified and vim.bo[bufnr].buftype == '' and vim.api.nvim_buf_get_name(bufnr) ~= '' then
    vim.api.nvim_buf_call(bufnr, function()
      vim.cmd('silent write')
    end)
  end
  client:request('workspace/executeCommand', { command = 'llmspell.runSpell', arguments = { uri } }, function(err, result)
    if err then
      notify('run failed to start: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
      return
    end
    local id = fmt.run_id(result)
    if id == '' then
      notify('the server did not return a run id: ' .. vim.inspect(result), vim.log.levels.ERROR)
      return
    end
    local run = touch(id, uri)
    begin_run(run)
    if opts.on_started then
      opts.on_started(id)
    end
  end, bufnr)
end

--- Active runs, newest first (optionally of one spell uri).
function M.active(uri)
  local out = {}
  for i = #M.order, 1, -1 do
    local run = M.runs[M.order[i]]
    if run and run.status == 'running' and (uri == nil or run.uri == uri) then
      table.insert(out, run)
    end
  end
  return out
end

--- Cancel a run: opts.run_id, else the run shown in opts.bufnr / of the current spell, else the newest.
function M.cancel(opts)
  opts = opts or {}
  local bufnr = opts.bufnr or vim.api.nvim_get_current_buf()
  local id = opts.run_id or vim.b[bufnr].llmspell_run_id
  if id and M.runs[id] and M.runs[id].status ~= 'running' then
    id = nil
  end
  if not id then
    local uri = vim.uri_from_bufnr(bufnr)
    local run = M.active(uri)[1] or M.active()[1]
    id = run and run.id
  end
  if not id then
    notify('no spell is running')
    return
  end
  local client = M.client(M.runs[id] and M.runs[id].uri and vim.uri_to_bufnr(M.runs[id].uri) or nil) or M.client()
  if not client then
    notify('llmspell-ls is not running', vim.log.levels.ERROR)
    return
  end
  client:request('workspace/executeCommand', { command = 'llmspell.cancelSpell', arguments = { id } }, function(err)
    if err then
      notify('cancel failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    end
  end)
end

--- Show the run buffer of the current spell (or of the newest run).
function M.output(opts)
  opts = opts or {}
  local uri = vim.uri_from_bufnr(vim.api.nvim_get_current_buf())
  local target
  for i = #M.order, 1, -1 do
    local run = M.runs[M.order[i]]
    if run.bufnr and vim.api.nvim_buf_is_valid(run.bufnr) and (run.uri == uri or target == nil) then
      target = target or run
      if run.uri == uri then
        target = run
        break
      end
    end
  end
  if not target then
    notify('no run yet: use :LlmspellRun or the "Run spell" code lens')
    return
  end
  show_buffer(target.bufnr, opts.open or (M.config or M.defaults).run.open or 'split', true)
end

--- One line for a statusline: the current run's progress message, or ''.
function M.status()
  for _, p in pairs(M.progress) do
    if not p.done then
      return ('llmspell: %s%s'):format(p.title or 'running', p.message and (' ' .. p.message) or '')
    end
  end
  return ''
end

-- Setup ------------------------------------------------------------------------------------------

--- :LlmspellRun, :LlmspellCancel, :LlmspellOutput (plugin/llmspell.lua calls this at startup; setup()
--- calls it again for plugin managers that add the directory to 'runtimepath' after startup).
function M.create_commands()
  vim.api.nvim_create_user_command('LlmspellRun', function()
    M.run()
  end, { force = true, desc = 'Run the current spell with llmspell-ls' })
  vim.api.nvim_create_user_command('LlmspellCancel', function(args)
    M.cancel({ run_id = args.args ~= '' and args.args or nil })
  end, { force = true, nargs = '?', desc = 'Cancel the running spell (or the run with the given id)' })
  vim.api.nvim_create_user_command('LlmspellOutput', function()
    M.output()
  end, { force = true, desc = 'Show the run buffer of the current spell' })
  require('llmspell.debug').create_commands()
end

local function on_attach(client, bufnr)
  local cfg = M.config
  if cfg.completion and cfg.completion.omnifunc then
    vim.bo[bufnr].omnifunc = 'v:lua.vim.lsp.omnifunc'
  end
  if cfg.completion and cfg.completion.autotrigger and vim.lsp.completion then
    vim.lsp.completion.enable(true, client.id, bufnr, { autotrigger = true })
  end
  if cfg.codelens and client:supports_method('textDocument/codeLens') then
    vim.lsp.codelens.refresh({ bufnr = bufnr })
    vim.api.nvim_create_autocmd({ 'BufEnter', 'InsertLeave', 'BufWritePost', 'TextChanged' }, {
      group = group,
      buffer = bufnr,
      callback = function(ev)
        if M.client(ev.buf) then
          vim.lsp.codelens.refresh({ bufnr = ev.buf })
        end
      end,
    })
  end
  if cfg.on_attach then
    cfg.on_attach(client, bufnr)
  end
end

function M.setup(opts)
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  M.create_commands()
  if vim.fn.has('nvim-0.11') == 0 then
    vim.notify('llmspell.nvim needs Neovim 0.11 or newer', vim.log.levels.ERROR)
    return
  end
  local cmd = M.resolve_cmd(M.config)
  if vim.fn.executable(cmd[1]) == 0 then
    notify(('cannot start the language server: %q is not executable. Install it (pip install llmspell-ls) '
      .. 'or pass cmd/python to require("llmspell").setup(); see :checkhealth llmspell'):format(cmd[1]),
      vim.log.levels.WARN)
  end
  vim.lsp.config(NAME, {
    cmd = cmd,
    filetypes = M.config.filetypes,
    root_markers = M.config.root_markers,
    init_options = M.config.settings,
    handlers = M.handlers,
    on_attach = on_attach,
    -- Asks the server for the "Debug spell" lens (features/lens.py); its command is handled below.
    capabilities = M.config.debug.lens and { experimental = { llmspell = { debugSpell = true } } } or nil,
    on_exit = function()
      -- A server that exits mid-run never sends runFinished: close those runs.
      vim.schedule(function()
        for _, run in ipairs(M.active()) do
          M.handlers['llmspell/runFinished'](nil, {
            runId = run.id, status = 'error', error = { message = 'llmspell-ls exited during the run' },
          })
        end
      end)
    end,
  })
  vim.lsp.enable(NAME)

  -- The "Run spell" lens runs through us, so the run buffer opens and the run id is known.
  vim.lsp.commands['llmspell.runSpell'] = function(command, ctx)
    local uri = command.arguments and command.arguments[1]
    M.run({ bufnr = ctx and ctx.bufnr, uri = type(uri) == 'string' and uri or (type(uri) == 'table' and uri.uri or nil) })
  end

  -- "Debug spell" lens and :LlmspellDebug: nvim-dap when installed (adapter registered here), else
  -- the built-in client (llmspell/debug.lua).
  vim.lsp.commands['llmspell.debugSpell'] = function(command, ctx)
    local uri = command.arguments and command.arguments[1]
    require('llmspell.debug').start({ bufnr = ctx and ctx.bufnr, uri = type(uri) == 'string' and uri or nil })
  end
  local dap = require('llmspell.dap').nvim_dap()
  if dap then
    require('llmspell.dap').register(dap, M.config)
  end

  vim.api.nvim_clear_autocmds({ group = group, event = 'LspProgress' })
  vim.api.nvim_create_autocmd('LspProgress', {
    group = group,
    callback = function(ev)
      local client = vim.lsp.get_client_by_id(ev.data.client_id)
      if not client or client.name ~= NAME then
        return
      end
      local params = ev.data.params or {}
      local value = params.value or {}
      local token = tostring(params.token)
      M.stats.progress = M.stats.progress + 1
      local p = M.progress[token] or {}
      M.progress[token] = p
      if value.kind == 'begin' then
        p.title = value.title
        p.cancellable = value.cancellable
      end
      p.message = value.message or p.message
      p.percentage = value.percentage or p.percentage
      p.done = value.kind == 'end'
      if M.config.progress then
        local text = p.done and '' or M.status()
        local width = math.max(vim.o.columns - 12, 20)
        if vim.fn.strdisplaywidth(text) > width then
          text = vim.fn.strcharpart(text, 0, width - 1) .. '…' -- never trigger a hit-enter prompt
        end
        vim.api.nvim_echo({ { text } }, false, {})
      end
      pcall(vim.cmd, 'redrawstatus!')
    end,
  })
end

return M
