"""The JS globals are generated from the real API declaration, generically (camelCase names)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import llmspell.api.globals  # noqa: F401 - fills the registries
from llmspell.api.context import SpellContext
from llmspell.api.decl import CLASSES, GLOBALS, exposed_methods
from llmspell.engines.js import create_spell
from llmspell.runtime import Runtime


async def _run(tmp_path: Path, src: str) -> Any:
    rt = Runtime(workspace=tmp_path, state="memory")
    await rt.start()
    try:
        return await create_spell(SpellContext(runtime=rt, file=tmp_path / "decl.js"), src).run()
    finally:
        await rt.shutdown()


async def test_every_declared_global_method_exists_in_js(tmp_path: Path) -> None:
    names = json.dumps(sorted(GLOBALS))
    r = await _run(tmp_path, "const NAMES = " + names + ";\n" + """
const out = {};
for (const name of NAMES) {
  const g = globalThis[name];
  out[name] = g === undefined ? null : Object.getOwnPropertyNames(g).filter(k => typeof g[k] === "function").sort();
}
return out;
""")
    for name, cls in GLOBALS.items():
        if name == "JSON":  # the language's own JSON is kept (same parse/stringify, JS semantics)
            continue
        expected = sorted(m.js_name for m in exposed_methods(cls).values())
        assert r[name] == expected, name


async def test_builder_prototype_matches_the_declaration_and_async_means_promise(tmp_path: Path) -> None:
    r = await _run(tmp_path, """
const b = Agent.builder().name("decl-test").model("offline/scripted");
const names = Object.getOwnPropertyNames(Object.getPrototypeOf(b)).sort();
const agent = b.build();
const pending = agent.execute({ text: "hi" });
await pending;
return { names, buildIsPromise: agent instanceof Promise, tag: Object.prototype.toString.call(agent),
         agentName: agent.name, executeIsPromise: pending instanceof Promise };
""")
    assert r["names"] == sorted(m.js_name for m in exposed_methods(CLASSES["AgentBuilder"]).values())
    assert "systemPrompt" in r["names"] and "system_prompt" not in r["names"]
    # build() is an async def declared expose(blocking=True): a plain call in JS, not a Promise
    assert exposed_methods(CLASSES["AgentBuilder"])["build"].blocking
    assert r["buildIsPromise"] is False
    # execute() is a plain async def: a Promise in JS
    assert exposed_methods(CLASSES["AgentInstance"])["execute"].is_async
    assert r["executeIsPromise"] is True
    assert r["tag"] == "[object AgentInstance]"
    assert r["agentName"] == "decl-test"
