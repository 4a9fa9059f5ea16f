-- llmspell debugger, Lua half: loaded once per *debugged* spell, on the main thread, after the prelude.
--
-- Why in Lua: lupa's debug.sethook refuses Python callables, and a Python hook would see only Python
-- frames. So the hook is a Lua closure with a fast path (is this line in the breakpoint set, or are we
-- stepping?) that calls into Python (PY.pause) only to stop. While stopped, the Python side serves the
-- adapter's commands by calling the functions below, still on the spell thread (no other thread may
-- touch the LuaRuntime). The hook also does the prelude's count duty (cancel, instruction budget):
-- Lua keeps one hook per thread, so the two are composed in one function.
--
-- Frames are named by (thread, bottom index): the number of frames from the bottom of that thread's
-- stack. Levels depend on who asks (a function called from Python sits on top of the main thread),
-- bottom indices do not, so frame ids stay valid for the whole stop.
--
-- The chunk of this file is named like the prelude's ("=[llmspell]"), so the runtime's error locations
-- and tracebacks skip it as they skip the prelude.

local PY, M, CONST = ...

local debug_sethook, debug_getinfo = debug.sethook, debug.getinfo
local debug_getlocal, debug_setlocal = debug.getlocal, debug.setlocal
local debug_getupvalue, debug_setupvalue = debug.getupvalue, debug.setupvalue
local co_running, co_create, co_resume, co_status = coroutine.running, coroutine.create, coroutine.resume,
  coroutine.status
local type, pairs, ipairs, next, pcall, xpcall, error, tostring, select, rawget, rawset, rawequal =
  type, pairs, ipairs, next, pcall, xpcall, error, tostring, select, rawget, rawset, rawequal
local setmetatable, getmetatable, load, rawlen = setmetatable, getmetatable, load, rawlen
local str_format, str_sub, str_find, str_gsub, str_match = string.format, string.sub, string.find, string.gsub,
  string.match
local tbl_sort, tbl_concat, tbl_pack, tbl_unpack = table.sort, table.concat, table.pack, table.unpack
local math_type = math.type

local MAIN = co_running()
local STEP = CONST.step
local COUNT_HOOK = M.count_hook
local KILL = M.KILL
local INTERNAL_SRC = "=[llmspell]"

local D = {}

local BPS = {}          -- source ("@spells/x.lua") -> line -> breakpoint {id, condition, hit, log, hits}
local LINES = {}        -- line -> number of files with a breakpoint on that line (the fast path's set)
local NBP = 0
local MODE = nil        -- nil | "in" | "over" | "out" | "pause" | "entry"
local MODE_DEPTH = 0
local FILTERS = {}      -- "error" | "raised" -> true
local THREADS = setmetatable({}, {__mode = "k"})   -- every spell thread, so the hook can be (un)installed
local CUR = {}          -- resume chain: CUR[1] the spell's main coroutine ... CUR[#CUR] the innermost
local ENV, BASE = nil, {}
local STOP = nil        -- while stopped: {thread=, frames={}, refs={}, nref=, extra=}
local BUSY = false      -- inside the debugger itself (evaluate, conditions): no stops, no re-entry
local HOOKED = "none"   -- which hook the threads carry: "none" (count only) | "bp" | "step"
local NEED = setmetatable({}, {__mode = "k"})  -- function -> has a breakpoint on one of its own lines
local DEEP = setmetatable({}, {__mode = "k"})  -- thread -> depth of the call a step over/out skips

------------------------------------------------------------------------------------ hook install
--
-- Three states. "none": the prelude's count hook (an undebugged speed). "step" (stepping or a pause
-- pending): every line event reaches the hook. "bp" (breakpoints, no stepping): line events only
-- while the running function has a breakpoint among its own lines; call/return events switch them
-- on and off per thread, so a loop in a function without breakpoints runs without line events. The
-- hook function itself records the state of its thread: hook_full (lines wanted) or hook_probe
-- (not known yet: the first line event decides).

local hook_full, hook_probe   -- forward

local function wanted()
  if MODE == "over" or MODE == "out" then return "stepc" end
  if MODE ~= nil then return "step" end
  if NBP > 0 then return "bp" end
  return "none"
end

local function install()
  local want = wanted()
  if want == HOOKED then return end
  HOOKED = want
  if want == "step" then M.set_hook(hook_full, "l")
  elseif want == "stepc" then M.set_hook(hook_full, "crl")
  elseif want == "bp" then M.set_hook(hook_probe, "crl")
  else M.set_hook(nil, "") end
  -- every thread that may run spell code re-arms itself with the new hook; the running one too
  for co in pairs(THREADS) do
    if co_status(co) ~= "dead" then M.arm_thread(co) end
  end
  M.arm_thread(MAIN)
  local me = co_running()
  if me ~= MAIN then M.arm_thread(nil) end
end

------------------------------------------------------------------------------------ frames

local function is_spell(info)
  local src = info and info.source
  return type(src) == "string" and str_sub(src, 1, 1) == "@"
end

-- number of stack levels of `co` as seen by the caller of this function
local function levels(co)
  local n = 0
  while debug_getinfo(co, n, "l") do n = n + 1 end
  if co == co_running() then n = n - 1 end   -- this function's own frame
  return n
end

local function chain_of(T)
  for i = #CUR, 1, -1 do
    if CUR[i] == T then
      local c = {}
      for j = i, 1, -1 do c[#c + 1] = CUR[j] end
      return c
    end
  end
  return {T}
end

-- spell frames (top first) over the chain: {co=, b=bottom index}
local function collect(T)
  local out = {}
  local chain = chain_of(T)
  if T == MAIN then
    -- a function the runtime called (a hook, an event handler) runs on the main thread while the
    -- spell waits in the API call that led to it: show that call below
    for i = #CUR, 1, -1 do chain[#chain + 1] = CUR[i] end
  end
  local prev = nil
  for _, co in ipairs(chain) do
    local n = levels(co)
    local first = true
    for level = 0, n - 1 do
      local info = debug_getinfo(co, level, "S")
      if info and is_spell(info) then
        local fr = {co = co, b = n - level}
        if first and prev ~= nil then
          fr.note = (prev == MAIN) and "  [waiting for the runtime]" or "  [resumed a coroutine]"
        end
        first = false
        out[#out + 1] = fr
      end
    end
    prev = co
  end
  return out
end

-- level of frame fr, as seen by the caller of this function
local function level_of(fr)
  local n = levels(fr.co)
  if fr.co == co_running() then n = n - 1 end
  return n - fr.b
end

local function spell_depth(T)
  local d = 0
  for _, co in ipairs(chain_of(T)) do
    local level = (co == co_running()) and 1 or 0
    while true do
      local info = debug_getinfo(co, level, "S")
      if not info then break end
      if is_spell(info) then d = d + 1 end
      level = level + 1
    end
  end
  return d
end

------------------------------------------------------------------------------------ values

local function short_string(s, max)
  if #s > max then s = str_sub(s, 1, max) .. "…" end
  return (str_gsub(str_format("%q", s), "\\\n", "\\n"))
end

local function count_entries(t, cap)
  local n = 0
  for _ in next, t do
    n = n + 1
    if n >= cap then return n, true end
  end
  return n, false
end

-- Spell code the debugger runs itself (an evaluate / condition / logpoint expression, a __tostring or
-- __len metamethod of a value being displayed) runs with the wall clock held (the run is stopped) and
-- BUSY set (no breakpoint can interrupt it): without a budget, `while true do end` in a __tostring froze
-- the Variables view and spun a core until the user noticed. Each top-level inspection gets an
-- instruction budget; once spent, every further instruction raises TOO_LONG (so a pcall inside the
-- expression cannot swallow it and go on). New coroutines the expression starts arm the same hook.
local EVAL_STEPS = 20000000
local TOO_LONG = str_format("stopped: spell code run by the debugger took too long (more than %d instructions)",
                            EVAL_STEPS)
local IN_BUDGET = false

local function budgeted(f, ...)
  if IN_BUDGET then return tbl_pack(pcall(f, ...)) end   -- already metered by the outer inspection
  -- The code runs in a fresh coroutine: a condition is evaluated inside the line hook, where Lua
  -- runs no hooks on that thread, so a count hook set there would never fire.
  local left, tripped, done = EVAL_STEPS, false, false
  local function budget_hook()
    if done then M.arm_thread(nil) return end   -- a coroutine the expression left suspended
    if tripped then error(TOO_LONG, 0) end
    left = left - STEP
    if left <= 0 then
      tripped = true
      debug_sethook(budget_hook, "", 1)
      error(TOO_LONG, 0)
    end
    COUNT_HOOK()   -- cancel / terminate / kill still reach the run
  end
  local args = tbl_pack(...)
  local co = co_create(function()
    debug_sethook(budget_hook, "", STEP)
    return f(tbl_unpack(args, 1, args.n))
  end)
  IN_BUDGET = true
  M.set_hook(budget_hook, "")   -- coroutines the expression starts meter themselves with it
  local res = tbl_pack(co_resume(co))
  if res[1] and co_status(co) == "suspended" then   -- it yielded (coroutine.yield, or an API that waits)
    res = tbl_pack(false, "cannot wait or yield here: the spell is stopped in the debugger")
  end
  done = true
  IN_BUDGET = false
  HOOKED = "rearm"   -- new threads get the debugger's hook again
  install()
  if not res[1] and rawequal(res[2], KILL) then error(KILL, 0) end
  return res
end

local function cut(s, max)
  if #s > max then return str_sub(s, 1, max) .. "…" end
  return s
end

-- once a displayed value's __tostring ran out of budget, the rest of this stop shows values without
-- calling metamethods (one budget per value would let 1,000 such fields hold the view for minutes)
local META_SLOW = false

-- tostring of a value that may carry a spell __tostring (error objects, keys), metered
local function safe_tostring(v)
  local mt = getmetatable(v)
  if mt == nil or type(v) == "string" or type(v) == "number" then return tostring(v) end
  if META_SLOW then return "(" .. type(v) .. ")" end
  local res = budgeted(tostring, v)
  if not res[1] and res[2] == TOO_LONG then META_SLOW = true end
  if res[1] and type(res[2]) == "string" then return cut(res[2], 400) end
  return "(" .. type(v) .. ": " .. (res[1] and "__tostring returned no string" or str_format("%s", res[2])) .. ")"
end

local function describe_fn(f)
  local info = debug_getinfo(f, "S")
  if info and info.what == "Lua" and is_spell(info) then
    return str_format("function %s:%d", info.short_src, info.linedefined)
  end
  return "function (builtin)"
end

local function fmt(v)
  local t = type(v)
  if t == "string" then return short_string(v, 400), "string" end
  if t == "number" then return tostring(v), (math_type(v) == "integer") and "integer" or "float" end
  if t == "table" then
    local mt = getmetatable(v)
    if mt ~= nil and (type(mt) ~= "table" or rawget(mt, "__tostring") ~= nil) then
      if not META_SLOW then
        local r = budgeted(tostring, v)
        -- cut: one instruction (string.rep) can make a 20 MB display text, sent whole to the editor
        if r[1] and type(r[2]) == "string" then return cut(r[2], 400), "table" end
        if not r[1] and r[2] == TOO_LONG then META_SLOW = true end
      end
    end
    local n, more = count_entries(v, 1000)
    local len = rawlen(v)   -- never the spell's __len (spell code while displaying)
    if n == 0 then return "{}", "table" end
    if len == n then return str_format("table [%d]", len), "table" end
    return str_format("table {%d%s}", n, more and "+" or ""), "table"
  end
  if t == "function" then return describe_fn(v), "function" end
  return tostring(v), t
end

local function new_ref(entry)
  STOP.nref = STOP.nref + 1
  STOP.refs[STOP.nref] = entry
  return STOP.nref
end

local function var(name, v, evalname)
  local s, t = fmt(v)
  local ref = 0
  if type(v) == "table" and next(v) ~= nil then ref = new_ref({kind = "table", t = v}) end
  return {name = name, value = s, type = t, variablesReference = ref, evaluateName = evalname}
end

local function key_name(k)
  if type(k) == "string" and str_match(k, "^[%a_][%w_]*$") then return k end
  if type(k) == "string" then return "[" .. short_string(k, 80) .. "]" end
  return "[" .. safe_tostring(k) .. "]"
end

local function sorted_keys(t, cap)
  local keys, n = {}, 0
  for k in next, t do
    n = n + 1
    if n > cap then break end
    keys[n] = k
  end
  tbl_sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta == "number" and tb == "number" then return a < b end
    if ta == "number" then return true end
    if tb == "number" then return false end
    if ta == "string" and tb == "string" then return a < b end
    if ta == "string" then return true end
    if tb == "string" then return false end
    return safe_tostring(a) < safe_tostring(b)
  end)
  return keys, n > cap
end

------------------------------------------------------------------------------------ locals / upvalues

-- locals of a frame: list of {name, value, index} (temporaries and varargs skipped; a shadowed name
-- keeps its innermost binding)
local function frame_locals(fr)
  local out, seen = {}, {}
  local level = level_of(fr)
  local i = 1
  while true do
    local name, value = debug_getlocal(fr.co, level, i)
    if name == nil then break end
    if str_sub(name, 1, 1) ~= "(" then
      if seen[name] then out[seen[name]] = {name = name, value = value, index = i}
      else out[#out + 1] = {name = name, value = value, index = i}; seen[name] = #out end
    end
    i = i + 1
  end
  return out
end

local function frame_func(fr)
  local info = debug_getinfo(fr.co, level_of(fr), "f")
  return info and info.func
end

local function upvalues_of(f)
  local out = {}
  if not f then return out end
  local i = 1
  while true do
    local name, value = debug_getupvalue(f, i)
    if name == nil then break end
    if name ~= "_ENV" and name ~= "" then out[#out + 1] = {name = name, value = value, index = i} end
    i = i + 1
  end
  return out
end

------------------------------------------------------------------------------------ evaluate

local function refuse_write(_, k)
  error("evaluate is read-only: cannot assign to '" .. tostring(k) .. "' (use the Variables view to change a value)", 2)
end

-- a read-only environment that sees the frame's locals, then its upvalues, then the spell's globals
local function frame_env(locals, ups)
  local names = {}
  for _, u in ipairs(ups) do names[u.name] = {u.value} end
  for _, l in ipairs(locals) do names[l.name] = {l.value} end
  return setmetatable({}, {
    __index = function(_, k)
      local box = names[k]
      if box then return box[1] end
      return ENV and ENV[k]
    end,
    __newindex = refuse_write,
  })
end

local function compile(expr, env)
  local fn = load("return " .. expr, "=(evaluate)", "t", env)
  if fn then return fn end
  local fn2, err = load(expr, "=(evaluate)", "t", env)
  if fn2 then return fn2 end
  return nil, err
end

local function eval_in(env, expr)
  local fn, err = compile(expr, env)
  if not fn then return false, err end
  local was = BUSY
  BUSY = true
  local res = budgeted(fn)
  BUSY = was
  if not res[1] then
    local e = res[2]
    if rawequal(e, KILL) then error(KILL, 0) end
    return false, safe_tostring(e)
  end
  return true, res
end

-- a condition / log expression evaluated in the hooked frame (level 4 from here: here, check, slow, hook)
local function hooked_env(level)
  local locals, seen = {}, {}
  local i = 1
  while true do
    local name, value = debug_getlocal(level + 1, i)
    if name == nil then break end
    if str_sub(name, 1, 1) ~= "(" then locals[#locals + 1] = {name = name, value = value} end
    i = i + 1
  end
  local info = debug_getinfo(level + 1, "f")
  return frame_env(locals, upvalues_of(info and info.func))
end

local function truthy_eval(env, expr)
  local ok, res = eval_in(env, expr)
  if not ok then return nil, res end
  return res[2] ~= nil and res[2] ~= false
end

local function hit_ok(cond, hits)
  if cond == nil or cond == "" then return true end
  local op, num = str_match(cond, "^%s*([<>=%%]*)%s*(%d+)%s*$")
  num = tonumber(num)
  if not num then return true end
  if op == "" or op == "==" or op == "=" then return hits == num end
  if op == ">=" then return hits >= num end
  if op == ">" then return hits > num end
  if op == "<=" then return hits <= num end
  if op == "<" then return hits < num end
  if op == "%" then return num > 0 and hits % num == 0 end
  return true
end

local function interpolate(env, msg)
  return (str_gsub(msg, "{(.-)}", function(expr)
    local ok, res = eval_in(env, expr)
    if not ok then return "{" .. tostring(res) .. "}" end
    if res.n < 2 then return "nil" end
    local v = res[2]
    if type(v) == "string" then return v end
    return (fmt(v))
  end))
end

------------------------------------------------------------------------------------ stopping

local function begin_stop(T, extra)
  STOP = {thread = T, refs = {}, nref = 0, extra = extra}
  META_SLOW = false
  STOP.frames = collect(T)
  STOP.depth = spell_depth(T)
end

local function end_stop(mode)
  local depth = STOP and STOP.depth or 0
  STOP = nil
  if mode == "continue" then MODE = nil
  elseif mode == "next" then MODE = "over"; MODE_DEPTH = depth
  elseif mode == "stepIn" then MODE = "in"
  elseif mode == "stepOut" then MODE = "out"; MODE_DEPTH = depth
  end
  DEEP = setmetatable({}, {__mode = "k"})
  HOOKED = "rearm"   -- every thread starts the new step from a clean hook state
  install()
end

-- stop on the running thread (inside the hook or an error handler); returns after the user resumes.
-- An error stop passes the error value as a 5th argument: it is kept for exceptionInfo and shown as
-- the stop's text (its __tostring runs here, with BUSY set, so no breakpoint fires inside it).
local function stop_here(reason, description, text, hit_ids, ...)
  BUSY = true
  begin_stop(co_running(), nil)
  if select("#", ...) > 0 then
    local e = ...
    STOP.error = e
    text = safe_tostring(e)
  end
  local mode = PY.pause(reason, description or "", text or "", hit_ids or "")
  end_stop(mode)
  BUSY = false
  if mode == "kill" then M.kill("cancel", nil, 2) end
end

local function slow(line)
  if BUSY then return end
  local info = debug_getinfo(3, "S")
  if not is_spell(info) then return end
  local src = info.source
  local bp = LINES[line] and BPS[src] and BPS[src][line]
  if bp then
    local env
    if bp.condition or bp.log then env = hooked_env(3) end
    local pass = true
    if bp.condition then
      BUSY = true
      local ok, err = truthy_eval(env, bp.condition)
      BUSY = false
      if ok == nil then
        PY.log(str_format("%s:%d: breakpoint condition failed: %s\n", info.short_src, line, tostring(err)))
        pass = true
      else
        pass = ok
      end
    end
    if pass then
      bp.hits = bp.hits + 1
      if hit_ok(bp.hit, bp.hits) then
        if bp.log then
          BUSY = true
          local text = interpolate(env, bp.log)
          BUSY = false
          PY.log(text .. "\n")
        else
          stop_here("breakpoint", nil, nil, tostring(bp.id))
          return
        end
      end
    end
  end
  if MODE == nil then return end
  if MODE == "in" or MODE == "pause" or MODE == "entry" then
    local reason = (MODE == "in") and "step" or MODE
    stop_here(reason)
    return
  end
  local depth = spell_depth(co_running())
  if (MODE == "over" and depth <= MODE_DEPTH) or (MODE == "out" and depth < MODE_DEPTH) then
    stop_here("step")
  end
end

-- does function f (a spell function) have a breakpoint on one of its own lines?
local function needs(f)
  local n = NEED[f]
  if n == nil then
    n = false
    local info = debug_getinfo(f, "SL")
    local bps = info and BPS[info.source]
    if bps and info.activelines then
      for line in pairs(info.activelines) do
        if bps[line] then n = true break end
      end
    end
    NEED[f] = n
  end
  return n
end

-- "bp" mode hooks (levels inside a hook: 2 = the function the event is about, 3 = its caller).
--   hook_off   mask "c":   no line events; a call into a function that needs them switches to hook_on
--   hook_on    mask "crl": line events; a return into a Lua function that needs none switches off
--   hook_probe mask "crl": not known yet (just installed, or returned into C): the first event decides
-- A call is one getinfo and a table lookup; a loop without calls costs nothing at all.
local hook_on, hook_off   -- forward

-- does a function from `level` down (as seen by the caller of this function) need line events? Line
-- events may only go off when none does: hook_off sees no returns, so it could not switch them back
-- on when control returns into such a function.
local function below_needs(level)
  while true do
    local info = debug_getinfo(level, "f")
    if not info then return false end
    if needs(info.func) then return true end
    level = level + 1
  end
end


-- Stepping over / out of a line: a call into a Lua function can never be where the step ends (the
-- step ends at the stepping frame's depth or above), so line events go off for the call's duration:
-- hook_deep (mask "cr") waits for the return to that depth. Depth is counted in stack levels from the
-- hooked function down; a frame unwound by an error gives no return event, but the next return at or
-- above the recorded depth (the pcall that caught it) still brings line events back.
local function depth_here()   -- levels from the hooked function (level 3 seen from here) down
  local n = 3
  while debug_getinfo(n, "l") do n = n + 1 end
  return n - 3
end

local hook_deep

hook_full = function(event, line)
  if event == "line" then
    if MODE == nil and not LINES[line] then return end
    slow(line)
  elseif event == "count" then
    COUNT_HOOK()
  elseif (MODE == "over" or MODE == "out") and event ~= "return" then
    local info = debug_getinfo(2, "Sf")
    -- a callee with breakpoints of its own keeps its line events (they may hit during the step)
    if info.what ~= "C" and (NBP == 0 or not needs(info.func)) then
      DEEP[co_running()] = depth_here()
      debug_sethook(hook_deep, "cr", STEP)
    end
  end
end

hook_deep = function(event)
  if event == "count" then COUNT_HOOK() return end
  if event == "call" or event == "tail call" then
    if NBP > 0 then
      local info = debug_getinfo(2, "Sf")
      if info.what ~= "C" and needs(info.func) then debug_sethook(hook_full, "crl", STEP) end
    end
  elseif event == "return" then
    local co = co_running()
    local l0 = DEEP[co]
    if l0 == nil or depth_here() <= l0 then
      DEEP[co] = nil
      debug_sethook(hook_full, "crl", STEP)
    end
  end
end

hook_off = function(event)
  if event == "count" then COUNT_HOOK() return end
  local info = debug_getinfo(2, "f")
  if info and needs(info.func) then debug_sethook(hook_on, "crl", STEP) end
end

hook_on = function(event, line)
  if event == "line" then
    if MODE == nil and not LINES[line] then return end
    slow(line)
  elseif event == "count" then
    COUNT_HOOK()
  elseif event == "return" then
    local info = debug_getinfo(3, "Sf")
    if info == nil or info.what == "C" then
      debug_sethook(hook_probe, "crl", STEP)
    elseif not needs(info.func) and not below_needs(5) then
      debug_sethook(hook_off, "c", STEP)
    end
  end
end

hook_probe = function(event, line)
  if event == "count" then COUNT_HOOK() return end
  if event == "line" then
    local info = debug_getinfo(2, "f")
    if info and needs(info.func) or below_needs(4) then
      debug_sethook(hook_on, "crl", STEP)
      -- called from here directly, as hook_on does: slow() reads the spell's frame at a fixed level
      -- (3), so one extra Lua frame in between made it miss this line (the first line after every
      -- re-install, e.g. a logpoint right after a breakpoint condition was evaluated)
      if MODE ~= nil or LINES[line] then slow(line) end
    else
      debug_sethook(hook_off, "c", STEP)
    end
  elseif event == "call" or event == "tail call" then
    local info = debug_getinfo(2, "f")
    if info and needs(info.func) then debug_sethook(hook_on, "crl", STEP) end
  end
end

------------------------------------------------------------------------------------ coroutines

-- In a debugged spell every coroutine joins the resume chain while it runs (so stack traces and step
-- depths follow it) and arms the current hook on itself (hooks are per thread).
function D.patch_env(env)
  ENV = env
  BASE = {}
  for k in pairs(env) do BASE[k] = true end
  local co_lib = env.coroutine
  local function armed(f)
    if type(f) ~= "function" then return f end
    return function(...)
      M.arm_thread(nil)
      return f(...)
    end
  end
  local function resume(co, ...)
    CUR[#CUR + 1] = co
    local res = tbl_pack(co_resume(co, ...))
    CUR[#CUR] = nil
    if not res[1] and (FILTERS.raised) and not rawequal(res[2], KILL) and not M.is_killed() and not BUSY then
      -- the coroutine died of this error; its stack is still there to look at
      BUSY = true
      begin_stop(co, nil)
      STOP.error = res[2]
      local mode = PY.pause("exception", "Error in a coroutine", safe_tostring(res[2]), "")
      end_stop(mode)
      BUSY = false
      if mode == "kill" then M.kill("cancel", nil, 2) end
    end
    return tbl_unpack(res, 1, res.n)
  end
  co_lib.create = function(f)
    local co = co_create(armed(f))
    THREADS[co] = true
    return co
  end
  co_lib.resume = resume
  co_lib.wrap = function(f)
    local co = co_create(armed(f))
    THREADS[co] = true
    return function(...)
      local res = tbl_pack(resume(co, ...))
      if not res[1] then error(res[2], 0) end
      return tbl_unpack(res, 2, res.n)
    end
  end
  -- errors a pcall/xpcall catches: the handler runs where the error was raised (stack intact)
  local function on_raise(e)
    if FILTERS.raised and not BUSY and not rawequal(e, KILL) and not M.is_killed() then
      stop_here("exception", "Error (caught by pcall)", nil, nil, e)
    end
    return e
  end
  env.pcall = function(f, ...) return xpcall(f, on_raise, ...) end
  env.xpcall = function(f, h, ...)
    return xpcall(f, function(e) on_raise(e); return h(e) end, ...)
  end
end

function D.start(co)
  THREADS[co] = true
  CUR[1] = co
end

-- the spell's main coroutine died of an error nothing caught: stop on its (intact) stack
function D.uncaught(co, e)
  if rawequal(e, KILL) or M.is_killed() or BUSY then return end
  if not (FILTERS.error or FILTERS.raised) then return end
  BUSY = true
  CUR = {co}
  begin_stop(co, nil)
  STOP.error = e
  local mode = PY.pause("exception", "Uncaught error", safe_tostring(e), "")
  STOP = nil
  MODE = nil
  BUSY = false
  CUR = {}
  if mode == "kill" then M.kill("cancel", nil, 2) end
end

-- an error raised by a function the runtime called (a hook, an event handler): the handler runs at the
-- raise point
function D.callback_error(e)
  if rawequal(e, KILL) or M.is_killed() or BUSY then return end
  if not (FILTERS.error or FILTERS.raised) then return end
  stop_here("exception", "Error in a callback", nil, nil, e)
end

-- the count hook found commands waiting (CHECK answered 2): let Python apply them; a pause request
-- becomes "stop at the next spell line" on this thread
function D.attention()
  if BUSY or STOP then return end
  BUSY = true
  local r = PY.drain()
  BUSY = false
  if r == "pause" then
    MODE = "pause"
    install()
  end
end

------------------------------------------------------------------------------------ commands (from Python)

function D.set_breakpoints(src, list)
  -- list: {{line=, id=, condition=, hit=, log=}, ...}; replaces every breakpoint of that source
  local old = BPS[src]
  if old then
    for line in pairs(old) do
      LINES[line] = LINES[line] - 1
      if LINES[line] <= 0 then LINES[line] = nil end
      NBP = NBP - 1
    end
  end
  local new = {}
  for _, b in ipairs(list) do
    if not new[b.line] then
      new[b.line] = {id = b.id, condition = b.condition, hit = b.hit, log = b.log, hits = 0}
      LINES[b.line] = (LINES[b.line] or 0) + 1
      NBP = NBP + 1
    end
  end
  BPS[src] = next(new) and new or nil
  NEED = setmetatable({}, {__mode = "k"})
  if HOOKED == "bp" then HOOKED = "rearm" end   -- every thread re-probes its current function
  install()
end

-- nil when `expr` compiles as an expression, else the compiler's message (conditions, {log} parts)
function D.check_expression(expr)
  local fn, err = load("return " .. expr, "=(expression)", "t", {})
  if fn then return nil end
  return (str_gsub(tostring(err), "^%(expression%):1: ", ""))
end

function D.set_filters(error_on, raised_on)
  FILTERS.error = error_on and true or nil
  FILTERS.raised = raised_on and true or nil
end

function D.stop_on_entry()
  MODE = "entry"
  install()
end

function D.request_pause()
  if STOP then return end
  MODE = "pause"
  install()
end

-- a stop decided in Python (a hook point, an event, a pause while the spell waits on the runtime):
-- the innermost spell thread is the one blocked in the call
function D.external_begin(extra)
  local T = CUR[#CUR] or MAIN
  begin_stop(T, extra)
  BUSY = true
  return #STOP.frames
end

function D.external_end(mode)
  end_stop(mode)
  BUSY = false
end

function D.is_stopped() return STOP ~= nil end

function D.noop() end

-- the scope a runtime-aware stop shows first ("Hook context", "Event")
local READONLY = setmetatable({}, {__mode = "k"})   -- tables of a Hook context / Event scope (copies)

local function mark_readonly(t, depth)
  if type(t) ~= "table" or READONLY[t] or depth > 100 then return end
  READONLY[t] = true
  for _, v in next, t do mark_readonly(v, depth + 1) end
end

function D.set_stop_scope(name, value)
  if STOP and type(value) == "table" then
    mark_readonly(value, 0)
    STOP.extra = {name = name, value = value}
  end
end

function D.clear_pause()
  if MODE == "pause" then MODE = nil; install() end
end

-- frames [first, last] of the stop (1-based), and how many there are. Depths are counted once per
-- thread: level_of() walks the whole stack, so a 15,000-deep recursion took 225 million getinfo calls
-- per request (the Call Stack view never answered); editors ask for 20 frames at a time anyway.
function D.stack_trace(first, last)
  local out = {}
  local total = #STOP.frames
  first = math.max(1, math.tointeger(first) or 1)
  last = math.min(total, math.tointeger(last) or total)
  local depth = {}
  for i = first, last do
    local fr = STOP.frames[i]
    local n = depth[fr.co]
    if n == nil then
      n = levels(fr.co)   -- as seen from here (levels() leaves out its own frame)
      depth[fr.co] = n
    end
    local info = debug_getinfo(fr.co, n - fr.b, "nSl")
    if info then
      local name = info.name
      if not name then
        if info.what == "main" then name = "main chunk"
        else name = str_format("function <%s:%d>", info.short_src, info.linedefined) end
      end
      if fr.note then name = name .. fr.note end
      out[#out + 1] = {id = i, name = name, source = str_sub(info.source, 2), line = info.currentline}
    end
  end
  return out, total
end

function D.scopes(frame_id)
  local fr = STOP.frames[frame_id]
  if not fr then return nil end
  local out = {
    {name = "Locals", presentationHint = "locals", variablesReference = new_ref({kind = "locals", fr = fr})},
    {name = "Upvalues", variablesReference = new_ref({kind = "upvalues", fr = fr})},
    {name = "Globals", variablesReference = new_ref({kind = "globals"})},
  }
  if STOP.extra then
    local ref = new_ref({kind = "table", t = STOP.extra.value})
    table.insert(out, 1, {name = STOP.extra.name, variablesReference = ref})
  end
  return out
end

local function list_vars(entry)
  local out = {}
  if entry.kind == "locals" then
    for _, l in ipairs(frame_locals(entry.fr)) do out[#out + 1] = var(l.name, l.value, l.name) end
  elseif entry.kind == "upvalues" then
    for _, u in ipairs(upvalues_of(frame_func(entry.fr))) do out[#out + 1] = var(u.name, u.value, u.name) end
  elseif entry.kind == "globals" then
    -- capped like a table's fields: 300,000 globals made a response larger than a run message may
    -- be, and the supervisor ended the run over it
    local names, more = {}, false
    if ENV then
      for k in next, ENV do
        if not BASE[k] and type(k) == "string" then
          if #names >= 1000 then more = true break end
          names[#names + 1] = k
        end
      end
    end
    tbl_sort(names)
    for _, k in ipairs(names) do out[#out + 1] = var(k, rawget(ENV, k), k) end
    if more then out[#out + 1] = {name = "…", value = "(more globals not shown)", variablesReference = 0} end
  elseif entry.kind == "table" then
    local keys, more = sorted_keys(entry.t, 1000)
    for _, k in ipairs(keys) do out[#out + 1] = var(key_name(k), rawget(entry.t, k)) end
    if more then out[#out + 1] = {name = "…", value = "(more entries not shown)", variablesReference = 0} end
  end
  return out
end

function D.variables(ref)
  local entry = STOP.refs[ref]
  if not entry then return nil end
  return list_vars(entry)   -- each value's __tostring is metered in fmt (one slow value, not the view)
end

local function parse_key(name)
  local inner = str_match(name, "^%[(.*)%]$")
  if not inner then return name end
  local n = tonumber(inner)
  if n then return n end
  local s = str_match(inner, '^"(.*)"$') or str_match(inner, "^'(.*)'$")
  return s or inner
end

-- value is already a plain Lua value (parsed in Python); returns the new display or nil, error
function D.set_variable(ref, name, value)
  local entry = STOP.refs[ref]
  if not entry then return nil, "unknown variablesReference " .. tostring(ref) end
  if entry.kind == "locals" then
    local fr = entry.fr
    local found
    for _, l in ipairs(frame_locals(fr)) do if l.name == name then found = l end end
    if not found then return nil, "no local named " .. name end
    debug_setlocal(fr.co, level_of(fr), found.index, value)
  elseif entry.kind == "upvalues" then
    local f = frame_func(entry.fr)
    local found
    for _, u in ipairs(upvalues_of(f)) do if u.name == name then found = u end end
    if not found then return nil, "no upvalue named " .. name end
    debug_setupvalue(f, found.index, value)
  elseif entry.kind == "globals" then
    if BASE[name] then return nil, name .. " is part of the llmspell API and cannot be replaced" end
    rawset(ENV, name, value)
  elseif entry.kind == "table" then
    if READONLY[entry.t] then
      return nil, "the hook context / event shown here is a copy for reading; changing it would change nothing"
    end
    rawset(entry.t, parse_key(name), value)
  end
  return var(name, value)
end

function D.evaluate(frame_id, expr)
  local env
  local fr = frame_id and STOP.frames[frame_id]
  if fr then
    local locals = frame_locals(fr)
    env = frame_env(locals, upvalues_of(frame_func(fr)))
  else
    env = frame_env({}, {})
  end
  local r = budgeted(function()
    local ok, res = eval_in(env, expr)
    if not ok then return nil, res end
    if res.n < 2 then return var("result", nil) end
    return var("result", res[2])
  end)
  if not r[1] then return nil, tostring(r[2]) end
  return r[2], r[3]
end

function D.exception_info()
  if not STOP or STOP.error == nil then return nil end
  local e = STOP.error
  local text = safe_tostring(e)
  local tb = ""
  local ok, s = pcall(debug.traceback, STOP.thread, text, 0)
  if ok then tb = s end
  return {text = text, traceback = tb, kind = type(e) == "table" and rawget(e, "kind") or "script"}
end

return D
