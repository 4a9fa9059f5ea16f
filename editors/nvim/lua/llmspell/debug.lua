-- The spell debugger in Neovim. With nvim-dap installed, every command delegates to it (the
-- adapter is registered by llmspell/dap.lua). Without it, this module is a small Debug Adapter
-- Protocol client of its own, so spells can be debugged with no other plugin:
--
--   * breakpoints are extmarks with a sign ("●", "○" while the adapter has not verified them), so
--     they move with edits; :LlmspellBreakpoint [condition] toggles one on the cursor line;
--   * :LlmspellDebug starts `llmspell-ls --dap` with vim.system and speaks DAP over its stdio
--     (Content-Length framing, JSON messages: initialize, launch, setBreakpoints,
--     configurationDone, then stackTrace/scopes/variables on every stop);
--   * on a stop the code window jumps to the line (sign "→" and a line highlight) and the panel
--     buffer llmspell://debug shows the state, the call stack, the frame's scopes with their
--     variables (<CR> expands a table) and the spell's output;
--   * :LlmspellContinue, :LlmspellStep (over), :LlmspellStepIn, :LlmspellStepOut, :LlmspellStop,
--     :LlmspellEval {expr}, :LlmspellLogpoint {message}, :LlmspellBreakOn {filters}.
local M = {}

local ns_bp = vim.api.nvim_create_namespace('llmspell_breakpoints')
local ns_pc = vim.api.nvim_create_namespace('llmspell_debug_stopped')
local group = vim.api.nvim_create_augroup('llmspell_debug', { clear = true })
local PANEL = 'llmspell://debug'

M.ns = { breakpoints = ns_bp, stopped = ns_pc }

--- bufnr -> { [extmark id] = { condition = string|nil, verified = bool|nil, message = string|nil } }
M.breakpoints = {}
--- The current (or last) built-in session; nil before the first :LlmspellDebug.
M.session = nil

local function notify(msg, level)
  vim.schedule(function()
    vim.notify('llmspell: ' .. msg, level or vim.log.levels.INFO)
  end)
end

local function define_highlights()
  vim.api.nvim_set_hl(0, 'LlmspellBreakpoint', { default = true, link = 'DiagnosticError' })
  vim.api.nvim_set_hl(0, 'LlmspellBreakpointUnverified', { default = true, link = 'DiagnosticHint' })
  vim.api.nvim_set_hl(0, 'LlmspellDebugStopped', { default = true, link = 'Visual' })
  vim.api.nvim_set_hl(0, 'LlmspellDebugStoppedSign', { default = true, link = 'DiagnosticWarn' })
end
define_highlights()
vim.api.nvim_create_autocmd('ColorScheme', { group = group, callback = define_highlights })

local function config()
  local llmspell = require('llmspell')
  return llmspell.config or llmspell.defaults
end

--- 'nvim-dap' when nvim-dap is installed and not switched off, else 'builtin'.
function M.client_kind()
  local want = (config().debug or {}).client or 'auto'
  if want == 'builtin' then
    return 'builtin'
  end
  if require('llmspell.dap').nvim_dap() then
    return 'nvim-dap'
  end
  return 'builtin'
end

local function buf_path(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == '' or vim.bo[bufnr].buftype ~= '' then
    return nil
  end
  return vim.fs.normalize(vim.fn.fnamemodify(name, ':p'))
end

-- Breakpoints -------------------------------------------------------------------------------------

local function bp_sign(meta)
  if meta.verified == false then
    return meta.log and '◇' or '○', 'LlmspellBreakpointUnverified'
  end
  return meta.log and '◆' or '●', 'LlmspellBreakpoint'
end

local function set_mark(bufnr, row, meta, id)
  local text, hl = bp_sign(meta)
  return vim.api.nvim_buf_set_extmark(bufnr, ns_bp, row, 0, {
    id = id, sign_text = text, sign_hl_group = hl, priority = 20, invalidate = true,
  })
end

--- Breakpoints of a buffer, sorted by line: { { id, line (1-based), condition }, ... }.
function M.list(bufnr)
  if not bufnr or bufnr == 0 then
    bufnr = vim.api.nvim_get_current_buf()
  end
  local out = {}
  local metas = M.breakpoints[bufnr] or {}
  if not vim.api.nvim_buf_is_valid(bufnr) then
    return out
  end
  for _, m in ipairs(vim.api.nvim_buf_get_extmarks(bufnr, ns_bp, 0, -1, { details = true })) do
    local meta = metas[m[1]]
    if meta and not (m[4] and m[4].invalid) then
      table.insert(out, { id = m[1], line = m[2] + 1, condition = meta.condition, log = meta.log,
                          verified = meta.verified })
    end
  end
  table.sort(out, function(a, b)
    return a.line < b.line
  end)
  return out
end

local function send_breakpoints(s, bufnr, cb)
  local path = buf_path(bufnr)
  if not path then
    if cb then cb() end
    return
  end
  local bps = M.list(bufnr)
  local args = { source = { path = path, name = vim.fs.basename(path) }, breakpoints = {}, lines = {} }
  for _, bp in ipairs(bps) do
    table.insert(args.breakpoints, { line = bp.line, condition = bp.condition, logMessage = bp.log })
    table.insert(args.lines, bp.line)
  end
  s:request('setBreakpoints', args, function(err, body)
    local metas = M.breakpoints[bufnr] or {}
    if err then
      notify(('setBreakpoints for %s failed: %s'):format(vim.fs.basename(path), err), vim.log.levels.WARN)
    elseif body and body.breakpoints then
      for i, bp in ipairs(bps) do
        local answer = body.breakpoints[i] or {}
        local meta = metas[bp.id]
        if meta and vim.api.nvim_buf_is_valid(bufnr) then
          meta.verified = answer.verified ~= false
          meta.message = answer.message
          local row = (answer.line or bp.line) - 1
          pcall(set_mark, bufnr, math.min(row, vim.api.nvim_buf_line_count(bufnr) - 1), meta, bp.id)
        end
      end
    end
    if cb then cb() end
  end)
end

--- Toggle a breakpoint on the cursor line (opts.line, opts.bufnr, opts.condition override).
--- A condition on a line that has one replaces it instead of removing it.
function M.toggle_breakpoint(opts)
  opts = opts or {}
  if M.client_kind() == 'nvim-dap' and not opts.builtin then
    local dap = require('dap')
    dap.toggle_breakpoint(opts.condition, nil, opts.log)
    return
  end
  local bufnr = opts.bufnr or vim.api.nvim_get_current_buf()
  if not buf_path(bufnr) then
    notify('breakpoints go in a spell file (a saved .lua buffer)', vim.log.levels.WARN)
    return
  end
  local line = opts.line or vim.api.nvim_win_get_cursor(0)[1]
  local metas = M.breakpoints[bufnr] or {}
  M.breakpoints[bufnr] = metas
  local existing
  for _, bp in ipairs(M.list(bufnr)) do
    if bp.line == line then
      existing = bp
    end
  end
  local changed = existing and ((opts.condition and opts.condition ~= existing.condition)
    or (opts.log and opts.log ~= existing.log))
  if existing and not changed then
    vim.api.nvim_buf_del_extmark(bufnr, ns_bp, existing.id)
    metas[existing.id] = nil
  else
    local meta = { condition = opts.condition, log = opts.log }
    local id = set_mark(bufnr, line - 1, meta, existing and existing.id or nil)
    metas[id] = meta
  end
  local s = M.session
  if s and s.state ~= 'exited' and s.configured then
    send_breakpoints(s, bufnr)
  end
end

--- Remove every breakpoint of a buffer (:LlmspellBreakpoint!).
function M.clear_breakpoints(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  if M.client_kind() == 'nvim-dap' then
    require('dap').clear_breakpoints()
    return
  end
  vim.api.nvim_buf_clear_namespace(bufnr, ns_bp, 0, -1)
  M.breakpoints[bufnr] = {}
  local s = M.session
  if s and s.state ~= 'exited' and s.configured then
    send_breakpoints(s, bufnr)
  end
end

-- DAP session -------------------------------------------------------------------------------------

local Session = {}
Session.__index = Session
--- Exposed for tests of the framing (Session:feed) and for other plugins.
M.Session = Session

function Session:send(msg)
  self.seq = self.seq + 1
  msg.seq = self.seq
  local body = vim.json.encode(msg)
  if self.proc and not self.proc_closed then
    pcall(function()
      self.proc:write(('Content-Length: %d\r\n\r\n%s'):format(#body, body))
    end)
  end
  return self.seq
end

--- Send a request; cb(err_message|nil, body) runs on the main loop.
function Session:request(command, arguments, cb)
  local seq = self:send({ type = 'request', command = command, arguments = arguments or vim.empty_dict() })
  self.pending[seq] = { command = command, cb = cb }
  return seq
end

function Session:feed(data)
  self.rbuf = self.rbuf .. data
  while true do
    local hend = self.rbuf:find('\r\n\r\n', 1, true)
    if not hend then
      return
    end
    local len = tonumber(self.rbuf:sub(1, hend - 1):match('[Cc]ontent%-[Ll]ength:%s*(%d+)'))
    if not len then
      -- Not DAP framing: drop the bad header so one stray line cannot wedge the session.
      self.rbuf = self.rbuf:sub(hend + 4)
    else
      if #self.rbuf < hend + 3 + len then
        return
      end
      local body = self.rbuf:sub(hend + 4, hend + 3 + len)
      self.rbuf = self.rbuf:sub(hend + 4 + len)
      local ok, msg = pcall(vim.json.decode, body, { luanil = { object = true, array = true } })
      if ok and type(msg) == 'table' then
        vim.schedule(function()
          self:dispatch(msg)
        end)
      end
    end
  end
end

function Session:dispatch(msg)
  table.insert(self.log, msg.type .. ' ' .. tostring(msg.command or msg.event or ''))
  if msg.type == 'response' then
    local p = self.pending[msg.request_seq]
    self.pending[msg.request_seq] = nil
    if p and p.cb then
      local err = nil
      if msg.success == false then
        local detail = msg.body and msg.body.error and msg.body.error.format
        err = detail or msg.message or (p.command .. ' failed')
      end
      p.cb(err, msg.body or {})
    end
  elseif msg.type == 'event' then
    local handler = self['on_' .. tostring(msg.event)]
    if handler then
      handler(self, msg.body or {})
    end
  elseif msg.type == 'request' then
    -- Reverse requests (runInTerminal, startDebugging) are not supported by the built-in client.
    self:send({ type = 'response', request_seq = msg.seq, command = msg.command, success = false,
                message = 'not supported by llmspell.nvim' })
  end
end

local function panel_buf()
  local bufnr = vim.fn.bufnr('^' .. PANEL .. '$')
  if bufnr ~= -1 and vim.api.nvim_buf_is_valid(bufnr) then
    return bufnr
  end
  bufnr = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(bufnr, PANEL)
  vim.bo[bufnr].buftype = 'nofile'
  vim.bo[bufnr].bufhidden = 'hide'
  vim.bo[bufnr].swapfile = false
  vim.bo[bufnr].modifiable = false
  vim.bo[bufnr].filetype = 'llmspell-debug'
  local map = function(lhs, fn, desc)
    vim.keymap.set('n', lhs, fn, { buffer = bufnr, desc = desc, nowait = true })
  end
  map('<CR>', function() M.expand_at_cursor() end, 'Expand or collapse the variable')
  map('c', function() M.continue() end, 'Continue')
  map('n', function() M.step('next') end, 'Step over')
  map('i', function() M.step('stepIn') end, 'Step in')
  map('o', function() M.step('stepOut') end, 'Step out')
  map('q', '<cmd>close<cr>', 'Close the debug panel')
  return bufnr
end

local function show_panel()
  local bufnr = panel_buf()
  if #vim.fn.win_findbuf(bufnr) > 0 then
    return bufnr
  end
  local cur = vim.api.nvim_get_current_win()
  vim.cmd(('botright %dsplit'):format((config().debug or {}).height or 14))
  local win = vim.api.nvim_get_current_win()
  vim.api.nvim_win_set_buf(win, bufnr)
  vim.wo[win].number = false
  vim.wo[win].relativenumber = false
  vim.wo[win].signcolumn = 'no'
  vim.wo[win].winfixheight = true
  vim.wo[win].wrap = false
  if vim.api.nvim_win_is_valid(cur) then
    vim.api.nvim_set_current_win(cur)
  end
  return bufnr
end

local function short_value(v)
  local s = tostring(v.value or '')
  s = s:gsub('\n', '\\n')
  if #s > 200 then
    s = s:sub(1, 199) .. '…'
  end
  return s
end

--- The panel's lines, and for each line the variable node it shows (for <CR>).
function Session:render_lines()
  local lines, nodes = {}, {}
  local function add(text, node)
    table.insert(lines, text)
    nodes[#lines] = node
  end
  local name = self.program and vim.fs.basename(self.program) or 'spell'
  if self.state == 'stopped' and self.top then
    add(('⏸ stopped at %s:%d (%s) · c continue · n step · i in · o out · :LlmspellStop'):format(
      self.top.source_name, self.top.line, self.stop_reason or 'pause'))
    if self.stop_text and self.stop_text ~= '' then
      add('  ' .. self.stop_text:gsub('\n', ' '))
    end
  elseif self.state == 'stopped' then
    add(('⏸ stopped (%s) …'):format(self.stop_reason or 'pause'))
  elseif self.state == 'exited' then
    add(('■ %s ended%s'):format(name, self.exit_code and (' (exit code ' .. self.exit_code .. ')') or ''))
  elseif self.state == 'starting' then
    add(('… starting the debugger for %s'):format(name))
  else
    add(('▶ %s running · :LlmspellStop to end it'):format(name))
  end
  if self.state == 'stopped' then
    add('Call stack:')
    for _, f in ipairs(self.frames or {}) do
      local src = f.source and (f.source.name or (f.source.path and vim.fs.basename(f.source.path))) or '?'
      add(('  %s  %s:%d'):format(f.name or '?', src, f.line or 0))
    end
    local function walk(list, depth)
      for _, v in ipairs(list) do
        local mark = (v.variablesReference or 0) > 0 and (v.expanded and '▾ ' or '▸ ') or '  '
        local typ = v.type and v.type ~= '' and (' (' .. v.type .. ')') or ''
        add(('%s%s%s = %s%s'):format(string.rep('  ', depth), mark, v.name, short_value(v), typ), v)
        if v.expanded and v.children then
          walk(v.children, depth + 1)
        end
      end
    end
    for _, scope in ipairs(self.scopes or {}) do
      add(scope.name .. ':' .. (not scope.children and ' (<CR> to load)' or ''), scope)
      if scope.children and not scope.collapsed then
        if #scope.children == 0 then
          add('    (none)')
        end
        walk(scope.children, 1)
      end
    end
  end
  if #self.output > 0 then
    add('Output:')
    local first = math.max(1, #self.output - 200)
    for i = first, #self.output do
      add('  ' .. self.output[i])
    end
  end
  return lines, nodes
end

function Session:render()
  if M.session ~= self then
    return -- an older session ending after a new one started must not overwrite the panel
  end
  local bufnr = panel_buf()
  local lines, nodes = self:render_lines()
  self.line_nodes = nodes
  vim.bo[bufnr].modifiable = true
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, lines)
  vim.bo[bufnr].modifiable = false
end

function Session:clear_stopped_sign()
  if M.session ~= self then
    return
  end
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_valid(b) then
      vim.api.nvim_buf_clear_namespace(b, ns_pc, 0, -1)
    end
  end
end

--- Show `path:line` in the code window (the one :LlmspellDebug was run from, else any other).
function Session:jump(path, line)
  local bufnr = vim.fn.bufadd(path)
  vim.fn.bufload(bufnr)
  vim.bo[bufnr].buflisted = true
  local win = self.code_win
  if not (win and vim.api.nvim_win_is_valid(win)) or vim.api.nvim_win_get_buf(win) == panel_buf() then
    win = nil
    for _, w in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
      if vim.api.nvim_win_get_buf(w) ~= panel_buf() then
        win = w
        break
      end
    end
  end
  if not win then
    vim.cmd('topleft split')
    win = vim.api.nvim_get_current_win()
  end
  self.code_win = win
  if vim.api.nvim_win_get_buf(win) ~= bufnr then
    vim.api.nvim_win_set_buf(win, bufnr)
  end
  local last = vim.api.nvim_buf_line_count(bufnr)
  line = math.max(1, math.min(line, last))
  vim.api.nvim_win_set_cursor(win, { line, 0 })
  vim.api.nvim_set_current_win(win)
  self:clear_stopped_sign()
  vim.api.nvim_buf_set_extmark(bufnr, ns_pc, line - 1, 0, {
    sign_text = '→', sign_hl_group = 'LlmspellDebugStoppedSign', line_hl_group = 'LlmspellDebugStopped', priority = 30,
  })
end

function Session:load_children(node, cb)
  self:request('variables', { variablesReference = node.variablesReference }, function(err, body)
    if err then
      node.children = { { name = '(error)', value = err, variablesReference = 0 } }
    else
      node.children = body.variables or {}
    end
    cb()
  end)
end

function Session:on_stopped(body)
  self.state = 'stopped'
  self.stop_reason = body.reason
  -- Why, in words: the error message on an exception stop, the hook point or event on runtime stops.
  self.stop_text = body.text or (body.reason ~= 'breakpoint' and body.reason ~= 'step' and body.description) or nil
  self.thread_id = body.threadId or self.thread_id or 1
  self.stops = self.stops + 1
  local stop_no = self.stops
  -- Nothing of the previous stop may show as this one's while its stack is on the way.
  self.frames, self.scopes, self.top = nil, nil, nil
  self:request('stackTrace', { threadId = self.thread_id, startFrame = 0, levels = 20 }, function(err, st)
    if stop_no ~= self.stops then
      return -- a newer stop (fast stepping) superseded this one
    end
    if err then
      notify('stackTrace failed: ' .. err, vim.log.levels.ERROR)
      return
    end
    self.frames = st.stackFrames or {}
    local top
    for _, f in ipairs(self.frames) do
      if f.source and f.source.path and f.line and f.line > 0 then
        top = f
        break
      end
    end
    if not top then
      self.top = { source_name = '?', line = 0 }
      self:render()
      return
    end
    self.top = { frame = top, path = top.source.path, line = top.line,
                 source_name = top.source.name or vim.fs.basename(top.source.path) }
    show_panel()
    self:jump(top.source.path, top.line)
    self:request('scopes', { frameId = top.id }, function(serr, sc)
      if stop_no ~= self.stops then
        return
      end
      self.scopes = serr and {} or (sc.scopes or {})
      for _, scope in ipairs(self.scopes) do
        scope.is_scope = true
      end
      local waiting = 1
      local function done()
        waiting = waiting - 1
        if waiting == 0 and stop_no == self.stops then
          self:render()
          vim.api.nvim_exec_autocmds('User', { pattern = 'LlmspellDebugStopped', data = {
            path = self.top.path, line = self.top.line, reason = self.stop_reason } })
        end
      end
      for _, scope in ipairs(self.scopes) do
        if not scope.expensive and (scope.variablesReference or 0) > 0 then
          waiting = waiting + 1
          self:load_children(scope, done)
        end
      end
      done()
    end)
  end)
  self:render()
end

function Session:on_continued(_)
  if self.state ~= 'exited' then
    self.state = 'running'
  end
  self:clear_stopped_sign()
  self:render()
end

function Session:on_output(body)
  if body.category == 'telemetry' then
    return
  end
  local text = body.output or ''
  local parts = vim.split(text, '\n', { plain = true })
  if parts[#parts] == '' then
    table.remove(parts)
  end
  local prefix = body.category == 'stderr' and '[stderr] ' or ''
  for i, part in ipairs(parts) do
    if i == 1 and self.output_open and #self.output > 0 then
      self.output[#self.output] = self.output[#self.output] .. part
    else
      table.insert(self.output, prefix .. part)
    end
  end
  self.output_open = text ~= '' and text:sub(-1) ~= '\n'
  self:render()
end

--- The exception/runtime stop filters to send: :LlmspellBreakOn's, else setup()'s debug.exceptions,
--- else the adapter's defaults (uncaught errors).
local function exception_args(s)
  local chosen = M.exception_filters or (config().debug or {}).exceptions
  if chosen == nil then
    chosen = {}
    for _, f in ipairs(s.capabilities.exceptionBreakpointFilters or {}) do
      if f.default then
        table.insert(chosen, f.filter)
      end
    end
  end
  local filters, options = {}, {}
  for _, f in ipairs(chosen) do
    if type(f) == 'table' then
      table.insert(options, { filterId = f.filter or f[1], condition = f.condition or f[2] })
    else
      table.insert(filters, f)
    end
  end
  return { filters = filters, filterOptions = #options > 0 and options or nil }
end

local function send_exception_filters(s, cb)
  if not s.capabilities.exceptionBreakpointFilters then
    if cb then cb() end
    return
  end
  s:request('setExceptionBreakpoints', exception_args(s), function(err)
    if err then
      notify('setExceptionBreakpoints failed: ' .. err, vim.log.levels.WARN)
    end
    if cb then cb() end
  end)
end

--- :LlmspellBreakOn error hook=BeforeToolExecution event=agent.* — which runtime points stop the
--- spell (filters of the adapter: error, raised, hook, event; `name=condition` narrows one).
function M.break_on(list)
  local chosen = {}
  for _, item in ipairs(list) do
    local filter, cond = item:match('^([%w_]+)=(.*)$')
    if filter then
      table.insert(chosen, { filter = filter, condition = cond })
    else
      table.insert(chosen, item)
    end
  end
  M.exception_filters = chosen
  local s = M.session
  if s and s.state ~= 'exited' and s.configured then
    send_exception_filters(s)
  end
  return chosen
end

function Session:on_initialized(_)
  -- Breakpoints of every buffer and the stop filters, then configurationDone (the adapter starts
  -- the spell once it has both launch and configurationDone).
  local bufs = {}
  for bufnr, _ in pairs(M.breakpoints) do
    if vim.api.nvim_buf_is_valid(bufnr) and buf_path(bufnr) then
      table.insert(bufs, bufnr)
    end
  end
  local waiting = #bufs + 2
  local function done()
    waiting = waiting - 1
    if waiting == 0 then
      self.configured = true
      if self.capabilities.supportsConfigurationDoneRequest ~= false then
        self:request('configurationDone', vim.empty_dict(), function(err)
          if err then
            notify('configurationDone failed: ' .. err, vim.log.levels.ERROR)
          end
        end)
      end
    end
  end
  for _, bufnr in ipairs(bufs) do
    send_breakpoints(self, bufnr, done)
  end
  send_exception_filters(self, done)
  done()
end

function Session:on_exited(body)
  self.exit_code = body.exitCode
end

function Session:on_terminated(_)
  self:finish()
  if self.proc and not self.proc_closed then
    self:request('disconnect', { terminateDebuggee = true }, function() end)
    vim.defer_fn(function()
      if not self.proc_closed then
        pcall(function() self.proc:kill(15) end)
      end
    end, 2000)
  end
end

function Session:on_breakpoint(body)
  -- The adapter moved or verified a breakpoint later (e.g. once the spell's chunk is loaded).
  local bp = body.breakpoint or {}
  if not (bp.source and bp.source.path and bp.line) then
    return
  end
  local bufnr = vim.fn.bufnr(bp.source.path)
  if bufnr == -1 then
    return
  end
  for _, b in ipairs(M.list(bufnr)) do
    if b.line == bp.line then
      local meta = M.breakpoints[bufnr][b.id]
      meta.verified = bp.verified ~= false
      pcall(set_mark, bufnr, b.line - 1, meta, b.id)
    end
  end
end

function Session:finish()
  if self.state == 'exited' then
    return
  end
  self.state = 'exited'
  self:clear_stopped_sign()
  self:render()
  notify(('debug session of %s ended%s'):format(self.program and vim.fs.basename(self.program) or 'spell',
    self.exit_code and (' (exit code ' .. self.exit_code .. ')') or ''))
  vim.api.nvim_exec_autocmds('User', { pattern = 'LlmspellDebugEnded', data = { exit_code = self.exit_code } })
end

--- Expand or collapse the variable (or scope) under the cursor in the panel.
function M.expand_at_cursor()
  local s = M.session
  if not s or s.state ~= 'stopped' then
    return
  end
  local node = (s.line_nodes or {})[vim.api.nvim_win_get_cursor(0)[1]]
  if not node or (node.variablesReference or 0) == 0 then
    return
  end
  local open_key = node.is_scope and 'collapsed' or 'expanded'
  if node.children then
    node[open_key] = not node[open_key]
    s:render()
  else
    s:load_children(node, function()
      if not node.is_scope then
        node.expanded = true
      end
      s:render()
    end)
  end
end

--- Evaluate a Lua expression in the paused frame (the adapter's evaluate, context "repl"); the
--- result is shown as a message and kept in the panel's output. cb(err, result) for callers.
function M.eval(expr, cb)
  if M.client_kind() == 'nvim-dap' then
    -- nvim-dap's documented widget: evaluates in the current frame, shows the value in a float.
    require('dap.ui.widgets').hover(function()
      return expr
    end)
    return
  end
  local s = M.session
  if not s or s.state ~= 'stopped' or not (s.top and s.top.frame) then
    notify('evaluate needs a paused spell (:LlmspellDebug and a breakpoint)', vim.log.levels.WARN)
    return
  end
  s:request('evaluate', { expression = expr, frameId = s.top.frame.id, context = 'repl' }, function(err, body)
    local line = err and ('%s → error: %s'):format(expr, err) or ('%s = %s'):format(expr, tostring(body.result))
    table.insert(s.output, '» ' .. line)
    s.output_open = false
    s:render()
    notify(line, err and vim.log.levels.WARN or vim.log.levels.INFO)
    if cb then
      cb(err, body and body.result)
    end
  end)
end

-- Commands ----------------------------------------------------------------------------------------

--- Start debugging a spell: opts.program (a path), else opts.uri, else opts.bufnr / the current buffer.
--- opts.args (list of strings), opts.cwd, opts.stop_on_entry.
function M.start(opts)
  opts = opts or {}
  local bufnr = opts.bufnr or vim.api.nvim_get_current_buf()
  if bufnr == 0 then
    bufnr = vim.api.nvim_get_current_buf()
  end
  local program = opts.program or (opts.uri and vim.uri_to_fname(opts.uri)) or buf_path(bufnr)
  if not program then
    notify('open a saved Lua spell to debug it', vim.log.levels.WARN)
    return
  end
  -- JavaScript spells go to the adapter too: it answers with a clear "not supported yet".
  program = vim.fs.normalize(vim.fn.fnamemodify(program, ':p'))
  local code_buf = vim.fn.bufnr(program)
  if code_buf ~= -1 and vim.bo[code_buf].modified then
    vim.api.nvim_buf_call(code_buf, function()
      vim.cmd('silent write')
    end)
  end
  local cfg = config()
  local cwd = opts.cwd or vim.fs.root(program, cfg.root_markers or { 'llmspell.toml', '.git' }) or vim.fn.getcwd()

  if M.client_kind() == 'nvim-dap' then
    local dap = require('dap')
    require('llmspell.dap').register(dap, cfg)
    local launch = require('llmspell.dap').launch_config(program, cwd)
    launch.workspace = cwd
    launch.args = opts.args
    launch.stopOnEntry = opts.stop_on_entry or false
    dap.run(launch)
    return
  end

  if not M.told_builtin then
    M.told_builtin = true
    notify('nvim-dap is not installed: debugging with the built-in client '
      .. '(:LlmspellBreakpoint, :LlmspellContinue, :LlmspellStep, :LlmspellStepIn, :LlmspellStepOut, :LlmspellStop)')
  end
  if M.session and M.session.state ~= 'exited' then
    M.stop()
  end
  local cmd = require('llmspell.dap').adapter_cmd(cfg)
  if vim.fn.executable(cmd[1]) == 0 then
    notify(('cannot start the spell debugger: %q is not executable (see :checkhealth llmspell)'):format(cmd[1]),
      vim.log.levels.ERROR)
    return
  end
  local s = setmetatable({
    seq = 0, pending = {}, rbuf = '', state = 'starting', output = {}, log = {}, stops = 0,
    capabilities = {}, program = program, code_win = vim.api.nvim_get_current_win(), stderr = {},
  }, Session)
  M.session = s
  local ok, proc = pcall(vim.system, cmd, {
    cwd = cwd,
    stdin = true,
    stdout = function(_, data)
      if data then
        s:feed(data)
      end
    end,
    stderr = function(_, data)
      if data then
        table.insert(s.stderr, data)
      end
    end,
  }, function(res)
    vim.schedule(function()
      s.proc_closed = true
      if s.state ~= 'exited' then
        if res.code ~= 0 and #s.stderr > 0 then
          local err = vim.trim(table.concat(s.stderr))
          notify(('the debug adapter exited with code %d: %s'):format(res.code, err:sub(-500)), vim.log.levels.ERROR)
        end
        s:finish()
      end
      for _, p in pairs(s.pending) do
        if p.cb then
          pcall(p.cb, 'the debug adapter exited', {})
        end
      end
      s.pending = {}
    end)
  end)
  if not ok then
    notify('cannot start the spell debugger: ' .. tostring(proc), vim.log.levels.ERROR)
    s.state = 'exited'
    return
  end
  s.proc = proc
  show_panel()
  s:render()
  s:request('initialize', {
    clientID = 'neovim', clientName = 'Neovim (llmspell.nvim)', adapterID = 'llmspell', locale = 'en',
    pathFormat = 'path', linesStartAt1 = true, columnsStartAt1 = true, supportsVariableType = true,
  }, function(err, caps)
    if err then
      notify('the debug adapter did not initialize: ' .. err, vim.log.levels.ERROR)
      M.stop()
      return
    end
    s.capabilities = caps or {}
    s:request('launch', {
      type = 'llmspell', request = 'launch', name = 'Debug spell', program = program, cwd = cwd, workspace = cwd,
      args = opts.args or {}, stopOnEntry = opts.stop_on_entry or false,
    }, function(lerr)
      if lerr then
        notify(('cannot debug %s: %s'):format(vim.fs.basename(program), lerr), vim.log.levels.ERROR)
        M.stop()
        return
      end
      if s.state == 'starting' then
        s.state = 'running'
        s:render()
      end
    end)
  end)
  return s
end

local function active(what)
  local s = M.session
  if not s or s.state == 'exited' then
    notify(('no debug session to %s (start one with :LlmspellDebug)'):format(what), vim.log.levels.WARN)
    return nil
  end
  return s
end

function M.continue()
  if M.client_kind() == 'nvim-dap' then
    require('dap').continue()
    return
  end
  local s = active('continue')
  if not s then
    return
  end
  if s.state ~= 'stopped' then
    notify('the spell is running (not paused)')
    return
  end
  s.state = 'running'
  s:clear_stopped_sign()
  s:request('continue', { threadId = s.thread_id or 1 }, function(err)
    if err then
      notify('continue failed: ' .. err, vim.log.levels.ERROR)
    end
  end)
  s:render()
end

--- kind: 'next' (over), 'stepIn', 'stepOut'.
function M.step(kind)
  if M.client_kind() == 'nvim-dap' then
    local dap = require('dap')
    local fn = ({ next = dap.step_over, stepIn = dap.step_into, stepOut = dap.step_out })[kind]
    fn()
    return
  end
  local s = active('step')
  if not s then
    return
  end
  if s.state ~= 'stopped' then
    notify('the spell is running; it must be paused to step')
    return
  end
  s.state = 'running'
  s:request(kind, { threadId = s.thread_id or 1 }, function(err)
    if err then
      notify(kind .. ' failed: ' .. err, vim.log.levels.ERROR)
    end
  end)
end

function M.stop()
  if M.client_kind() == 'nvim-dap' then
    require('dap').terminate()
    return
  end
  local s = M.session
  if not s or s.proc_closed then
    if s then
      s:finish()
    end
    return
  end
  local function kill_later()
    vim.defer_fn(function()
      if not s.proc_closed then
        pcall(function() s.proc:kill(15) end)
      end
    end, 2000)
  end
  if s.capabilities.supportsTerminateRequest then
    s:request('terminate', vim.empty_dict(), function(err)
      if err then
        s:request('disconnect', { terminateDebuggee = true }, function() end)
      end
    end)
  else
    s:request('disconnect', { terminateDebuggee = true }, function() end)
  end
  kill_later()
end

--- :LlmspellDebug, :LlmspellBreakpoint[!] [condition], :LlmspellContinue, :LlmspellStep,
--- :LlmspellStepIn, :LlmspellStepOut, :LlmspellStop, :LlmspellBreakOn [filters], :LlmspellLogpoint
--- {message}, :LlmspellEval {expr}.
function M.create_commands()
  local cmd = vim.api.nvim_create_user_command
  cmd('LlmspellDebug', function(a)
    M.start({ args = #a.fargs > 0 and a.fargs or nil })
  end, { force = true, nargs = '*', desc = 'Debug the current spell (arguments go to the spell)' })
  cmd('LlmspellBreakpoint', function(a)
    if a.bang then
      M.clear_breakpoints()
    else
      M.toggle_breakpoint({ condition = a.args ~= '' and a.args or nil })
    end
  end, { force = true, bang = true, nargs = '?', desc = 'Toggle a breakpoint ([condition]); ! clears the buffer\'s' })
  cmd('LlmspellContinue', function() M.continue() end, { force = true, desc = 'Continue the paused spell' })
  cmd('LlmspellStep', function() M.step('next') end, { force = true, desc = 'Step over' })
  cmd('LlmspellStepIn', function() M.step('stepIn') end, { force = true, desc = 'Step into a call' })
  cmd('LlmspellStepOut', function() M.step('stepOut') end, { force = true, desc = 'Step out of the function' })
  cmd('LlmspellStop', function() M.stop() end, { force = true, desc = 'End the debug session' })
  cmd('LlmspellLogpoint', function(a)
    if a.args == '' then
      notify('usage: :LlmspellLogpoint {message with {expressions}}', vim.log.levels.WARN)
      return
    end
    M.toggle_breakpoint({ log = a.args })
  end, { force = true, nargs = '*', desc = 'Toggle a logpoint: print the message (with {expr}) instead of stopping' })
  cmd('LlmspellEval', function(a)
    M.eval(a.args)
  end, { force = true, nargs = '+', desc = 'Evaluate a Lua expression in the paused frame' })
  cmd('LlmspellBreakOn', function(a)
    M.break_on(a.fargs)
  end, { force = true, nargs = '*', desc = 'Stop on: error raised hook[=Points] event[=patterns] (none: only breakpoints)' })
end

return M
