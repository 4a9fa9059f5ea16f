// llmspell JS prelude: evaluated once per spell, before the spell, in its own eval.
// Everything the spell can reach goes through one host callable (captured here, then deleted from
// globalThis). Values cross as tagged JSON strings:
//   "U"            undefined / None            "J<json>"  plain JSON value
//   "M<json>"      {v, d}: value with markers, d = class definitions not sent before
//   "E<json>"      {type, kind, message, details}: an error to throw / reject with
//   "P<id>"        a pending host operation; settled later by __ls_settle(id, tagged)
// Markers: {K+"o": handle, "c": class, "f": fields} an API object; {K+"f": id} a function of this
// spell; {K+"p": handle} a function from elsewhere (callable, returns a Promise). K is a per-spell
// secret the engine hands over once (host("init")) and that never reaches the spell: markers are
// built on null-prototype objects (no toJSON, no setters to observe them), replies are read with
// primordials captured here, so no key in spell data can ever turn back into a handle. Handles are
// recognised by a WeakMap (object -> handle id), never by a property a spell could copy.
// Every function defined here is named __ls_* so the engine can drop prelude frames from stacks.
(function __ls_prelude(host) {
  "use strict";
  // The spell may replace globals (even JSON); the prelude keeps its own references.
  const jsonParse = JSON.parse, jsonStringify = JSON.stringify, P = Promise;
  const uncurry = Function.prototype.bind.bind(Function.prototype.call);
  const own = uncurry(Object.prototype.hasOwnProperty);
  const objectKeys = Object.keys, objCreate = Object.create, defineProp = Object.defineProperty;
  const ownNames = Object.getOwnPropertyNames, isArray = Array.isArray;
  const mapGet = uncurry(Map.prototype.get), mapSet = uncurry(Map.prototype.set);
  const mapDelete = uncurry(Map.prototype.delete);
  const wmGet = uncurry(WeakMap.prototype.get), wmSet = uncurry(WeakMap.prototype.set);
  const arrPush = uncurry(Array.prototype.push);
  const strSlice = uncurry(String.prototype.slice), strCode = uncurry(String.prototype.charCodeAt);
  const builtins = new Set(ownNames(globalThis));
  const init = jsonParse(host("init"));
  const K_OBJ = init.mark + "o", K_FN = init.mark + "f", K_PYFN = init.mark + "p";
  const MAX_ITEMS = init.maxItems;
  const handles = new WeakMap();                       // API object (or its proxy) -> handle id
  function __ls_handleOf(o) { return (o !== null && (typeof o === "object" || typeof o === "function")) ? wmGet(handles, o) : undefined; }
  const st = { protos: new Map(), objs: new Map(), fns: [], sites: [], fnIds: new WeakMap(),
               pending: new Map(), exited: false };
  let encodeCount = 0;

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
    for (let i = 0; i < spec.m.length; i++) {
      const js = spec.m[i][0], lua = spec.m[i][1], isAsync = spec.m[i][2];
      const key = "__ls_" + js;
      const f = isAsync
        ? { [key]: function (...args) { return __ls_callAsync(this, name, js, lua, args); } }[key]
        : { [key]: function (...args) { return __ls_callSync(this, name, js, lua, args); } }[key];
      defineProp(proto, js, { value: f, writable: true, configurable: true });
    }
    defineProp(proto, Symbol.toStringTag, { value: name });
    if (own(proto, "next") && own(proto, "isDone")) {
      // a stream (Streaming.create, agent.stream): `for await (const v of stream)` pulls with next()
      defineProp(proto, Symbol.asyncIterator, { value: function __ls_aiter() {
        const s = this;
        return { next: async function __ls_anext() {
          for (;;) {
            const v = await s.next();
            if (v !== undefined && v !== null) return { value: v, done: false };
            if (s.isDone()) return { value: undefined, done: true };
          }
        }, return: async function __ls_areturn() { s.close(); return { value: undefined, done: true }; } };
      } });
    }
    mapSet(st.protos, name, { proto, global: spec.g, index: spec.i });
  }

  function __ls_wrap(h, cls, fields) {
    let o = mapGet(st.objs, h);
    if (o !== undefined) return o;
    const def = mapGet(st.protos, cls);
    o = objCreate(def ? def.proto : Object.prototype);
    wmSet(handles, o, h);
    if (fields) {
      const ks = objectKeys(fields);
      for (let i = 0; i < ks.length; i++) defineProp(o, ks[i], { value: __ls_revive(fields[ks[i]]),
        writable: true, enumerable: true, configurable: true });
    }
    if (def && def.global) {
      // static functions keep working when taken off their table (const { builder } = Agent)
      const names = ownNames(def.proto);
      for (let i = 0; i < names.length; i++) {
        const k = names[i];
        defineProp(o, k, { value: uncurry(Function.prototype.bind)(def.proto[k], o), writable: true,
                           configurable: true });
      }
    }
    if (def && def.index) {
      o = new Proxy(o, {
        get: function __ls_index(t, k, r) {
          if (typeof k !== "string" || k in t || k === "then" || k === "toJSON") return Reflect.get(t, k, r);
          return __ls_decode(host("index", h, k));
        },
      });
      wmSet(handles, o, h);
    }
    mapSet(st.objs, h, o);
    return o;
  }

  function __ls_foreign(h) {
    return function __ls_foreignFunction(...args) {
      return __ls_pending(host("callfn", h, __ls_encode(args)), new Error().stack);
    };
  }

  function __ls_revive(v) {
    if (v === null || typeof v !== "object") return v;
    if (isArray(v)) { for (let i = 0; i < v.length; i++) v[i] = __ls_revive(v[i]); return v; }
    // only the secret keys mark handles; a marker's other fields are read as own properties only
    if (own(v, K_OBJ)) return __ls_wrap(v[K_OBJ], own(v, "c") ? v.c : undefined, own(v, "f") ? v.f : undefined);
    if (own(v, K_FN)) return st.fns[v[K_FN]];
    if (own(v, K_PYFN)) return __ls_foreign(v[K_PYFN]);
    const ks = objectKeys(v);
    for (let i = 0; i < ks.length; i++) v[ks[i]] = __ls_revive(v[ks[i]]);
    return v;
  }

  function __ls_decode(s, siteStack) {
    switch (strCode(s, 0)) {
      case 85: return undefined;                                   // U
      case 74: return jsonParse(strSlice(s, 1));                  // J
      case 77: {                                                   // M
        const p = jsonParse(strSlice(s, 1));
        if (p.d) {
          const names = objectKeys(p.d);
          for (let i = 0; i < names.length; i++) __ls_defineClass(names[i], p.d[names[i]]);
        }
        return __ls_revive(p.v);
      }
      case 69: throw __ls_error(jsonParse(strSlice(s, 1)), siteStack); // E
      default: throw new Error("llmspell: bad host reply");
    }
  }

  function __ls_marker(key, id) {
    const m = objCreate(null);   // no prototype: nothing (toJSON, setters) can observe the key
    m[key] = id;
    return m;
  }

  function __ls_replacer(k, v) {
    if (++encodeCount > MAX_ITEMS) {
      throw new RangeError("value too large to pass to the runtime (more than " + MAX_ITEMS +
                           " items; limits.max_value_items)");
    }
    const h = __ls_handleOf(v);
    if (h !== undefined) return __ls_marker(K_OBJ, h);
    if (typeof v === "function") {
      let id = wmGet(st.fnIds, v);
      if (id === undefined) {
        id = st.fns.length; arrPush(st.fns, v); wmSet(st.fnIds, v, id);
        // where the spell handed it over: QuickJS gives no line for a throw on a function's first
        // line, so errors in one-line callbacks are located here instead
        arrPush(st.sites, new Error().stack);
      }
      return __ls_marker(K_FN, id);
    }
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
    let s;
    if (isArray(v) && __ls_plainArgs(v)) {
      s = jsonStringify(v);
    } else {
      const saved = encodeCount;   // a getter may call the runtime while this value is encoded
      encodeCount = 0;
      try { s = jsonStringify(v, __ls_replacer); } finally { encodeCount = saved; }
    }
    return s === undefined ? "null" : s;
  }

  function __ls_pending(reply, siteStack) {
    if (strCode(reply, 0) !== 80) {                                 // not P: settled at once
      try { return P.resolve(__ls_decode(reply, siteStack)); } catch (e) { return P.reject(e); }
    }
    const id = +strSlice(reply, 1);
    return new P(function __ls_executor(resolve, reject) { mapSet(st.pending, id, [resolve, reject, siteStack]); });
  }

  function __ls_callSync(self, cls, js, lua, args) {
    const h = __ls_handleOf(self);
    if (h === undefined) throw new TypeError(cls + "." + js + " must be called on " + cls + " (obj." + js + "(...))");
    return __ls_decode(host("call", h, lua, __ls_encode(args)));
  }

  function __ls_callAsync(self, cls, js, lua, args) {
    const h = __ls_handleOf(self);
    if (h === undefined) return P.reject(new TypeError(cls + "." + js + " must be called on " + cls));
    const site = new Error().stack;
    let reply;
    try { reply = host("call", h, lua, __ls_encode(args)); } catch (e) { return P.reject(e); }
    return __ls_pending(reply, site);
  }

  // ---- called by the engine -----------------------------------------------------------------
  function __ls_settle(id, reply) {
    const p = mapGet(st.pending, id);
    if (p === undefined) return;
    mapDelete(st.pending, id);
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
    p.then(function __ls_ok(v) {
      let s;
      try { s = "J" + __ls_encode(v === undefined ? null : v); }
      catch (e) {
        const err = new TypeError("the spell's return value cannot be passed to the runtime: " +
                                  (e instanceof Error ? e.message : String(e)));
        host("done", "E" + __ls_describe(err));
        return;
      }
      host("done", s);
    }, function __ls_fail(e) { host("done", "E" + __ls_describe(e)); });
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
    for (const k of objectKeys(g)) {
      if (builtins.has(k)) { skipped.push(k); continue; }
      defineProp(globalThis, k, { value: g[k], writable: true, enumerable: false, configurable: true });
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
