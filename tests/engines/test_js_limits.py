"""Limits and cancellation of JS spells: memory, stack, wall time, cancel latency, long computations."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from js_support import Captured, make_spell

from llmspell.core.errors import ResourceLimitError, ScriptError
from llmspell.engines.host import SpellCancelled


async def _cancel_after(spell: object, delay: float) -> float:
    """Start the spell, cancel it after ``delay`` s; returns the latency from cancel() to its end."""
    task = asyncio.create_task(spell.run())  # type: ignore[attr-defined]
    await asyncio.sleep(delay)
    assert not task.done(), "the spell ended before it was cancelled"
    t0 = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # the spell thread itself must be gone too, not just the awaiting task
    while spell.thread.is_alive():  # type: ignore[attr-defined]
        await asyncio.sleep(0.001)
        assert time.perf_counter() - t0 < 1.0
    return time.perf_counter() - t0


@pytest.mark.parametrize(
    "src",
    [
        "while (true) {}",
        "while (true) { try { while (true) {} } catch (e) {} }",
        "async function spin() { while (true) {} }\ntry { await spin(); } catch (e) { while (true) {} }",
        "let n = 0; for (;;) { n += Math.sqrt(n); }",
    ],
)
async def test_cancel_a_busy_loop_within_100ms(src: str) -> None:
    latency = await _cancel_after(make_spell(src), 0.15)
    assert latency < 0.1


async def test_cancel_while_awaiting_the_runtime() -> None:
    latency = await _cancel_after(make_spell("await Agent.sleep(30);"), 0.05)
    assert latency < 0.1


async def test_cancel_via_host_cancel_method() -> None:
    spell = make_spell("while (true) {}")
    task = asyncio.create_task(spell.run())
    await asyncio.sleep(0.1)
    spell.cancel("stop requested")
    with pytest.raises(SpellCancelled, match="stop requested"):
        await task


async def test_long_computation_finishes_even_with_a_tiny_slice_setting() -> None:
    # No slices: the interrupt handler only fires on cancel / exit / wall time, so a spell that
    # computes for much longer than js_slice_cpu_s still completes.
    r = await make_spell(
        "let s = 0; const t = Date.now(); while (Date.now() - t < 300) { s++; } return s > 0;", js_slice_cpu_s=0.01
    ).run()
    assert r is True


async def test_wall_time_limit_through_the_runner(tmp_path: Path) -> None:
    from llmspell.config import load_config
    from llmspell.runner import SpellRunner

    spell = tmp_path / "spin.js"
    spell.write_text("console.log('spinning');\nwhile (true) {}\n")
    cfg = load_config(tmp_path, overrides={"limits": {"wall_time_s": 0.3}, "state": {"backend": "memory"}})
    t0 = time.perf_counter()
    msgs = [m async for m in SpellRunner(config=cfg).run(spell)]
    elapsed = time.perf_counter() - t0
    fin = msgs[-1]
    assert fin.type == "finished" and fin.status == "timeout"
    assert [m.text for m in msgs if m.type == "output"] == ["spinning\n"]
    assert elapsed < 1.5


async def test_memory_limit() -> None:
    with pytest.raises(ResourceLimitError, match=r"memory limit exceeded \(max_memory_mb = 16\)") as ei:
        await make_spell("const keep = [];\nwhile (true) { keep.push('x'.repeat(1 << 16) + keep.length); }\n",
                         max_memory_mb=16).run()
    assert ei.value.file == "spells/t.js"  # type: ignore[attr-defined]


async def test_memory_that_is_freed_is_fine() -> None:
    r = await make_spell(
        "let n = 0; for (let i = 0; i < 50; i++) { const a = new Array(100000).fill(i); n += a.length; } return n;",
        max_memory_mb=16,
    ).run()
    assert r == 5_000_000


async def test_stack_overflow_is_a_catchable_error_and_uncaught_is_located() -> None:
    r = await make_spell("function f(n) { return f(n + 1) + 1; }\ntry { f(0); } catch (e) { return e.message; }").run()
    assert "stack overflow" in r
    with pytest.raises(ScriptError, match="stack overflow"):
        await make_spell("function f(n) {\n  return f(n + 1) + 1;\n}\nf(0);\n").run()


async def test_recursion_depth_available() -> None:
    r = await make_spell("function d(n) { return n === 0 ? 0 : 1 + d(n - 1); } return d(1000);").run()
    assert r == 1000


async def test_cancel_one_spell_does_not_disturb_another() -> None:
    out = Captured()
    busy = make_spell("while (true) {}")
    calm = make_spell("await Agent.sleep(0.2); console.log('calm done'); return 7;", out)
    t_busy = asyncio.create_task(busy.run())
    t_calm = asyncio.create_task(calm.run())
    await asyncio.sleep(0.05)
    t_busy.cancel()
    assert await t_calm == 7
    assert out.stdout == "calm done\n"
    with pytest.raises(asyncio.CancelledError):
        await t_busy


async def test_cancel_works_with_the_fallback_interrupt_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    # Builds of quickjs without a symbol table get a ctypes handler instead of the binding's static one.
    from llmspell.engines.js import interrupt

    interrupt._resolve()
    monkeypatch.setattr(interrupt, "_static_handler", None)
    spell = make_spell("let n = 0; while (true) { n++; }")
    latency = await _cancel_after(spell, 0.1)
    assert spell._interrupter is None or not spell._interrupter.uses_static_handler
    assert latency < 0.1
