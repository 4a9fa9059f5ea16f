"""Issue 10, item 2: only plain data crosses the bridge; templates are bounded; runtime event names
are reserved; huge, deep and cyclic values fail with a clear error.

Every test is an attack a spell can write today. Each asserts the refusal *and* that nothing outside
changed (the security policy, the workspace, the state store, the event stream, the run's usage).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from llmspell.config import LimitsConfig
from llmspell.messages import EventMessage, Finished
from llmspell.runner import SpellRunner
from llmspell.runtime import Runtime

pytestmark = pytest.mark.asyncio

LANGS = ["lua", "js"]


class Run:
    def __init__(self, out: str, fin: Finished, events: list[EventMessage], rt: Runtime, secs: float):
        self.out, self.fin, self.events, self.rt, self.secs = out, fin, events, rt, secs

    @property
    def error(self) -> str:
        return self.fin.error.message if self.fin.error else ""

    def ok(self) -> Run:
        assert self.fin.status == "success", self.error
        return self


def _limits(**limits: Any) -> dict[str, Any]:
    if "isolation" in LimitsConfig.model_fields:  # the bridge is under test here, not the child process
        limits.setdefault("isolation", "none")
    return limits


async def run(tmp: Path, src: str, lang: str = "lua", **limits: Any) -> Run:
    ws = tmp / "ws"
    ws.mkdir(exist_ok=True)
    path = ws / f"spell.{lang}"
    path.write_text(src, encoding="utf-8")
    made: list[Runtime] = []

    def factory() -> Runtime:
        made.append(Runtime(workspace=ws, state="memory", overrides={"limits": _limits(**limits)}))
        return made[-1]

    out: list[str] = []
    events: list[EventMessage] = []
    fin: Finished | None = None
    t0 = time.monotonic()
    async for m in SpellRunner(factory).run(path):
        if m.type == "output":
            out.append(m.text)
        elif m.type == "event":
            events.append(m)
        elif m.type == "finished":
            fin = m
    assert fin is not None
    return Run("".join(out), fin, events, made[0], time.monotonic() - t0)


def policy_snapshot(rt: Runtime) -> Any:
    return rt.config.security.model_dump(), rt.config.limits.model_dump()


def outside_untouched(tmp: Path) -> None:
    assert sorted(p.name for p in tmp.iterdir()) == ["ws"], "something was written outside the workspace"


# ------------------------------------------------------------------------------------------------
# 1. live objects inside plain data


LUA_LIVE = {
    "function": "function() return 1 end",
    "builtin function": "print",
    "coroutine": "coroutine.create(function() end)",
    "global handle": "Tool",
    "agent handle": 'Agent.builder():name("h"):model("offline/scripted"):build()',
    "builder handle": "Agent.builder()",
}

JS_LIVE = {
    "function": "() => 1",
    "builtin function": "console.log",
    "global handle": "Tool",
    "agent handle": 'Agent.builder().name("h").model("offline/scripted").build()',
    "builder handle": "Agent.builder()",
    "bound method": "Tool.list",
    "class": "(class X {})",
}

# the jinja walk that reached the runtime from a live object in the template context
WALK = ("{{ f.host.ctx.runtime.config.security.allowed_paths.append('/') }}"
        "{{ f.ctx.runtime.config.security.allowed_paths.append('/') }}"
        "{{ f.__self__ }}{{ f.instance }}{{ f.fn }}{{ f }}")


@pytest.mark.parametrize("what", sorted(LUA_LIVE))
async def test_lua_live_value_in_tool_params_is_refused(tmp_path: Path, what: str) -> None:
    r = await run(tmp_path, f"""
        local v = {LUA_LIVE[what]}
        local ok, err = pcall(Tool.execute, "template-creator", {{input = "{WALK}", context = {{f = v, n = 1}}}})
        print(ok, tostring(err))
        local ok2, err2 = pcall(Tool.execute, "template-creator", {{input = "x", context = {{deep = {{{{v}}}}}}}})
        print(ok2, tostring(err2))
    """)
    before = policy_snapshot(r.rt)
    r.ok()
    lines = r.out.splitlines()
    assert lines[0].startswith("false\t") and lines[1].startswith("false\t"), r.out
    assert "params" in lines[0] and "context.f" in lines[0], lines[0]
    assert "context.deep[1][1]" in lines[1], lines[1]
    assert "plain data" in lines[0]
    assert policy_snapshot(r.rt) == before and r.rt.config.security.allowed_paths == []
    assert not any(e.event_type == "tool.completed" for e in r.events)
    outside_untouched(tmp_path)


@pytest.mark.parametrize("what", sorted(JS_LIVE))
async def test_js_live_value_in_tool_params_is_refused(tmp_path: Path, what: str) -> None:
    r = await run(tmp_path, f"""
        const v = {JS_LIVE[what]};
        const res = [];
        for (const ctx of [{{f: v, n: 1}}, {{deep: [[v]]}}]) {{
          try {{ await Tool.execute("template-creator", {{input: "{WALK}", context: ctx}}); res.push("ran"); }}
          catch (e) {{ res.push(String(e.message)); }}
        }}
        console.log(JSON.stringify(res));
    """, "js")
    r.ok()
    assert '"ran"' not in r.out, r.out
    assert "context.f" in r.out and "context.deep[0][0]" in r.out, r.out
    assert r.rt.config.security.allowed_paths == []
    assert not any(e.event_type == "tool.completed" for e in r.events)
    outside_untouched(tmp_path)


PLAIN_SINKS_LUA = {
    "State.set": ('State.set("k", {f = V})', 'State.get("k")'),
    "State.save": ('State.save("custom", "k", {f = V})', 'State.load("custom", "k")'),
    "Event.publish": ('Event.publish("user.x", {f = V})', None),
    "agent input": ('Agent.builder():name("a"):model("offline/scripted"):build():execute({text = "hi", '
                    'parameters = {f = V}})', None),
    "workflow step input": ('Workflow.builder():name("w"):sequential():add_step({name = "s", type = "tool", '
                            'tool = "template-creator", input = {input = "{{ f }}", context = {f = V}}}):build()',
                            None),
    "workflow execute input": ('Workflow.sequential({name = "w", steps = {{name = "s", tool = "uuid-generator"}}})'
                               ':execute({f = V})', None),
    "JSON.stringify": ("JSON.stringify({f = V})", None),
    "Hook.fire data": ('Hook.fire("BeforeToolExecution", {f = V})', None),
    "shared data": ('Workflow.sequential({name = "w", steps = {{name = "s", tool = "uuid-generator"}}})'
                    ':set_shared_data("k", {f = V})', None),
}


@pytest.mark.parametrize("sink", sorted(PLAIN_SINKS_LUA))
async def test_lua_function_where_data_is_expected_names_the_parameter(tmp_path: Path, sink: str) -> None:
    call, readback = PLAIN_SINKS_LUA[sink]
    seen = "local got = {}\nEvent.subscribe('user.*', function(e) got[#got + 1] = e end)\n"
    r = await run(tmp_path, seen + f"""
        local V = function() return 1 end
        local ok, err = pcall(function() return {call} end)
        print(ok, tostring(err))
        {f'print("readback", {readback} == nil)' if readback else ''}
        print("delivered", #got)
    """)
    r.ok()
    lines = r.out.splitlines()
    assert lines[0].startswith("false\t"), r.out
    assert "function" in lines[0] and "plain data" in lines[0], lines[0]
    if readback:
        assert lines[1] == "readback\ttrue", r.out  # nothing was stored
    assert lines[-1] == "delivered\t0"
    assert not any(e.event_type in ("user.x", "state.changed", "tool.completed") for e in r.events)


PLAIN_SINKS_JS = {
    "State.set": ('await State.set("k", {f: V})', 'await State.get("k")'),
    "Event.publish": ('await Event.publish("user.x", {f: V})', None),
    "agent input": ('await Agent.builder().name("a").model("offline/scripted").build().execute({text: "hi", '
                    'parameters: {f: V}})', None),
    "workflow step input": ('Workflow.builder().name("w").sequential().addStep({name: "s", type: "tool", '
                            'tool: "template-creator", input: {input: "{{ f }}", context: {f: V}}}).build()', None),
    "Hook.fire data": ('await Hook.fire("BeforeToolExecution", {f: V})', None),
}


@pytest.mark.parametrize("sink", sorted(PLAIN_SINKS_JS))
async def test_js_function_where_data_is_expected_names_the_parameter(tmp_path: Path, sink: str) -> None:
    call, readback = PLAIN_SINKS_JS[sink]
    r = await run(tmp_path, f"""
        const got = [];
        Event.subscribe("user.*", (e) => {{ got.push(e); }});
        const V = () => 1;
        let msg = "ran";
        try {{ {call}; }} catch (e) {{ msg = String(e.message); }}
        console.log(msg);
        {f'console.log("readback", ({readback}) === undefined);' if readback else ''}
        await sleep(20);
        console.log("delivered", got.length);
    """, "js")
    r.ok()
    lines = r.out.splitlines()
    assert lines[0] != "ran" and "function" in lines[0] and "plain data" in lines[0], r.out
    if readback:
        assert lines[1] == "readback true", r.out
    assert lines[-1] == "delivered 0"


async def test_lua_handles_and_functions_still_work_where_declared(tmp_path: Path) -> None:
    r = await run(tmp_path, """
        local n = 0
        local sid = Event.subscribe("user.*", function(e) n = n + 1 end)
        local h = Hook.register("BeforeToolExecution", function(ctx) return "continue" end)
        Tool.register("twice", "doubles", function(p) return {v = p.x * 2} end)
        local inner = Workflow.sequential({name = "inner", steps = {{name = "u", tool = "uuid-generator"}}})
        local wf = Workflow.sequential({name = "outer", steps = {
          {name = "f", type = "function", fn = function(input) return {ok = true} end},
          {name = "w", type = "workflow", workflow = inner},
        }})
        local res = wf:execute({})
        Event.publish("user.ping", {x = 1})
        print(Tool.execute("twice", {x = 21}).result.v, res.success, Hook.unregister(h))
        return {n = n}
    """)
    r.ok()
    assert r.out.splitlines()[0] in ("42\ttrue\ttrue",), r.out


async def test_lua_table_with_metatable_crosses_as_its_raw_contents(tmp_path: Path) -> None:
    r = await run(tmp_path, """
        local called = false
        local mt = {__index = function() called = true; return "meta" end,
                    __pairs = function() called = true; return next, {}, nil end,
                    __len = function() called = true; return 99 end,
                    __tostring = function() called = true; return "x" end}
        local t = setmetatable({a = 1}, mt)
        local out = Tool.execute("template-creator", {input = "{{ a }}|{{ b }}", context = t})
        State.set("k", t)
        local back = State.get("k")
        print(out.result and out.result.rendered or out.rendered, getmetatable(back) == nil, back.a, called)
    """)
    r.ok()
    assert r.out == "1|\ttrue\t1\tfalse\n", r.out


async def test_lua_userdata_and_coroutines_are_named_in_the_error(tmp_path: Path) -> None:
    r = await run(tmp_path, """
        local co = coroutine.create(function() end)
        local ok, err = pcall(State.set, "k", {co = co})
        print(ok, tostring(err))
        print(State.get("k") == nil)
    """)
    r.ok()
    line = r.out.splitlines()[0]
    assert line.startswith("false") and "value.co" in line and "coroutine" in line, r.out
    assert r.out.splitlines()[1] == "true"


FORGED = ['{"__ls_obj": 1, "c": "Tool", "f": {}}', '{"__ls_fn": 0}', '{"__ls_pyfn": 1}',
          '{"__ls_obj": 2, "c": "AgentBuilder"}', '{"__ls_x": 1, "__ls_obj": 0}']


@pytest.mark.parametrize("forged", FORGED)
async def test_js_forged_markers_stay_plain_data(tmp_path: Path, forged: str) -> None:
    r = await run(tmp_path, f"""
        const forged = {forged};
        const out = await Tool.execute("template-creator",
                                       {{input: "{{{{ x }}}}", context: {{x: forged, y: [forged]}}}});
        await State.set("k", {{inner: forged, list: [forged]}});
        const back = await State.get("k");
        const echoed = JSON.parse(JSON.stringify(back));
        console.log(out.result ? out.result.rendered : out.rendered);
        console.log(typeof back.inner, typeof back.inner.execute, typeof back.inner.list,
                    Object.getPrototypeOf(back.inner) === Object.prototype,
                    JSON.stringify(back.inner) === JSON.stringify(forged), JSON.stringify(echoed.list[0]) ===
                    JSON.stringify(forged));
    """, "js")
    r.ok()
    lines = r.out.splitlines()
    assert "__ls_" in lines[0] and "function" not in lines[0].lower() and "object at" not in lines[0], r.out
    assert lines[1] == "object undefined undefined true true true", r.out


async def test_js_marker_secret_cannot_be_observed_or_forged(tmp_path: Path) -> None:
    r = await run(tmp_path, """
        const seen = [];
        Object.prototype.toJSON = function () { seen.push(Object.keys(this).join(",")); return this; };
        Object.defineProperty = ((orig) => function (o, k, d) { seen.push(String(k)); return orig(o, k, d); })(
          Object.defineProperty);
        const oldKeys = Object.keys;
        Object.keys = function (o) { const ks = oldKeys(o); seen.push(ks.join(",")); return ks; };
        WeakMap.prototype.get = function () { return 1; };
        Map.prototype.get = function () { return undefined; };
        const sid = Event.subscribe("user.*", (e) => 1);
        const b = Agent.builder();
        // handles carry nothing a spell can copy onto another object
        const syms = Object.getOwnPropertySymbols(b).concat(Object.getOwnPropertySymbols(Agent));
        const forged = Object.create(Object.getPrototypeOf(b));
        for (const s of syms) forged[s] = b[s];
        let forgeErr = "none";
        try { forged.name("x"); } catch (e) { forgeErr = e.name; }
        let stateErr = "none";
        try { await State.set("k", {a: forged}); } catch (e) { stateErr = e.message; }
        delete Object.prototype.toJSON;
        console.log(JSON.stringify(seen.filter((s) => s.includes("__ls") || /[0-9a-f]{16}/.test(s))));
        console.log(syms.length, forgeErr, stateErr.includes("plain data") || stateErr === "none");
        console.log(JSON.stringify(await State.get("k")));
    """, "js")
    r.ok()
    lines = r.out.splitlines()
    assert lines[0] == "[]", r.out
    assert lines[1].startswith("0 TypeError"), r.out


async def test_js_getters_and_proxies_in_data_never_become_live(tmp_path: Path) -> None:
    r = await run(tmp_path, """
        const p = new Proxy({}, {ownKeys: () => ["a"], getOwnPropertyDescriptor: () => ({enumerable: true,
          configurable: true, value: 1}), get: (t, k) => k === "a" ? (() => 1) : undefined});
        const g = {}; Object.defineProperty(g, "x", {enumerable: true, get: () => Tool});
        const res = [];
        for (const v of [p, g]) {
          try { await State.set("k", v); res.push("stored"); } catch (e) { res.push(e.message); }
        }
        console.log(JSON.stringify(res), (await State.get("k")) === undefined);
    """, "js")
    r.ok()
    assert "stored" not in r.out and "plain data" in r.out and r.out.rstrip().endswith("true"), r.out


async def test_hook_result_with_a_function_does_not_reach_the_tool(tmp_path: Path) -> None:
    r = await run(tmp_path, """
        Hook.register("BeforeToolExecution", function(ctx)
          return {action = "modified", modified_data = {parameters = {input = "{{ f }}", context = {f = print}}}}
        end)
        local ok, res = pcall(Tool.execute, "template-creator", {input = "plain", context = {}})
        local text = ok and (res.result and res.result.rendered or res.rendered) or tostring(res)
        print(text)
    """)
    assert "LuaFunction" not in r.out and "lua function" not in r.out.lower() and "<" not in r.out, r.out
    assert r.rt.config.security.allowed_paths == []


async def test_js_hook_result_with_a_function_does_not_reach_the_tool(tmp_path: Path) -> None:
    r = await run(tmp_path, """
        Hook.register("BeforeToolExecution", (ctx) => ({action: "modified",
          modified_data: {parameters: {input: "{{ f }}", context: {f: console.log}}}}));
        let text;
        try { const res = await Tool.execute("template-creator", {input: "plain", context: {}});
              text = res.result ? res.result.rendered : res.rendered; }
        catch (e) { text = e.message; }
        console.log(text);
    """, "js")
    assert "JSFunction" not in r.out and "<" not in r.out, r.out


# ------------------------------------------------------------------------------------------------
# 2. templates: sandboxed, bounded output and operations, caps from config

TEMPLATE_BOMBS = [
    "{{ 9**(9**9) }}",
    "{{ 'a'*10**9 }}",
    "{{ 'ab' * 999999999 }}",
    "{{ [1] * 10**9 }}",
    "{% for i in range(10**9) %}{% endfor %}",
    "{% for i in range(10**5) %}{% for j in range(10**5) %}{% endfor %}{% endfor %}",
    "{% set s = 'x' * 1000 %}{% for a in s %}{% for b in s %}{% for c in s %}{% endfor %}{% endfor %}{% endfor %}",
    "{{ 'a'|center(10**9) }}",
    "{{ 'a'|indent(10**9) }}",
    "{{ '%999999999d'|format(1) }}",
    "{{ '%*d' % (999999999, 1) }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ 'x'.ljust(999999999) }}",
    "{{ ('a' * 100000)|replace('', 'b' * 100000) }}",
    "{{ ['a' * 100000] * 100000 }}",
    "{% macro f(s, n) %}{{ f(s ~ s, n - 1) if n else s|length }}{% endmacro %}{{ f('ab', 60) }}",
    "{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "{% set x %}{% for i in range(100000) %}{{ 'y' * 10000 }}{% endfor %}{% endset %}{{ x|length }}",
    "{{ lipsum(100000, false, 1000000, 2000000) }}",
    "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
    "{{ range(10**6)|list|batch(1)|list|length }}{{ [0]|batch(10**9, 'x')|list }}",
    "{{ ((('a' * 10**6) ~ ('a' * 10**6)) ~ ('a' * 10**6)) * 10 }}",
    "{% for x in [1] recursive %}{{ loop([1, 1]) }}{{ loop([1, 1]) }}{% endfor %}",
]

TEMPLATE_WALKS = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.system('touch pwned') }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'].system('touch pwned') }}",
    "{{ self.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ config.items() }}",
    "{{ range.__self__ }}",
    "{{ dict.__base__.__subclasses__() }}",
    "{{ x.__class__.__base__ }}",
    "{{ x.items.__self__ }}",
    "{{ loop }}{% for i in [1] %}{{ loop.__class__ }}{% endfor %}",
    "{{ x|attr('__class__') }}",
    "{{ (x.items|attr('__self__')).__class__ }}",
    "{% set c = x.__class__ %}{{ c }}",
    "{{ 'a'.format.__globals__ }}",
    "{{ x.pop('k') }}{{ x }}",
    "{{ x.update({'k': 2}) }}{{ x }}",
    "{{ [].append(1) }}",
]


async def _render(rt: Any, tpl: str, engine: str = "jinja", context: dict[str, Any] | None = None) -> Any:
    from llmspell.core.errors import LLMSpellError

    t0 = time.monotonic()
    try:
        out: Any = await asyncio.wait_for(
            rt.tools.execute("template-creator", {"input": tpl, "context": context or {"x": {"k": 1}},
                                                  "engine": engine}), 20)
    except LLMSpellError as e:
        out = e
    return out, time.monotonic() - t0


def _rendered(out: Any) -> str:
    if isinstance(out, BaseException):
        return ""
    v = getattr(out, "data", out)
    if isinstance(v, dict):
        return str(v.get("rendered", ""))
    return str(v)


@pytest.fixture
def trt(tmp_path: Path) -> Runtime:
    ws = tmp_path / "ws"
    ws.mkdir()
    return Runtime(workspace=ws, state="memory")


@pytest.mark.parametrize("tpl", TEMPLATE_BOMBS)
async def test_template_bombs_are_bounded(trt: Runtime, tmp_path: Path, tpl: str) -> None:
    out, secs = await _render(trt, tpl)
    assert secs < 10, f"took {secs:.1f}s"
    text = _rendered(out)
    cap = 1 << 20
    assert len(text) <= cap
    if not isinstance(out, BaseException):
        # harmless when it did render: nothing big came out
        assert len(text) < 10_000, text[:200]
    outside_untouched(tmp_path)


@pytest.mark.parametrize("tpl", TEMPLATE_WALKS)
async def test_template_attribute_walks_are_refused_or_harmless(trt: Runtime, tmp_path: Path, tpl: str) -> None:
    before = policy_snapshot(trt)
    out, _ = await _render(trt, tpl)
    text = _rendered(out)
    for bad in ("<class", "<built-in", "<function", "module", "__", "Environment", "Context", "subprocess",
                "'k': 2", "{}"):
        if bad == "{}" and "x" not in tpl:
            continue
        assert bad not in text, (tpl, text)
    assert policy_snapshot(trt) == before
    assert not (trt.workspace / "pwned").exists() if hasattr(trt, "workspace") else True
    assert not list(tmp_path.rglob("pwned"))
    outside_untouched(tmp_path)


async def test_template_caps_come_from_config_not_from_parameters(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    small = Runtime(workspace=ws, state="memory", overrides={"limits": {"max_template_output_bytes": 100}})
    out, _ = await _render(small, "{{ 'a' * 200 }}")
    assert isinstance(out, BaseException) and "template" in str(out).lower()
    out, _ = await _render(small, "{{ 'a' * 50 }}")
    assert _rendered(out) == "a" * 50
    # a spell cannot raise the cap through the tool's parameters
    from llmspell.core.errors import LLMSpellError

    with pytest.raises(LLMSpellError):
        await small.tools.execute("template-creator", {"input": "{{ 'a' * 200 }}", "context": {},
                                                       "max_output_bytes": 10**9, "limits": {"x": 1}})


HANDLEBARS_BOMBS = [
    ("{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}x{{/a}}{{/a}}{{/a}}{{/a}}{{/a}}", {"a": list(range(200))}),
    ("{{#a}}{{#a}}{{#a}}{{#a}}{{/a}}{{/a}}{{/a}}{{/a}}", {"a": list(range(300))}),
    ("{{#a}}{{s}}{{s}}{{s}}{{s}}{{/a}}", {"a": list(range(10000)), "s": "y" * 100000}),
]


@pytest.mark.parametrize(("tpl", "ctx"), HANDLEBARS_BOMBS)
async def test_handlebars_bombs_are_bounded(trt: Runtime, tpl: str, ctx: dict[str, Any]) -> None:
    out, secs = await _render(trt, tpl, "handlebars", ctx)
    assert secs < 10, f"took {secs:.1f}s"
    assert len(_rendered(out)) <= 1 << 20


async def test_templates_still_render_ordinary_data(trt: Runtime) -> None:
    out, _ = await _render(trt, "{% for p in people %}{{ loop.index }}:{{ p.name|upper }} {% endfor %}"
                                "{{ d.items()|list|length }} {{ '%05.1f'|format(3.14159) }} {{ 'a,b'.split(',') }}"
                                "{{ (n ** 2) }} {{ 'ab' * 2 }} {{ s|center(9) }}|{{ 'x' ~ n }}",
                           context={"people": [{"name": "ada"}, {"name": "bob"}], "d": {"a": 1, "b": 2},
                                    "n": 3, "s": "mid"})
    assert _rendered(out) == "1:ADA 2:BOB 2 003.1 ['a', 'b']9 abab    mid   |x3", out
    hb, _ = await _render(trt, "{{#people}}<{{name}}>{{/people}}{{^none}}empty{{/none}}{{#ok}}yes{{/ok}}",
                          "handlebars", {"people": [{"name": "a"}, {"name": "b"}], "none": [], "ok": True})
    assert _rendered(hb) == "<a><b>emptyyes", hb


# ------------------------------------------------------------------------------------------------
# 3. reserved event names

RESERVED = ["agent.completed", "agent.started", "tool.completed", "tool.failed", "workflow.completed",
            "workflow.step.completed", "session.ended", "state.changed", "hook.executed", "security.violation",
            "system.shutdown", "recovery.retry", "config.changed", "Agent.Completed", " agent.completed",
            "AGENT.COMPLETED", "agent", "session"]

FORGED_USAGE = "{usage = {prompt_tokens = 1000000, completion_tokens = 1000000, total_tokens = 2000000, " \
               "cost_usd = 999.0}, model_used = 'x'}"


@pytest.mark.parametrize("name", RESERVED)
async def test_lua_cannot_publish_runtime_event_names(tmp_path: Path, name: str) -> None:
    r = await run(tmp_path, f"""
        local got = 0
        Event.subscribe("*", function(e) if e.event_type == "{name}" then got = got + 1 end end)
        local ok, err = pcall(Event.publish, "{name}", {FORGED_USAGE})
        print(ok, tostring(err))
        local wf = Workflow.sequential({{name = "w", steps = {{{{name = "s", tool = "uuid-generator"}}}}}})
        local ok2, err2 = pcall(function() return wf:emit("{name}", {FORGED_USAGE}) end)
        print(ok2, tostring(err2))
        local a = Agent.builder():name("a"):model("offline/scripted"):build()
        local ok3, err3 = pcall(function() return a:logEvent("{name}", "x") end)
        print(ok3, tostring(err3))
        print("seen", got)
    """)
    r.ok()
    lines = r.out.splitlines()
    for ln in lines[:3]:
        assert ln.startswith("false") and "reserved" in ln, r.out
    assert lines[3] == "seen\t0"
    # the runtime may publish the name itself (session.ended ends every run); the spell's never arrived
    assert not any((e.event_type.strip().lower() == name.strip().lower() and "usage" in str(e.data))
                   or "'message': 'x'" in str(e.data) for e in r.events)
    assert r.fin.usage.total_tokens == 0 and not r.fin.cost_usd


async def test_js_cannot_publish_runtime_event_names(tmp_path: Path) -> None:
    r = await run(tmp_path, f"""
        const names = {RESERVED!r};
        const res = [];
        for (const n of names) {{
          try {{ await Event.publish(n, {{usage: {{prompt_tokens: 1e6, completion_tokens: 1e6, total_tokens: 2e6}}}});
                res.push("published " + n); }}
          catch (e) {{ res.push(e.message.includes("reserved") ? "refused" : e.message); }}
        }}
        await Event.publish("user.done", {{ok: true}});
        console.log(JSON.stringify(res));
    """, "js")
    r.ok()
    assert r.out.strip() == '["' + '","'.join(["refused"] * len(RESERVED)) + '"]', r.out
    assert [e.event_type for e in r.events if e.event_type.startswith("user.")] == ["user.done"]
    assert r.fin.usage.total_tokens == 0 and not r.fin.cost_usd


async def test_forged_agent_completed_does_not_change_reported_usage(tmp_path: Path) -> None:
    r = await run(tmp_path, f"""
        local a = Agent.builder():name("a"):model("offline/scripted"):build()
        a:execute({{text = "hi"}})
        pcall(Event.publish, "agent.completed", {FORGED_USAGE})
        pcall(Event.publish, "agent.completed", {FORGED_USAGE}, {{source = "runtime", language = "python"}})
    """)
    r.ok()
    real = [e for e in r.events if e.event_type == "agent.completed"]
    assert len(real) == 1
    assert 0 < r.fin.usage.total_tokens < 1000


async def test_spell_events_are_tagged_with_a_trusted_origin(tmp_path: Path) -> None:
    r = await run(tmp_path, """
        local sid = Event.subscribe("*")
        Event.publish("user.x", {a = 1}, {source = "runtime", language = "python"})
        Tool.execute("uuid-generator", {})
        while true do
          local e = Event.receive(sid, 300)
          if e == nil then break end
          print(e.event_type, e.metadata.origin)
        end
    """)
    r.ok()
    rows = dict(ln.split("\t") for ln in r.out.splitlines())
    assert rows["user.x"] == "spell"
    assert rows["tool.completed"] == "runtime"


# ------------------------------------------------------------------------------------------------
# 4. huge, deep and cyclic values


LUA_HUGE = {
    "cycle": "local v = {}; v.self = v",
    "deep": "local v = {}; local c = v; for i = 1, 10000 do c.n = {}; c = c.n end",
    "shared fan-out": "local a = {}; for i = 1, 1000 do a[i] = i end; local b = {}; for i = 1, 1000 do b[i] = a end;"
                      " local v = {}; for i = 1, 1000 do v[i] = b end",
    "wide": "local v = {}; for i = 1, 3000000 do v[i] = i end",
}


@pytest.mark.parametrize("kind", sorted(LUA_HUGE))
async def test_lua_huge_values_passed_to_the_runtime_fail_clearly(tmp_path: Path, kind: str) -> None:
    r = await run(tmp_path, f"""
        {LUA_HUGE[kind]}
        local ok, err = pcall(State.set, "k", v)
        print(ok, tostring(err))
        print(State.get("k") == nil)
    """)
    r.ok()
    assert r.secs < 30
    lines = r.out.splitlines()
    assert lines[0].startswith("false"), r.out
    assert any(w in lines[0] for w in ("too large", "too deep", "nested", "itself")), lines[0]
    assert lines[1] == "true"


@pytest.mark.parametrize("kind", sorted(LUA_HUGE))
async def test_lua_huge_return_values_fail_clearly(tmp_path: Path, kind: str) -> None:
    r = await run(tmp_path, f"""
        {LUA_HUGE[kind]}
        return v
    """)
    assert r.secs < 30
    assert r.fin.status == "error", (r.fin.status, r.error)
    assert any(w in r.error for w in ("too large", "too deep", "nested", "itself")), r.error
    assert "return" in r.error


JS_HUGE = {
    "cycle": "const v = {}; v.self = v;",
    "deep": "let v = {}; let c = v; for (let i = 0; i < 5000; i++) { c.n = {}; c = c.n; }",
    "shared fan-out": "const a = Array.from({length: 1000}, (_, i) => i); const b = Array(1000).fill(a);"
                      " const v = Array(1000).fill(b);",
    "wide": "const v = Array.from({length: 3000000}, (_, i) => i);",
}


@pytest.mark.parametrize("kind", sorted(JS_HUGE))
async def test_js_huge_values_fail_clearly(tmp_path: Path, kind: str) -> None:
    r = await run(tmp_path, f"""
        {JS_HUGE[kind]}
        let msg = "stored";
        try {{ await State.set("k", v); }} catch (e) {{ msg = e.name + ": " + e.message; }}
        console.log(msg);
        console.log((await State.get("k")) === undefined);
    """, "js")
    assert r.secs < 30
    r.ok()
    lines = r.out.splitlines()
    assert lines[0] != "stored", r.out
    assert lines[1] == "true"


@pytest.mark.parametrize("kind", sorted(JS_HUGE))
async def test_js_huge_return_values_fail_clearly(tmp_path: Path, kind: str) -> None:
    r = await run(tmp_path, f"""
        {JS_HUGE[kind]}
        return v;
    """, "js")
    assert r.secs < 30
    assert r.fin.status == "error", (r.fin.status, r.error)


SHARED_BOMBS = [
    "{% set s = 'x' * 1000000 %}{% set l = [s] * 1000000 %}{{ '%s'|format(l) }}",
    "{% set s = 'x' * 1000000 %}{% set l = [s] * 1000000 %}{{ l|join }}{{ l|string }}",
    "{% set s = 'x' * 400000 %}{{ range(100000)|map('replace', '', s)|list|length }}",
    "{% set s = 'x' * 400000 %}{{ range(100000)|map('center', 900000)|list|length }}",
    "{% set s = 'x' * 100000 %}{% set a = [s,s,s,s,s,s,s,s,s,s] %}{% set b = [a,a,a,a,a,a,a,a,a,a] %}"
    "{% set c = [b,b,b,b,b,b,b,b,b,b] %}{% set d = [c,c,c,c,c,c,c,c,c,c] %}{{ d|map('string')|list|length }}"
    "{{ d ~ '' }}{{ d|tojson }}",
    "{% macro f(n, l) %}{{ f(n - 1, [l, l]) if n else l|string|length }}{% endmacro %}{{ f(200, ['x']) }}",
    "{% set s = 'y' * 500000 %}{% for i in range(100000) %}{% if (s ~ i)|length > 0 %}{% endif %}{% endfor %}",
]


@pytest.mark.parametrize("tpl", SHARED_BOMBS)
async def test_template_shared_reference_bombs_are_bounded(trt: Runtime, tpl: str) -> None:
    out, secs = await _render(trt, tpl)
    assert secs < 10, f"took {secs:.1f}s"
    assert len(_rendered(out)) < 10_000


@pytest.mark.parametrize("action", [
    '{type = "modified", data = {data = {usage = {prompt_tokens = 1000000, completion_tokens = 1000000, '
    'total_tokens = 2000000}}}}',
    '{type = "replace", data = {usage = {prompt_tokens = 1000000, completion_tokens = 1, total_tokens = 1000001}}}',
    '{type = "cancel", reason = "hide it"}',
])
async def test_emit_hooks_cannot_rewrite_or_hide_runtime_events(tmp_path: Path, action: str) -> None:
    r = await run(tmp_path, f"""
        Hook.register("BeforeEventEmit", function(ctx) return {action} end)
        local a = Agent.builder():name("a"):model("offline/scripted"):build()
        a:execute({{text = "hi"}})
    """)
    r.ok()
    done = [e for e in r.events if e.event_type == "agent.completed"]
    assert len(done) == 1 and 0 < r.fin.usage.total_tokens < 1000, (done, r.fin.usage)
