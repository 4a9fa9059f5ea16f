"""Limits (instruction budget, memory, wall time), cancellation latency and concurrency of Lua spells."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from lua_support import fake_runtime, run_lua

from llmspell.api.context import SpellContext
from llmspell.core.errors import ResourceLimitError
from llmspell.engines.host import SpellCancelled
from llmspell.engines.lua.spell import LuaSpell

pytestmark = pytest.mark.asyncio

SPIN = "local x = 0\nwhile true do x = x + 1 end\n"
SPIN_IN_PCALL = "while true do\n  pcall(function() while true do end end)\nend\n"
SPIN_IN_COROUTINE = "local co = coroutine.wrap(function() while true do end end)\nco()\n"


@pytest.mark.parametrize("src", [SPIN, SPIN_IN_PCALL, SPIN_IN_COROUTINE])
async def test_instruction_budget(tmp_path: Path, src: str) -> None:
    o = await run_lua(src, tmp_path, instruction_budget=2_000_000)
    assert isinstance(o.error, ResourceLimitError), o.error
    assert "instruction budget exceeded (2000000 instructions)" in str(o.error)
    assert getattr(o.error, "line", None) in (1, 2)
    assert str(getattr(o.error, "file", "")).endswith("spell.lua")


async def test_budget_applies_to_callbacks_too(tmp_path: Path) -> None:
    o = await run_lua("T.call(function() while true do end end)", tmp_path, instruction_budget=1_000_000)
    assert isinstance(o.error, ResourceLimitError)


async def test_memory_limit(tmp_path: Path) -> None:
    o = await run_lua("local t = {}\nfor i = 1, 1e9 do t[i] = string.rep('x', 64) .. i end\n", tmp_path,
                      max_memory_mb=16)
    assert isinstance(o.error, ResourceLimitError), o.error
    assert "memory limit exceeded (max_memory_mb = 16)" in str(o.error)


async def test_memory_error_can_be_caught_and_the_spell_goes_on(tmp_path: Path) -> None:
    o = await run_lua(
        "local ok, err = pcall(function() local t = {} for i = 1, 1e9 do t[i] = {i} end end)\n"
        "collectgarbage()\nprint(ok, err)\n", tmp_path, max_memory_mb=16)
    assert o.error is None and o.output == "false\tnot enough memory\n"


async def _spell(tmp: Path, src: str, **limits: object) -> LuaSpell:
    p = tmp / "spell.lua"
    p.write_text(src)
    ctx = SpellContext(runtime=fake_runtime(tmp, **limits), file=p)
    from lua_support import T

    return LuaSpell(ctx, src, api_globals={"T": T}, value_globals={})


@pytest.mark.parametrize("src", [
    SPIN,
    SPIN_IN_PCALL,
    "T.sleep(30)",  # blocked in the runtime
    "T.call(function() while true do end end)",  # spinning in a callback the runtime called
    "local co = coroutine.wrap(function() while true do end end)\nco()",  # in a user coroutine
])
async def test_cancellation_latency(tmp_path: Path, src: str) -> None:
    spell = await _spell(tmp_path, src)
    task = asyncio.ensure_future(spell.run())
    await asyncio.sleep(0.15)
    assert not task.done()
    t0 = time.perf_counter()
    spell.cancel()
    with pytest.raises(SpellCancelled):
        await task
    latency = time.perf_counter() - t0
    assert latency < 0.1, f"cancel took {latency * 1000:.1f} ms"
    spell.thread.join(1)
    assert not spell.thread.is_alive()


async def test_task_cancellation_cancels_the_spell(tmp_path: Path) -> None:
    spell = await _spell(tmp_path, SPIN_IN_PCALL)
    task = asyncio.ensure_future(spell.run())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    spell.thread.join(1)
    assert not spell.thread.is_alive()


async def test_concurrent_spells_do_not_block_each_other(tmp_path: Path) -> None:
    spells = []
    for i in range(8):
        d = tmp_path / f"s{i}"
        d.mkdir()
        spells.append(await _spell(d, "return T.sleep(0.2)"))
    t0 = time.perf_counter()
    results = await asyncio.gather(*(s.run() for s in spells))
    wall = time.perf_counter() - t0
    assert results == [0.2] * 8
    assert wall < 0.8, f"8 spells awaiting 0.2 s took {wall:.2f} s"


async def test_spinning_spells_do_not_block_the_event_loop(tmp_path: Path) -> None:
    spells = []
    for i in range(2):
        d = tmp_path / f"s{i}"
        d.mkdir()
        spells.append(await _spell(d, SPIN))
    tasks = [asyncio.ensure_future(s.run()) for s in spells]
    worst = 0.0
    for _ in range(20):
        t0 = time.perf_counter()
        await asyncio.sleep(0.005)
        worst = max(worst, time.perf_counter() - t0 - 0.005)
    for s in spells:
        s.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert worst < 0.1, f"event loop lag {worst * 1000:.1f} ms"
