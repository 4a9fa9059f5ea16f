"""The language's own library as spells see it: Lua 5.4 (as the sandbox provides it) and the QuickJS globals.

Only what a spell can actually call is listed: the Lua sandbox (``engines/lua/prelude.lua``) copies the
basic functions in its ``SAFE`` list, the ``string``/``table``/``math``/``utf8``/``coroutine`` libraries,
and builds its own ``io`` (write/read/open/lines/type/stdout/stderr) and ``os`` (time/clock/date/difftime/
getenv/exit/remove/rename/execute/tmpname); ``require``/``load``/``dofile``/``loadfile`` read through the
workspace's path gate. ``debug`` is not there, neither is ``string.dump``. The JS engine (QuickJS) has the
ECMAScript built-ins plus what the prelude defines: ``console``, ``setTimeout``/``clearTimeout``,
``queueMicrotask``, ``sleep``, ``exit`` and a frozen ``process``.

Each entry is ``name -> (signature, one-line doc)``; a signature is written as the user would call it
(``string.format(fmt, ...)``), and its parameter list feeds signature help.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from llmspell_ls.apimodel import Lang

if TYPE_CHECKING:
    from llmspell_ls.analysis.common import Seg, TypeEngine


@dataclass(frozen=True, slots=True)
class StdEntry:
    name: str
    """Full name as written: ``print``, ``string.format``, ``Math.max``."""
    signature: str
    """``string.format(fmt: string, ...) -> string``; empty for values (``math.pi``)."""
    doc: str
    module: str = ""
    """``string`` for ``string.format``; ``""`` for a basic function / global."""

    @property
    def short(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def is_function(self) -> bool:
        return "(" in self.signature

    @property
    def params(self) -> list[str]:
        """Parameter labels of the signature (``fmt: string``, ``...``)."""
        if "(" not in self.signature:
            return []
        inner = self.signature[self.signature.index("(") + 1:self.signature.rindex(")")]
        return [p.strip() for p in _split_params(inner) if p.strip()]


def _split_params(s: str) -> list[str]:
    out: list[str] = []
    depth = 0
    cur = ""
    for ch in s:
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


_LUA_BASIC = {
    "print": ("print(...: any)", "Writes its arguments to the spell's output, separated by tabs (tostring on each)."),
    "pairs": ("pairs(t: table) -> function, table, nil", "Iterates over all key/value pairs of a table: "
              "`for k, v in pairs(t) do ... end`."),
    "ipairs": ("ipairs(t: table) -> function, table, integer", "Iterates over t[1], t[2], ... up to the first nil: "
               "`for i, v in ipairs(t) do ... end`."),
    "tostring": ("tostring(v: any) -> string", "Converts any value to a readable string (`__tostring` applies)."),
    "tonumber": ("tonumber(e: any, base?: integer) -> number|nil", "Converts a string (or number) to a number; "
                 "nil when it is not a numeral."),
    "type": ("type(v: any) -> string", "The type name: \"nil\", \"number\", \"string\", \"boolean\", \"table\", "
             "\"function\", \"thread\" or \"userdata\"."),
    "pcall": ("pcall(f: function, ...: any) -> boolean, any", "Calls f in protected mode: `ok, result = "
              "pcall(f, ...)`; on an error ok is false and result is the error."),
    "xpcall": ("xpcall(f: function, handler: function, ...: any) -> boolean, any",
               "Like pcall, with a message handler that receives the error first."),
    "error": ("error(message: any, level?: integer)", "Raises an error with `message` (level 1 adds the position "
              "of the caller of error, 2 of its caller, 0 none)."),
    "assert": ("assert(v: any, message?: any) -> any", "Raises an error (\"assertion failed!\" or message) when v "
               "is false or nil; otherwise returns all its arguments."),
    "select": ("select(index: integer|string, ...: any) -> any", "`select('#', ...)` is the number of extra "
               "arguments; `select(n, ...)` returns them from the n-th on."),
    "next": ("next(t: table, key?: any) -> any, any", "The next key/value pair of a table after `key` (the "
             "first one when key is nil); nil at the end."),
    "setmetatable": ("setmetatable(t: table, mt: table|nil) -> table", "Sets the metatable of t and returns t."),
    "getmetatable": ("getmetatable(v: any) -> table|nil", "The metatable of v (its `__metatable` field if set); "
                     "strings have none in spells."),
    "rawget": ("rawget(t: table, key: any) -> any", "t[key] without invoking `__index`."),
    "rawset": ("rawset(t: table, key: any, value: any) -> table", "t[key] = value without invoking `__newindex`."),
    "rawequal": ("rawequal(a: any, b: any) -> boolean", "a == b without invoking `__eq`."),
    "rawlen": ("rawlen(v: table|string) -> integer", "The length of v without invoking `__len`."),
    "require": ("require(name: string) -> any", "Loads a Lua module from the workspace (through the spell's file "
                "sandbox; the standard libraries are already loaded)."),
    "load": ("load(chunk: string|function, name?: string, mode?: string, env?: table) -> function|nil, string|nil",
             "Compiles a text chunk (binary chunks are refused in spells); returns the function or nil and an error."),
    "loadfile": ("loadfile(path: string, mode?: string, env?: table) -> function|nil, string|nil",
                 "Compiles a Lua file of the workspace without running it."),
    "dofile": ("dofile(path: string) -> any", "Runs a Lua file of the workspace and returns its results."),
    "collectgarbage": ("collectgarbage(opt?: string) -> any", "Garbage collector control: \"collect\", \"count\", "
                       "\"step\" or \"isrunning\" in spells."),
    "unpack": ("unpack(t: table, i?: integer, j?: integer) -> ...", "Lua 5.1 name of `table.unpack` (not "
               "defined in Lua 5.4: use table.unpack)."),
}
_LUA_VALUES = {
    "_VERSION": "The running Lua version, \"Lua 5.4\".",
    "_G": "The global environment table.",
}

_LUA_LIBS: dict[str, dict[str, tuple[str, str]]] = {
    "string": {
        "byte": ("(s: string, i?: integer, j?: integer) -> integer...", "The numeric codes of s[i..j]."),
        "char": ("(...: integer) -> string", "A string made of the given character codes."),
        "find": ("(s: string, pattern: string, init?: integer, plain?: boolean) -> integer|nil, integer|nil, ...",
                 "Start and end of the first match of a Lua pattern (plain = true: a plain substring), and captures."),
        "format": ("(fmt: string, ...: any) -> string", "printf-style formatting: %d %s %q %f %x %5.2f ..."),
        "gmatch": ("(s: string, pattern: string) -> function", "An iterator over the matches of a pattern: "
                   "`for w in s:gmatch(\"%a+\") do ... end`."),
        "gsub": ("(s: string, pattern: string, repl: string|table|function, n?: integer) -> string, integer",
                 "Replaces matches of a pattern; returns the new string and the number of replacements."),
        "len": ("(s: string) -> integer", "The length of s in bytes (same as #s)."),
        "lower": ("(s: string) -> string", "s in lower case."),
        "upper": ("(s: string) -> string", "s in upper case."),
        "match": ("(s: string, pattern: string, init?: integer) -> string|nil, ...",
                  "The captures of the first match of a pattern (or the whole match), nil if none."),
        "rep": ("(s: string, n: integer, sep?: string) -> string", "n copies of s, separated by sep."),
        "reverse": ("(s: string) -> string", "s reversed (bytes)."),
        "sub": ("(s: string, i: integer, j?: integer) -> string", "The substring s[i..j] (negative indices count "
                "from the end)."),
        "pack": ("(fmt: string, ...: any) -> string", "Binary-packs values according to a format string."),
        "unpack": ("(fmt: string, s: string, pos?: integer) -> ...", "Unpacks values packed with string.pack."),
        "packsize": ("(fmt: string) -> integer", "The size of a string.pack result for a fixed-size format."),
    },
    "table": {
        "insert": ("(t: table, pos_or_value: any, value?: any)", "Appends value to t, or inserts it at position pos."),
        "remove": ("(t: table, pos?: integer) -> any", "Removes and returns t[pos] (the last element by default)."),
        "concat": ("(t: table, sep?: string, i?: integer, j?: integer) -> string",
                   "Joins the string/number elements t[i..j] with sep."),
        "sort": ("(t: table, comp?: function)", "Sorts t in place (comp(a, b) true when a comes before b)."),
        "unpack": ("(t: table, i?: integer, j?: integer) -> ...", "Returns t[i], ..., t[j] as multiple values."),
        "pack": ("(...: any) -> table", "A table of the arguments with the count in field n."),
        "move": ("(a1: table, f: integer, e: integer, t: integer, a2?: table) -> table",
                 "Moves a1[f..e] to a2[t..] (a1 by default)."),
    },
    "math": {
        "abs": ("(x: number) -> number", "The absolute value of x."),
        "ceil": ("(x: number) -> integer", "The smallest integer >= x."),
        "floor": ("(x: number) -> integer", "The largest integer <= x."),
        "max": ("(x: number, ...: number) -> number", "The largest argument."),
        "min": ("(x: number, ...: number) -> number", "The smallest argument."),
        "sqrt": ("(x: number) -> number", "The square root of x."),
        "exp": ("(x: number) -> number", "e^x."),
        "log": ("(x: number, base?: number) -> number", "The logarithm of x (natural by default)."),
        "sin": ("(x: number) -> number", "The sine of x (radians)."),
        "cos": ("(x: number) -> number", "The cosine of x (radians)."),
        "tan": ("(x: number) -> number", "The tangent of x (radians)."),
        "asin": ("(x: number) -> number", "The arc sine of x (radians)."),
        "acos": ("(x: number) -> number", "The arc cosine of x (radians)."),
        "atan": ("(y: number, x?: number) -> number", "The arc tangent of y/x (radians), using both signs."),
        "fmod": ("(x: number, y: number) -> number", "The remainder of x/y rounding the quotient towards zero."),
        "modf": ("(x: number) -> number, number", "The integral and fractional parts of x."),
        "random": ("(m?: integer, n?: integer) -> number", "A pseudo-random float in [0,1), or integer in [1,m] "
                   "or [m,n]."),
        "randomseed": ("(x?: integer, y?: integer)", "Seeds the pseudo-random generator."),
        "tointeger": ("(x: any) -> integer|nil", "x as an integer if it has an exact integer value, else nil."),
        "type": ("(x: any) -> string|nil", "\"integer\", \"float\", or nil when x is not a number."),
        "ult": ("(m: integer, n: integer) -> boolean", "m < n as unsigned integers."),
        "huge": ("", "A value larger than any other number (infinity)."),
        "pi": ("", "The value of pi."),
        "maxinteger": ("", "The largest integer."),
        "mininteger": ("", "The smallest integer."),
    },
    "os": {
        "time": ("(t?: table) -> integer", "The current time (seconds since the epoch), or the time of a date "
                 "table {year, month, day, hour?, min?, sec?}."),
        "clock": ("() -> number", "CPU time used by the program, in seconds."),
        "date": ("(format?: string, time?: integer) -> string|table", "Formats a time (\"*t\" / \"!*t\" give a "
                 "table), e.g. os.date(\"%Y-%m-%d\")."),
        "difftime": ("(t2: integer, t1: integer) -> number", "t2 - t1 in seconds."),
        "getenv": ("(name: string) -> string|nil", "An environment variable, only if security.env_allow lists it."),
        "exit": ("(code?: boolean|integer)", "Ends the spell with an exit code (true = 0, false = 1)."),
        "remove": ("(path: string) -> boolean|nil, string|nil", "Removes a file of the workspace (path sandbox)."),
        "rename": ("(old: string, new: string) -> boolean|nil, string|nil", "Renames a file of the workspace."),
        "execute": ("(command?: string) -> boolean|nil, string, integer", "Spells have no shell: only "
                    "`os.execute(\"sleep N\")` works; run programs with Tool.execute(\"process-executor\", ...)."),
        "tmpname": ("() -> string", "Creates a new empty temporary file and returns its name."),
    },
    "io": {
        "write": ("(...: string|number)", "Writes its arguments to the spell's output (no newline added)."),
        "read": ("(...: any) -> nil", "Spells have no standard input: always nil."),
        "open": ("(path: string, mode?: string) -> file|nil, string|nil, integer|nil",
                 "Opens a workspace file (through the path sandbox); mode \"r\", \"w\", \"a\", \"rb\" ..."),
        "lines": ("(path: string, ...: any) -> function", "Iterates over the lines of a workspace file "
                  "(a file name is required: no stdin)."),
        "type": ("(obj: any) -> string|nil", "\"file\", \"closed file\", or nil when obj is not a file."),
        "stdout": ("", "The spell's output, as a file (`io.stdout:write(...)`)."),
        "stderr": ("", "The spell's error output, as a file."),
    },
    "utf8": {
        "char": ("(...: integer) -> string", "The UTF-8 encoding of the given code points."),
        "charpattern": ("", "The pattern matching exactly one UTF-8 byte sequence."),
        "codes": ("(s: string) -> function", "Iterates over (position, code point) of a UTF-8 string."),
        "codepoint": ("(s: string, i?: integer, j?: integer) -> integer...", "The code points of s[i..j]."),
        "len": ("(s: string, i?: integer, j?: integer) -> integer|nil", "The number of UTF-8 characters in s."),
        "offset": ("(s: string, n: integer, i?: integer) -> integer", "The byte position of the n-th character."),
    },
    "coroutine": {
        "create": ("(f: function) -> thread", "A new coroutine running f."),
        "resume": ("(co: thread, ...: any) -> boolean, ...", "Starts or continues a coroutine; true and the "
                   "values it yields or returns, or false and the error."),
        "yield": ("(...: any) -> ...", "Suspends the running coroutine, handing values to resume."),
        "status": ("(co: thread) -> string", "\"running\", \"suspended\", \"normal\" or \"dead\"."),
        "wrap": ("(f: function) -> function", "A coroutine as a function: each call resumes it (errors propagate)."),
        "isyieldable": ("() -> boolean", "True when the running coroutine can yield."),
        "running": ("() -> thread, boolean", "The running coroutine, and true when it is the main one."),
        "close": ("(co: thread) -> boolean, any", "Closes a suspended or dead coroutine."),
    },
}
_LUA_LIB_DOCS = {
    "string": "String manipulation (also as methods: `s:upper()`, `s:format(...)`).",
    "table": "Table manipulation: insert, remove, concat, sort, unpack.",
    "math": "Mathematical functions.",
    "os": "Operating-system facilities available to spells: time and dates, allowed environment variables, "
          "workspace files.",
    "io": "Output and workspace files (through the spell's path sandbox).",
    "utf8": "UTF-8 support.",
    "coroutine": "Coroutines (metered like the spell itself).",
}

_JS_GLOBALS = {
    "console": ("", "Writes to the spell's output (log/info/debug) or error output (error/warn/trace)."),
    "JSON": ("", "JSON.parse / JSON.stringify (the language's own; the same job as the Lua JSON global)."),
    "Math": ("", "Mathematical constants and functions."),
    "Object": ("", "Object helpers: keys, values, entries, assign, freeze ..."),
    "Array": ("", "Array constructor and helpers: Array.isArray, Array.from, Array.of."),
    "String": ("", "String conversion and helpers."),
    "Number": ("", "Number conversion and helpers."),
    "Boolean": ("", "Boolean conversion."),
    "Promise": ("", "Promises: Promise.all, Promise.race, Promise.resolve ..."),
    "Date": ("", "Dates and times: Date.now(), new Date()."),
    "Error": ("", "The base error class: `throw new Error(\"...\")`."),
    "TypeError": ("", "Error for a value of the wrong type."),
    "RangeError": ("", "Error for a value out of range."),
    "Map": ("", "Key/value map with insertion order."),
    "Set": ("", "Set of unique values."),
    "WeakMap": ("", "Map with weakly held object keys."),
    "WeakSet": ("", "Set of weakly held objects."),
    "RegExp": ("", "Regular expressions."),
    "Symbol": ("", "Unique symbols."),
    "BigInt": ("", "Arbitrary-precision integers."),
    "Reflect": ("", "Reflection helpers."),
    "Proxy": ("", "Proxy objects."),
    "globalThis": ("", "The global object."),
    "parseInt": ("parseInt(s: string, radix?: number): number", "Parses an integer."),
    "parseFloat": ("parseFloat(s: string): number", "Parses a floating-point number."),
    "isNaN": ("isNaN(v: any): boolean", "True when v converts to NaN."),
    "isFinite": ("isFinite(v: any): boolean", "True when v converts to a finite number."),
    "setTimeout": ("setTimeout(fn: function, ms?: number, ...args: any[]): number",
                   "Calls fn after ms milliseconds (wall time and cancel of the spell apply)."),
    "clearTimeout": ("clearTimeout(id: number): void", "Cancels a setTimeout."),
    "queueMicrotask": ("queueMicrotask(fn: function): void", "Runs fn after the current job."),
    "sleep": ("sleep(ms: number): Promise<void>", "Waits ms milliseconds: `await sleep(100)`."),
    "exit": ("exit(code?: number): void", "Ends the spell with an exit code."),
    "process": ("", "A frozen stand-in: process.exit(code), empty env and argv."),
}
_JS_LIBS: dict[str, dict[str, tuple[str, str]]] = {
    "console": {
        "log": ("(...args: any[]): void", "Writes to the spell's output."),
        "info": ("(...args: any[]): void", "Writes to the spell's output."),
        "debug": ("(...args: any[]): void", "Writes to the spell's output."),
        "error": ("(...args: any[]): void", "Writes to the spell's error output."),
        "warn": ("(...args: any[]): void", "Writes to the spell's error output."),
        "trace": ("(...args: any[]): void", "Writes to the spell's error output."),
    },
    "JSON": {
        "parse": ("(text: string, reviver?: function): any", "Parses JSON text."),
        "stringify": ("(value: any, replacer?: any, space?: number|string): string", "Serializes a value as JSON."),
    },
    "Math": {
        **{n: ("(x: number): number", d) for n, d in (
            ("abs", "The absolute value."), ("ceil", "Rounds up."), ("floor", "Rounds down."),
            ("round", "Rounds to the nearest integer."), ("trunc", "The integer part."), ("sign", "The sign."),
            ("sqrt", "The square root."), ("cbrt", "The cube root."), ("exp", "e^x."), ("log", "Natural log."),
            ("log2", "Base-2 log."), ("log10", "Base-10 log."), ("sin", "Sine."), ("cos", "Cosine."),
            ("tan", "Tangent."), ("asin", "Arc sine."), ("acos", "Arc cosine."), ("atan", "Arc tangent."))},
        "max": ("(...values: number[]): number", "The largest argument."),
        "min": ("(...values: number[]): number", "The smallest argument."),
        "pow": ("(x: number, y: number): number", "x to the power y."),
        "random": ("(): number", "A pseudo-random number in [0, 1)."),
        "atan2": ("(y: number, x: number): number", "The angle of (x, y)."),
        "hypot": ("(...values: number[]): number", "The square root of the sum of squares."),
        "PI": ("", "The value of pi."),
        "E": ("", "Euler's number."),
        "LN2": ("", "ln 2."),
        "LN10": ("", "ln 10."),
        "SQRT2": ("", "The square root of 2."),
    },
    "Object": {
        "keys": ("(o: object): string[]", "The object's own enumerable keys."),
        "values": ("(o: object): any[]", "The object's own enumerable values."),
        "entries": ("(o: object): [string, any][]", "The object's own [key, value] pairs."),
        "assign": ("(target: object, ...sources: object[]): object", "Copies properties into target."),
        "freeze": ("(o: object): object", "Makes o immutable."),
        "fromEntries": ("(entries: any[]): object", "An object from [key, value] pairs."),
        "create": ("(proto: object|null, props?: object): object", "A new object with the given prototype."),
        "defineProperty": ("(o: object, key: string, desc: object): object", "Defines a property."),
        "getPrototypeOf": ("(o: object): object|null", "The prototype of o."),
    },
    "Array": {
        "isArray": ("(v: any): boolean", "True for arrays."),
        "from": ("(iterable: any, map?: function): any[]", "An array from an iterable or array-like."),
        "of": ("(...items: any[]): any[]", "An array of the arguments."),
    },
    "Promise": {
        "all": ("(promises: any[]): Promise<any[]>", "Waits for all; rejects on the first rejection."),
        "allSettled": ("(promises: any[]): Promise<object[]>", "Waits for all, reporting each outcome."),
        "race": ("(promises: any[]): Promise<any>", "Settles as the first one settles."),
        "any": ("(promises: any[]): Promise<any>", "Resolves with the first fulfilled one."),
        "resolve": ("(value?: any): Promise<any>", "A resolved promise."),
        "reject": ("(reason?: any): Promise<never>", "A rejected promise."),
    },
    "Number": {
        "isInteger": ("(v: any): boolean", "True for integer numbers."),
        "isFinite": ("(v: any): boolean", "True for finite numbers."),
        "isNaN": ("(v: any): boolean", "True for NaN."),
        "parseFloat": ("(s: string): number", "Parses a float."),
        "parseInt": ("(s: string, radix?: number): number", "Parses an integer."),
        "MAX_SAFE_INTEGER": ("", "2^53 - 1."),
        "MIN_SAFE_INTEGER": ("", "-(2^53 - 1)."),
        "EPSILON": ("", "The difference between 1 and the next number."),
    },
    "String": {
        "fromCharCode": ("(...codes: number[]): string", "A string from UTF-16 code units."),
        "fromCodePoint": ("(...points: number[]): string", "A string from code points."),
    },
    "Date": {
        "now": ("(): number", "Milliseconds since the epoch."),
        "parse": ("(s: string): number", "Parses a date string to milliseconds since the epoch."),
    },
    "process": {
        "exit": ("(code?: number): void", "Ends the spell with an exit code."),
        "env": ("", "An empty frozen object (spells read settings through Config)."),
        "argv": ("", "An empty frozen array (spell arguments are in ARGS)."),
    },
}


def _build(lang: Lang) -> tuple[dict[str, StdEntry], dict[str, dict[str, StdEntry]]]:
    top: dict[str, StdEntry] = {}
    mods: dict[str, dict[str, StdEntry]] = {}
    if lang == "lua":
        for n, (sig, d) in _LUA_BASIC.items():
            top[n] = StdEntry(n, sig, d)
        for n, d in _LUA_VALUES.items():
            top[n] = StdEntry(n, "", d)
        for lib, members in _LUA_LIBS.items():
            top[lib] = StdEntry(lib, "", _LUA_LIB_DOCS.get(lib, ""))
            mods[lib] = {m: StdEntry(f"{lib}.{m}", f"{lib}.{m}{sig}" if sig else "", d, lib)
                         for m, (sig, d) in members.items()}
    else:
        for n, (sig, d) in _JS_GLOBALS.items():
            top[n] = StdEntry(n, sig, d)
        for lib, members in _JS_LIBS.items():
            mods[lib] = {m: StdEntry(f"{lib}.{m}", f"{lib}.{m}{sig}" if sig else "", d, lib)
                         for m, (sig, d) in members.items()}
    return top, mods


_TABLES = {"lua": _build("lua"), "javascript": _build("javascript")}


def globals_of(lang: Lang) -> dict[str, StdEntry]:
    """Basic functions, values and library tables (``print``, ``string`` …; ``console``, ``Math`` …)."""
    return _TABLES[lang][0]


def module(lang: Lang, name: str) -> dict[str, StdEntry] | None:
    """Members of a library table (``string`` -> ``{format: …}``), or None if ``name`` is not one."""
    return _TABLES[lang][1].get(name)


def lookup(lang: Lang, dotted: str) -> StdEntry | None:
    """``print`` / ``string.format`` / ``Math.max`` -> its entry."""
    if "." in dotted:
        mod, _, member = dotted.partition(".")
        members = module(lang, mod)
        return members.get(member) if members is not None else None
    return globals_of(lang).get(dotted)


STRING_METHODS = _TABLES["lua"][1]["string"]
"""Lua strings have the string library as methods (``s:upper()``)."""


def entry_doc(e: StdEntry, lang: Lang) -> str:
    fence = "lua" if lang == "lua" else "typescript"
    head = e.signature if e.signature else (f"(library) {e.name}" if module(lang, e.name) is not None
                                             else f"(value) {e.name}")
    return f"```{fence}\n{head}\n```\n\n{e.doc}".rstrip()


def std_entry(engine: TypeEngine, segs: list[Seg], at: int) -> StdEntry | None:
    """``print`` / ``string.format`` / ``Math.max`` when the spell does not define that name itself."""
    if not segs or segs[0].kind != "name" or len(segs) > 2 or (len(segs) == 2 and segs[1].kind != "member"):
        return None
    head = segs[0].name
    if engine.declares(head, at):
        return None
    if engine.lang == "lua" and len(segs) == 2 and segs[1].sep != ".":
        return None
    return lookup(engine.lang, head if len(segs) == 1 else f"{head}.{segs[1].name}")
