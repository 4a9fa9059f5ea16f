"""Two script callbacks that both wait on the runtime at once (map items calling State.set) finish.

A callback served while the spell thread waits (``SpellHost.wait``) may itself wait; the inner wait
can take the outer wait's completion off the inbox. It must keep it for the outer wait instead of
dropping it (before the fix, the first item's ``State.set`` never returned and the run hung until
its wall time)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from llmspell.runner import SpellRunner
from llmspell.runtime import Runtime

LUA = """
local wf = Workflow.builder():name("w"):map_reduce():items({1, 2, 3, 4})
  :map_step({name = "m", type = "function", fn = function(item)
      State.set("nested", "k" .. item, item)
      return State.get("nested", "k" .. item) * 10
    end})
  :build()
local r = wf:execute({})
return {r.outputs.m, #State.list_keys("nested")}
"""

JS = """
const wf = Workflow.builder().name("w").mapReduce().items([1, 2, 3, 4])
  .mapStep({ name: "m", type: "function", fn: async (item) => {
      await State.set("nested", "k" + item, item);
      return (await State.get("nested", "k" + item)) * 10;
  } })
  .build();
const r = await wf.execute({});
return [r.outputs.m, (await State.listKeys("nested")).length];
"""


@pytest.mark.parametrize(("name", "src"), [("spell.lua", LUA), ("spell.js", JS)])
async def test_concurrent_callbacks_that_wait_all_finish(tmp_path: Path, name: str, src: str) -> None:
    (tmp_path / name).write_text(src, encoding="utf-8")
    runner = SpellRunner(lambda: Runtime(workspace=tmp_path, state="memory"))

    async def run() -> list[object]:
        return [m async for m in runner.run(tmp_path / name)]

    msgs = await asyncio.wait_for(run(), 30)
    fin = msgs[-1]
    assert fin.type == "finished" and fin.status == "success", fin.error
    assert fin.result == [[10, 20, 30, 40], 4]
