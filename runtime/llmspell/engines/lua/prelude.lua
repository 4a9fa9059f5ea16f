-- llmspell Lua prelude: runs once in each spell's fresh LuaRuntime, before the sandbox exists.
--
-- Why it is written in Lua: calls between Lua tables are ~10x cheaper than method calls on Python
-- objects, and scripts must only ever see Lua values (tables, functions), never Python objects. Every
-- global is generated generically from the Python declaration: Python tells this prelude which classes
-- exist and which methods they have; each method is a small closure that calls ONE Python function
-- (BRIDGE) with a handle id. Nothing here knows about Agent, Tool or any other particular global.
--
-- Protocol of the Python callables (status first, so no Python exception ever reaches Lua):
--   BRIDGE(hid, name, ...)  -> 0, results...            | 1, kind, message, type, details | 2 (killed)
--   INDEX(hid, key)         -> 0, value                 | 1, ... | 2
--   CHECK()                 -> true when the spell must stop (cancel / wall time)
--   NOTE_KILL(kind, message, file, line)                records why the spell is being killed
--   EMIT(stream, text)                                  print / io.write capture
--   OPEN_PATH(path, mode)   -> 0, path to open           | 1, message   (the gate's fd as /proc/self/fd/N;
--                                                                        mode "remove"/"rename" act here)
--   READ_SOURCE(kind, name) -> 0, source, chunkname      | 1, message     (kind = "module" | "file")
--   GETENV(name)            -> string | nil

local BRIDGE, INDEX, CHECK, NOTE_KILL, EMIT, OPEN_PATH, READ_SOURCE, GETENV, CONST = ...

local debug_sethook, debug_traceback, debug_getinfo = debug.sethook, debug.traceback, debug.getinfo
local co_create, co_resume, co_status = coroutine.create, coroutine.resume, coroutine.status
local setmetatable, getmetatable, rawget, rawset, rawequal = setmetatable, getmetatable, rawget, rawset, rawequal
local type, select, error, tostring, pairs, ipairs, pcall, xpcall, next =
  type, select, error, tostring, pairs, ipairs, pcall, xpcall, next
local tbl_concat, tbl_pack, tbl_unpack = table.concat, table.pack, table.unpack
local str_format, str_gsub, str_match, str_find = string.format, string.gsub, string.match, string.find
local math_type, math_floor, math_tointeger, utf8_len = math.type, math.floor, math.tointeger, utf8.len
local real_load, real_io_open, real_gc = load, io.open, collectgarbage
local os_time, os_clock, os_date, os_difftime = os.time, os.clock, os.date, os.difftime
local string_lib = string

-- The string metatable's __index IS this global table (shared by every chunk of the runtime), so a
-- copy in the sandbox is not enough: ("").dump would still reach it.
string.dump = nil

local PRELUDE_SRC = "=[llmspell]"
local M = {}

------------------------------------------------------------------------------------------ killing
-- Once a spell is killed (cancel, wall time, os.exit, instruction budget) every Lua instruction on
-- every thread raises KILL: pcall cannot swallow it, because the handler's own code raises again.
local KILL = setmetatable({}, {__tostring = function() return "llmspell: spell stopped" end, __metatable = false})
local KILLED = false
local STEP, BUDGET, USED = CONST.step, CONST.budget, 0

local function killer() error(KILL, 0) end

local function where()
  -- the innermost frame that is spell code (not the prelude, not C): the line of the spell's call
  local level = 2
  while true do
    local info = debug_getinfo(level + 1, "Sl")
    if not info then return nil, nil end
    if info.what ~= "C" and info.source ~= PRELUDE_SRC and info.currentline and info.currentline > 0 then
      local src = info.source
      if type(src) == "string" and src:sub(1, 1) == "@" then return src:sub(2), info.currentline end
      return info.short_src, info.currentline
    end
    level = level + 1
  end
end

local function kill(kind, message, level)
  if not KILLED then
    KILLED = true
    local file, line = where()
    NOTE_KILL(kind, message, file, line)
  end
  debug_sethook(killer, "", 1)
  error(KILL, 0)
end
M.kill = kill

-- A debugger (llmspell.debugger, only in a debugged run) sets DBG: CHECK may then answer 2 ("the
-- debugger has commands"), and the debugger may replace the hook of every thread with one that does
-- this count duty *and* line breakpoints (Lua has one hook per thread, so the two must be composed).
local DBG = nil

local function hook()
  if KILLED then debug_sethook(killer, "", 1); error(KILL, 0) end
  USED = USED + STEP
  if BUDGET > 0 and USED > BUDGET then
    kill("limit", str_format("instruction budget exceeded (%d instructions)", BUDGET), 2)
  end
  local c = CHECK()
  if c then
    if c == 2 and DBG then DBG.attention() else kill("cancel", nil, 2) end
  end
end
M.count_hook = hook
M.KILL = KILL

-- the hook new threads arm themselves with (the count hook; a debugger's composed hook while it
-- needs line events)
local HOOK_FN, HOOK_MASK = hook, ""
local function arm_thread(co)
  if KILLED then
    if co then debug_sethook(co, killer, "", 1) else debug_sethook(killer, "", 1) end
  elseif co then debug_sethook(co, HOOK_FN, HOOK_MASK, STEP)
  else debug_sethook(HOOK_FN, HOOK_MASK, STEP) end
end
M.arm_thread = arm_thread

function M.set_debugger(d) DBG = d end
function M.set_hook(fn, mask) HOOK_FN = fn or hook; HOOK_MASK = mask or "" end

function M.arm()
  -- the main thread is metered too: callbacks the runtime calls run on it, and every coroutine
  -- created from it (the spell's main coroutine, the user's own) inherits this hook
  arm_thread(nil)
end

------------------------------------------------------------------------------------------ errors
local ErrMT = {__metatable = "llmspell error"}
ErrMT.__tostring = function(e)
  local prefix = ""
  if rawget(e, "file") then prefix = rawget(e, "file") .. ":" .. tostring(rawget(e, "line")) .. ": " end
  local kind = rawget(e, "kind")
  if kind == "script" then return prefix .. tostring(rawget(e, "message")) end
  return prefix .. tostring(kind) .. " error: " .. tostring(rawget(e, "message"))
end
ErrMT.__concat = function(a, b) return tostring(a) .. tostring(b) end
ErrMT.__len = function(e) return #tostring(e) end
ErrMT.__eq = function(a, b) return tostring(a) == tostring(b) end
-- err:match(...), err:find(...), err:sub(...) work as on the message string
ErrMT.__index = function(e, k)
  local f = string_lib[k]
  if f then return function(self, ...) return f(tostring(self), ...) end end
  return nil
end
M.ErrMT = ErrMT

local function raise(kind, message, typename, details, level)
  local file, line = where()
  local e = setmetatable({kind = kind, message = message, type = typename, details = details,
                          file = file, line = line}, ErrMT)
  error(e, 0)
end
M.raise = raise

local function fail(st, kind, message, typename, details)
  if st == 2 or KILLED then
    KILLED = true
    debug_sethook(killer, "", 1)
    error(KILL, 0)
  end
  raise(kind, message, typename, details, 3)
end

local function ret(st, ...)
  if st == 0 then return ... end
  return fail(st, ...)
end

------------------------------------------------------------------------------------------ objects
local HANDLES = setmetatable({}, {__mode = "k"})   -- object table -> handle id (hidden from scripts)
local CACHE = setmetatable({}, {__mode = "v"})     -- handle id -> object table (identity is kept)
local CLASS_MT = {}

local function var_name(display)
  local v = str_gsub(display, "Instance$", "")
  v = str_gsub(v, "Handle$", "")
  return (str_gsub(v, "^%u", string.lower))
end

function M.define_class(key, display, names)
  local methods = {}
  local var = var_name(display)
  for i = 1, #names do
    local name = names[i]
    methods[name] = function(self, ...)
      local hid = HANDLES[self]
      if hid == nil then
        raise("validation", str_format("%s.%s is a method: call it with a colon, use %s:%s(...), not %s.%s(...)",
          display, name, var, name, var, name), "ValidationError", nil, 2)
      end
      return ret(BRIDGE(hid, name, ...))
    end
  end
  local mt = {
    __index = methods,
    __metatable = display,
    __name = display,
    __tostring = function(o)
      local label = rawget(o, "name") or rawget(o, "id")
      if label ~= nil then return display .. ": " .. tostring(label) end
      return display
    end,
  }
  CLASS_MT[key] = mt
end

function M.make_object(hid, key, fields)
  local o = CACHE[hid]
  if o == nil then
    o = fields or {}
    HANDLES[o] = hid
    CACHE[hid] = o
    return setmetatable(o, CLASS_MT[key])
  end
  if fields then for k, v in pairs(fields) do rawset(o, k, v) end end
  return o
end

function M.make_function(hid)
  -- a Python callable handed to the spell (rare: most results are plain data or API objects)
  return function(...) return ret(BRIDGE(hid, "__call", ...)) end
end

function M.handle_of(t)
  return HANDLES[t]
end

function M.make_global(hid, display, names, fields, dynamic)
  local g = fields or {}
  for i = 1, #names do
    local name = names[i]
    g[name] = function(...)
      if rawequal((...), g) then  -- Agent:builder() works like Agent.builder()
        return ret(BRIDGE(hid, name, select(2, ...)))
      end
      return ret(BRIDGE(hid, name, ...))
    end
  end
  local mt = {__metatable = display, __name = display, __tostring = function() return display end}
  if dynamic then
    mt.__index = function(_, key)
      if type(key) ~= "string" then return nil end
      return ret(INDEX(hid, key))
    end
  end
  HANDLES[g] = hid
  return setmetatable(g, mt)
end

------------------------------------------------------------------------------------------ output
local function fmt(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then
    if math_type(v) == "float" and v == math_floor(v) and v > -9.2e18 and v < 9.2e18 then
      return str_format("%d", v)
    end
    return tostring(v)
  end
  if t == "nil" or t == "boolean" then return tostring(v) end
  if t == "table" then
    local mt = getmetatable(v)
    if mt ~= nil then
      local ok, s = pcall(tostring, v)
      if ok and type(s) == "string" and not str_find(s, "^table: ") then return s end
    end
    return "table"
  end
  return t
end

local function clean(s)
  if utf8_len(s) then return s end
  return (str_gsub(s, "[\128-\255]", "?"))
end

local function print_(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do parts[i] = fmt((select(i, ...))) end
  EMIT("stdout", clean(tbl_concat(parts, "\t")) .. "\n")
end

local function writer(stream)
  local obj = {}
  local function write(...)
    local n = select("#", ...)
    local parts = {}
    for i = 1, n do
      local v = select(i, ...)
      local t = type(v)
      if t == "string" then parts[i] = v
      elseif t == "number" then parts[i] = fmt(v)
      else error(str_format("bad argument #%d to 'write' (string expected, got %s)", i, t), 2) end
    end
    EMIT(stream, clean(tbl_concat(parts)))
    return obj
  end
  obj.write = function(self, ...)
    if rawequal(self, obj) then return write(...) end
    return write(self, ...)
  end
  obj.flush = function() return obj end
  obj.close = function() return true end
  obj.setvbuf = function() return true end
  return obj, write
end

------------------------------------------------------------------------------------------ sandbox
local SAFE = {"assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber", "tostring",
              "type", "xpcall", "rawequal", "rawget", "rawlen", "rawset", "setmetatable", "_VERSION"}
local LIBS = {"string", "table", "math", "utf8", "coroutine"}

local function copy(t) local c = {} for k, v in pairs(t) do c[k] = v end return c end

local PROVIDER_MT = {
  __tostring = function(p) return tostring(rawget(p, "name")) end,
  __concat = function(a, b)
    local function s(x) return type(x) == "table" and tostring(x) or x end
    return s(a) .. s(b)
  end,
}

function M.make_env(api)
  local env = {}
  for _, k in ipairs(SAFE) do env[k] = _G[k] end
  for _, lib in ipairs(LIBS) do env[lib] = copy(_G[lib]) end
  env.string.dump = nil
  env.print = print_

  -- A Lua-level hook is stored per thread (debug.sethook keeps a thread -> function table), so new
  -- coroutines would run unmetered and uncancellable: each one arms the hook on itself first.
  local function metered(f)
    if type(f) ~= "function" then return f end
    return function(...)
      arm_thread(nil)
      return f(...)
    end
  end
  local real_create, real_wrap = coroutine.create, coroutine.wrap
  env.coroutine.create = function(f) return real_create(metered(f)) end
  env.coroutine.wrap = function(f) return real_wrap(metered(f)) end

  env.getmetatable = function(o)
    if type(o) == "string" then return nil end  -- the string metatable is shared: never hand it out
    return getmetatable(o)
  end
  env.collectgarbage = function(opt, ...)
    opt = opt or "collect"
    if opt == "count" or opt == "collect" or opt == "step" or opt == "isrunning" then return real_gc(opt, ...) end
    error("collectgarbage('" .. tostring(opt) .. "') is not available in spells", 2)
  end

  local stdout, write_out = writer("stdout")
  local stderr = writer("stderr")
  local function open(path, mode)
    if type(path) ~= "string" then error("bad argument #1 to 'open' (string expected, got " .. type(path) .. ")", 2) end
    mode = mode or "r"
    local st, p = OPEN_PATH(path, mode)
    if st ~= 0 then return nil, p, 13 end
    return real_io_open(p, mode)
  end
  env.io = {
    write = write_out, stdout = stdout, stderr = stderr, open = open,
    read = function() return nil end,
    lines = function(path, ...)
      if path == nil then error("io.lines() without a file name is not available in spells (no stdin)", 2) end
      local f, err = open(path, "r")
      if not f then error(err, 2) end
      return f:lines(...)
    end,
    type = io.type,
  }

  env.os = {
    time = os_time, clock = os_clock, date = os_date, difftime = os_difftime,
    getenv = function(name) if type(name) ~= "string" then return nil end return GETENV(name) end,
    exit = function(code)
      if code == nil or code == true then code = 0 elseif code == false then code = 1 end
      if math_type(code) == nil then error("bad argument #1 to 'exit' (number expected)", 2) end
      -- as Lua's own os.exit: a float must have an integer value (1e308, inf and NaN do not)
      local n = math_tointeger(math_type(code) == "float" and code == code and math_floor(code) or code)
      if n == nil then error("bad argument #1 to 'exit' (number has no integer representation)", 2) end
      kill("exit", str_format("%d", n), 2)
    end,
    -- done in Python on the path gate's directory fds (a checked name is never re-resolved)
    remove = function(path)
      local st, msg = OPEN_PATH(path, "remove")
      if st ~= 0 then return nil, msg end
      return true
    end,
    rename = function(a, b)
      local st, msg = OPEN_PATH(a, "rename", b)
      if st ~= 0 then return nil, msg end
      return true
    end,
    -- spells have no shell: os.execute() says so (false, as a Lua built without one); the one idiom
    -- that needs none, os.execute("sleep N"), waits through Utils.sleep (wall time and cancel apply);
    -- anything else fails as a missing shell would (nil, "exit", 127), with a note naming the tool
    execute = function(cmd)
      if cmd == nil then return false end
      if type(cmd) ~= "string" then error("bad argument #1 to 'execute' (string expected, got " .. type(cmd) .. ")", 2) end
      local secs = str_match(cmd, "^%s*sleep%s+(%d+%.?%d*)%s*$")
      local utils = rawget(env, "Utils")
      if secs and type(utils) == "table" and utils.sleep then
        utils.sleep(tonumber(secs))
        return true, "exit", 0
      end
      stderr:write("os.execute: spells have no shell; run a program with Tool.execute(\"process-executor\", "
        .. "{executable = ..., arguments = {...}}) (allowed by security.process_allow)\n")
      return nil, "exit", 127
    end,
    -- a new empty file under /tmp (the workspace's private temp folder unless security.temp_dir says otherwise)
    tmpname = function()
      local st, name = OPEN_PATH("", "tmpname")
      if st ~= 0 then error(name, 2) end
      return name
    end,
  }

  local function safe_load(chunk, name, mode, e)
    if mode ~= nil and mode ~= "t" and mode ~= "bt" then return nil, "binary chunks are not allowed in spells" end
    return real_load(chunk, name, "t", e == nil and env or e)
  end
  env.load = safe_load

  local function loadfile_(path, mode, e)
    if mode ~= nil and mode ~= "t" and mode ~= "bt" then return nil, "binary chunks are not allowed in spells" end
    if type(path) ~= "string" then return nil, "loadfile: a file name is required in spells" end
    local st, src, chunkname = READ_SOURCE("file", path)
    if st ~= 0 then return nil, src end
    return real_load(src, chunkname, "t", e == nil and env or e)
  end
  env.loadfile = loadfile_
  env.dofile = function(path)
    local fn, err = loadfile_(path)
    if not fn then error(err, 2) end
    return fn()
  end

  local loaded = {}
  for _, lib in ipairs(LIBS) do loaded[lib] = env[lib] end
  loaded.io = env.io; loaded.os = env.os
  env.package = {loaded = loaded, path = CONST.package_path, config = "/\n;\n?\n!\n-\n"}
  env.require = function(name)
    if type(name) ~= "string" then error("bad argument #1 to 'require' (string expected)", 2) end
    local v = loaded[name]
    if v ~= nil then return v end
    local st, src, chunkname = READ_SOURCE("module", name)
    if st ~= 0 then error(src, 2) end
    local fn, err = real_load(src, chunkname, "t", env)
    if not fn then error(err, 2) end
    local r = fn(name, chunkname)
    if r == nil then r = loaded[name] or true end
    loaded[name] = r
    return r
  end

  for k, v in pairs(api) do env[k] = v end
  env._G = env
  local P = env.Provider
  local plist = type(P) == "table" and rawget(P, "list")
  if type(plist) == "function" then
    -- rs-llmspell's getting-started/04 concatenates a Provider.list() entry as if it were its name
    -- (it never noticed: without API keys that list is empty there); entries stand for their name.
    rawset(P, "list", function(...)
      local r = plist(...)
      if type(r) == "table" then
        for _, p in ipairs(r) do
          if type(p) == "table" and getmetatable(p) == nil then setmetatable(p, PROVIDER_MT) end
        end
      end
      return r
    end)
  end
  return env
end

------------------------------------------------------------------------------------------ running
local function error_info(e, co)
  -- -> text, kind, file, line, traceback
  if rawequal(e, KILL) or KILLED then return nil end
  local text, kind, file, line
  if type(e) == "table" and getmetatable(e) == "llmspell error" then
    text = tostring(e); kind = rawget(e, "kind"); file = rawget(e, "file"); line = rawget(e, "line")
  elseif type(e) == "string" then
    text = e; kind = "script"
  else
    local ok, s = pcall(tostring, e)
    text = ok and s or type(e); kind = "script"
  end
  local tb
  if co then
    local ok, s = pcall(debug_traceback, co, text)
    tb = ok and s or text
  end
  return text, kind, file, line, tb
end

function M.run_main(code, chunkname, env, ...)
  local fn, err = real_load(code, chunkname, "t", env)
  if not fn then return "syntax", err end
  local co = co_create(fn)
  arm_thread(co)
  if DBG then DBG.start(co) end
  local res = tbl_pack(co_resume(co, ...))
  if KILLED then return "killed" end
  if DBG and not res[1] then DBG.uncaught(co, res[2]) end
  if res[1] then
    if co_status(co) == "suspended" then
      return "error", "coroutine.yield() called outside a coroutine (at the top level of the spell)", "script"
    end
    return "ok", tbl_pack(tbl_unpack(res, 2, res.n))
  end
  local text, kind, file, line, tb = error_info(res[2], co)
  if text == nil then return "killed" end
  return "error", text, kind, file, line, tb, res[2]
end

-- Run a script function on behalf of the runtime (hook, event handler, step function). It runs on
-- the main thread, which carries the count hook, so it is metered and cancellable like the spell.
local function handler(e)
  if rawequal(e, KILL) or KILLED then return KILL end
  if DBG then DBG.callback_error(e) end
  local text, kind, file, line = error_info(e, nil)
  local ok, tb = pcall(debug_traceback, text, 2)
  return {text, kind, file, line, ok and tb or text, e}
end

function M.invoke(fn, ...)
  local res = tbl_pack(xpcall(fn, handler, ...))
  if KILLED then return 2 end
  if res[1] then return 0, res[2] end
  local info = res[2]
  if type(info) ~= "table" or rawequal(info, KILL) then return 2 end
  return 1, info[1], info[2], info[3], info[4], info[5], info[6]
end

function M.is_killed() return KILLED end

-- Called from Python with a function received on another Lua thread: the returned reference belongs
-- to the main thread, so it stays valid after that thread (the spell's coroutine) is gone.
function M.anchor(x) return x end

-- Where a function was defined ("spells/x.lua:12"), so hooks and callbacks can be named by their place
-- in the spell instead of by a generated id.
function M.defined_at(f)
  local info = debug_getinfo(f, "S")
  if info and info.what == "Lua" and (info.linedefined or 0) > 0 then
    return info.short_src .. ":" .. info.linedefined
  end
  return nil
end

M.new_table = function() return {} end

return M
