// llmspell JS prelude: evaluated once per spell, before the spell, in its own eval.
// Everything the spell can reach goes through one host callable (captured here, then deleted from
// globalThis). Values cross as tagged JSON strings:
//   "U"            undefined / None            "J<json>"  plain JSON value
//   "M<json>"      {v, d}: value with markers, d = class definitions not sent before
//   "E<json>"      {type, kind, message, details}: an error to throw / reject with
//   "P<id>"        a pending host operation; settled later by __ls_settle(id, tagged)
// Markers: {"__ls_obj": handle, "c": class, "f": fields} an API object; {"__ls_fn": id} a function
// of this spell; {"__ls_pyfn": handle} a function from elsewhere (callable, returns a Promise).
// Every function defined here is named __ls_* so the engine can drop prelude frames from stacks.
(function __ls_prelude(host) {
  "use strict";
  // The spell may replace globals (even JSON); the prelude keeps its own references.
  const jsonParse = JSON.parse, jsonStringify = JSON.stringify, P = Promise;
  const own = Function.prototype.call.bind(Object.prototype.hasOwnProperty);
  const builtins = new Set(Object.getOwnPropertyNames(globalThis));
  const H = Symbol("llmspell.handle");
  const st = { protos: new Map(), objs: new Map(), fns: [], sites: [], fnIds: new WeakMap(),
               pending: new Map(), exited: false };

  function __ls_siteFrames(stack) {
    // QuickJS stacks are frame lines only ("    at f (<input>:3)"); drop the prelude's own frames.
    return stack.split("\n").filter(function __ls_keep(l) { return l !== "" && !/ at __ls_/.test(l); }).join("\n") + "\n";
  }

  function __ls_error(info, siteStack) {
    // A host error, thrown/rejected where the spell made the call: for async calls the stack is the
    // call site captured when the request was made (the settle itself has no spell frames).
    const e = new Error(info.message);
    e.name = info.type || "Error";
    e.kind = info.kind || "runtime";
    if (info.details && Object.keys(info.details).length) e.details = info.details;
    if (siteStack !== undefined) e.stack = __ls_siteFrames(siteStack);
    return e;
  }

  function __ls_defineClass(name, spec) {
    const proto = {};
    for (const [js, lua, isAsync] of spec.m) {
      const key = "__ls_" + js;
      const f = isAsync
        ? { [key]: function (...args) { return __ls_callAsync(this, name, js, lua, args); } }[key]
        : { [key]: function (...args) { return __ls_callSync(this, name, js, lua, args); } }[key];
      Object.defineProperty(proto, js, { value: f, writable: true, configurable: true });
    }
    Object.defineProperty(proto, Symbol.toStringTag, { value: name });
    st.protos.set(name, { proto, global: spec.g, index: spec.i });
  }

  function __ls_wrap(h, cls, fields) {
    let o = st.objs.get(h);
    if (o !== undefined) return o;
    const def = st.protos.get(cls);
    o = Object.create(def ? def.proto : Object.prototype);
    Object.defineProperty(o, H, { value: h });
    if (fields) for (const k of Object.keys(fields)) o[k] = __ls_revive(fields[k]);
    if (def && def.global) {
      // static functions keep working when taken off their table (const { builder } = Agent)
      for (const k of Object.getOwnPropertyNames(def.proto)) {
        Object.defineProperty(o, k, { value: def.proto[k].bind(o), writable: true, configurable: true });
      }
    }
    if (def && def.index) {
      o = new Proxy(o, {
        get: function __ls_index(t, k, r) {
          if (typeof k !== "string" || k in t || k === "then" || k === "toJSON") return Reflect.get(t, k, r);
          return __ls_decode(host("index", h, k));
        },
      });
    }
    st.objs.set(h, o);
    return o;
  }

  function __ls_foreign(h) {
    return function __ls_foreignFunction(...args) {
      return __ls_pending(host("callfn", h, __ls_encode(args)), new Error().stack);
    };
  }

  function __ls_revive(v) {
    if (v === null || typeof v !== "object") return v;
    if (Array.isArray(v)) { for (let i = 0; i < v.length; i++) v[i] = __ls_revive(v[i]); return v; }
    if (own(v, "__ls_obj")) return __ls_wrap(v.__ls_obj, v.c, v.f);
    if (own(v, "__ls_fn")) return st.fns[v.__ls_fn];
    if (own(v, "__ls_pyfn")) return __ls_foreign(v.__ls_pyfn);
    for (const k of Object.keys(v)) v[k] = __ls_revive(v[k]);
    return v;
  }

  function __ls_decode(s, siteStack) {
    switch (s.charCodeAt(0)) {
      case 85: return undefined;                                   // U
      case 74: return jsonParse(s.slice(1));                      // J
      case 77: {                                                   // M
        const p = jsonParse(s.slice(1));
        if (p.d) for (const name of Object.keys(p.d)) __ls_defineClass(name, p.d[name]);
        return __ls_revive(p.v);
      }
      case 69: throw __ls_error(jsonParse(s.slice(1)), siteStack); // E
      default: throw new Error("llmspell: bad host reply " + s.slice(0, 20));
    }
  }

  function __ls_replacer(k, v) {
    if (typeof v === "function") {
      let id = st.fnIds.get(v);
      if (id === undefined) {
        id = st.fns.length; st.fns.push(v); st.fnIds.set(v, id);
        // where the spell handed it over: QuickJS gives no line for a throw on a function's first
        // line, so errors in one-line callbacks are located here instead
        st.sites.push(new Error().stack);
      }
      return { __ls_fn: id };
    }
    if (v !== null && typeof v === "object" && v[H] !== undefined) return { __ls_obj: v[H] };
    if (typeof v === "bigint") return Number(v);
    return v;
  }

  function __ls_plainArgs(a) {
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      if (x !== null && (typeof x === "object" || typeof x === "function" || typeof x === "bigint")) return false;
    }
    return true;
  }

  function __ls_encode(v) {
    const s = Array.isArray(v) && __ls_plainArgs(v) ? jsonStringify(v) : jsonStringify(v, __ls_replacer);
    return s === undefined ? "null" : s;
  }

  function __ls_pending(reply, siteStack) {
    if (reply.charCodeAt(0) !== 80) {                               // not P: settled at once
      try { return P.resolve(__ls_decode(reply, siteStack)); } catch (e) { return P.reject(e); }
    }
    const id = +reply.slice(1);
    return new P(function __ls_executor(resolve, reject) { st.pending.set(id, [resolve, reject, siteStack]); });
  }

  function __ls_callSync(self, cls, js, lua, args) {
    const h = self != null ? self[H] : undefined;
    if (h === undefined) throw new TypeError(cls + "." + js + " must be called on " + cls + " (obj." + js + "(...))");
    return __ls_decode(host("call", h, lua, __ls_encode(args)));
  }

  function __ls_callAsync(self, cls, js, lua, args) {
    const h = self != null ? self[H] : undefined;
    if (h === undefined) return P.reject(new TypeError(cls + "." + js + " must be called on " + cls));
    const site = new Error().stack;
    let reply;
    try { reply = host("call", h, lua, __ls_encode(args)); } catch (e) { return P.reject(e); }
    return __ls_pending(reply, site);
  }

  // ---- called by the engine -----------------------------------------------------------------
  function __ls_settle(id, reply) {
    const p = st.pending.get(id);
    if (p === undefined) return;
    st.pending.delete(id);
    let v;
    try { v = __ls_decode(reply, p[2]); } catch (e) { p[1](e); return; }
    p[0](v);
  }

  function __ls_invoke(fnId, argsTagged, token) {
    // Runs a spell function for the runtime (hook, event handler, step function, stream callback).
    const args = __ls_decode(argsTagged);
    let r;
    const site = st.sites[fnId];
    try { r = st.fns[fnId](...args); } catch (e) { return "E" + __ls_describe(e, site); }
    if (r !== null && typeof r === "object" && typeof r.then === "function") {
      r.then(function __ls_cbOk(v) { host("cbdone", token, "J" + __ls_encode(v)); },
             function __ls_cbErr(e) { host("cbdone", token, "E" + __ls_describe(e, site)); });
      return "P";
    }
    return "J" + __ls_encode(r);
  }

  function __ls_describe(e, site) {
    if (e instanceof Error) {
      return jsonStringify({ type: e.name, message: String(e.message), kind: e.kind || "script",
                              stack: String(e.stack || ""), details: e.details || null, site: site || "" });
    }
    let msg;
    try { msg = typeof e === "string" ? e : jsonStringify(e); } catch (_) { msg = String(e); }
    return jsonStringify({ type: "Error", message: "uncaught value: " + msg, kind: "script", stack: "",
                            value: e === undefined ? null : e });
  }

  function __ls_finish(p) {
    p.then(function __ls_ok(v) { host("done", "J" + __ls_encode(v === undefined ? null : v)); },
           function __ls_fail(e) { host("done", "E" + __ls_describe(e)); });
  }

  // ---- globals ------------------------------------------------------------------------------
  function __ls_fmt(v, depth) {
    if (typeof v === "string") return depth ? "'" + v.replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\n/g, "\\n") + "'" : v;
    if (v === undefined) return "undefined";
    if (typeof v === "function") return "[Function: " + (v.name || "anonymous") + "]";
    if (v instanceof Error) return depth ? "[" + v.name + ": " + v.message + "]" : (v.stack ? v.name + ": " + v.message + "\n" + v.stack.replace(/\n$/, "") : v.name + ": " + v.message);
    if (v === null || typeof v !== "object") return String(v);
    if (depth > 4) return Array.isArray(v) ? "[Array]" : "[Object]";
    if (Array.isArray(v)) return "[ " + v.map(x => __ls_fmt(x, depth + 1)).join(", ") + " ]";
    if (v instanceof Map) return "Map(" + v.size + ")";
    const keys = Object.keys(v);
    const tag = v[Symbol.toStringTag] ? v[Symbol.toStringTag] + " " : "";
    if (!keys.length) return tag + "{}";
    return tag + "{ " + keys.map(k => (/^[A-Za-z_$][\w$]*$/.test(k) ? k : jsonStringify(k)) + ": " + __ls_fmt(v[k], depth + 1)).join(", ") + " }";
  }

  function __ls_out(stream) {
    return function __ls_log(...args) {
      const r = host("out", stream, args.map(a => __ls_fmt(a, 0)).join(" ") + "\n");
      if (r !== "U") __ls_decode(r);
    };
  }

  function __ls_exit(code) {
    host("exit", code === undefined ? 0 : code);
    st.exited = true;
    throw new InternalError("exit");
  }

  const timers = new Set();
  let timerSeq = 0;
  function __ls_sleep(ms) {
    return __ls_pending(host("sleep", Math.max(0, +ms || 0)), undefined);
  }
  function __ls_setTimeout(fn, ms, ...args) {
    if (typeof fn !== "function") throw new TypeError("setTimeout: the callback must be a function");
    const id = ++timerSeq;
    timers.add(id);
    __ls_sleep(ms).then(function __ls_timer() { if (timers.delete(id)) fn(...args); });
    return id;
  }
  function __ls_clearTimeout(id) { timers.delete(id); }

  const console = {};
  console.log = console.info = console.debug = __ls_out("stdout");
  console.error = console.warn = console.trace = __ls_out("stderr");

  const defs = {
    console: console,
    setTimeout: __ls_setTimeout,
    clearTimeout: __ls_clearTimeout,
    queueMicrotask: function __ls_queueMicrotask(fn) { P.resolve().then(fn); },
    sleep: __ls_sleep,
    exit: __ls_exit,
    process: Object.freeze({ exit: __ls_exit, env: Object.freeze({}), argv: Object.freeze([]) }),
  };
  for (const k of Object.keys(defs)) {
    Object.defineProperty(globalThis, k, { value: defs[k], writable: true, configurable: true });
  }
  function __ls_install(tagged) {
    // A declared global named like a JavaScript builtin (JSON) is not installed: the language's own
    // object does the same job in JS idiom, and replacing it would break every library function.
    const g = __ls_decode(tagged);
    const skipped = [];
    for (const k of Object.keys(g)) {
      if (builtins.has(k)) { skipped.push(k); continue; }
      Object.defineProperty(globalThis, k, { value: g[k], writable: true, enumerable: false, configurable: true });
    }
    return skipped.join(",");
  }
  // Engine entry points: the engine fetches them with ctx.get() and then deletes these globals.
  globalThis.__ls_settle = __ls_settle;
  globalThis.__ls_invoke = __ls_invoke;
  globalThis.__ls_finish = __ls_finish;
  globalThis.__ls_install = __ls_install;
})(globalThis.__ls_host);
delete globalThis.__ls_host;
delete globalThis.__date_clock;
