"""Streaming: Lua coroutine streams, JS pull streams and async iteration, Streaming.yield, and
agent:stream over a model's streamed answer."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from e2e.e2e_helpers import run_source
from llmspell.api.decl import ScriptFunction
from llmspell.api.globals.streaming import StreamingGlobal
from llmspell.api.streams import AgentSource, CallbackSource, ScriptStream, _Producing
from llmspell.core.errors import ValidationError
from llmspell.messages import Finished


async def run(ws: Path, src: str, name: str = "spell.lua", **overrides: Any) -> tuple[str, Finished]:
    return await run_source(ws, src, name, **overrides)


class ListSource:
    """Hands out one batch per pull."""

    def __init__(self, batches: list[list[Any]]):
        self.batches = list(batches)
        self.pulls = 0
        self.closed = False

    async def pull(self) -> tuple[list[Any], bool]:
        self.pulls += 1
        batch = self.batches.pop(0) if self.batches else []
        return batch, not self.batches

    def close(self) -> None:
        self.closed = True


class PyFunction(ScriptFunction):
    def __init__(self, fn: Any):
        self.fn = fn

    async def __call__(self, *args: Any) -> Any:
        return self.fn(*args)


# ------------------------------------------------------------------------------------------ units


async def test_stream_delivers_in_order_skips_nil_and_ends() -> None:
    src = ListSource([[1, None, 2], [], [3]])
    s = ScriptStream(src)
    assert not s.is_done()
    assert await s.next() == 1 and await s.next() == 2
    assert not s.is_done()
    assert await s.next() == 3
    assert s.is_done() and s.is_done_alias()
    assert await s.next() is None and src.pulls == 3


async def test_collect_drains_and_close_stops() -> None:
    s = ScriptStream(ListSource([["a"], ["b", "c"]]))
    assert await s.next() == "a"
    assert await s.collect() == ["b", "c"] and s.is_done() and await s.collect() == []
    src = ListSource([["x"], ["y"]])
    s2 = ScriptStream(src)
    s2.close()
    assert src.closed and s2.is_done() and await s2.next() is None and src.pulls == 0


async def test_pull_error_ends_the_stream() -> None:
    class Boom:
        async def pull(self) -> tuple[list[Any], bool]:
            raise RuntimeError("producer broke")

        def close(self) -> None:
            pass

    s = ScriptStream(Boom())
    with pytest.raises(RuntimeError, match="producer broke"):
        await s.next()
    assert s.is_done()


async def test_callback_source_pulls_until_nothing_and_takes_yields() -> None:
    producing = _Producing()
    state = {"n": 0}

    def produce() -> Any:
        state["n"] += 1
        if state["n"] == 2:
            producing.stack[-1].push("pushed")  # what Streaming.yield does
            return None
        return None if state["n"] > 3 else state["n"] * 10

    src = CallbackSource(PyFunction(produce), producing)
    s = ScriptStream(src)
    src.stream = s
    assert await s.collect() == [10, "pushed", 30]
    assert s.is_done() and producing.stack == []


async def test_yield_outside_a_producer_is_a_clear_error() -> None:
    g = StreamingGlobal(SimpleNamespace())  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"no stream is being produced: call it inside the function given "
                                              r"to Streaming\.create"):
        g.yield_(1)
    with pytest.raises(ValidationError, match=r"Streaming\.create: fn: expected a function, got number"):
        g.create(5)  # type: ignore[arg-type]


async def test_agent_source_streams_chunks_and_close_cancels() -> None:
    ctx = SimpleNamespace(extra={})
    started = asyncio.Event()

    async def slow(on_chunk: Any) -> str:
        await on_chunk("a")
        await on_chunk("b")
        started.set()
        await asyncio.sleep(3600)
        return "never"

    src = AgentSource(slow, ctx)
    s = ScriptStream(src)
    assert await s.next() == {"text": "a", "content": "a", "index": 0}
    assert await s.next() == {"text": "b", "content": "b", "index": 1}
    assert ctx.extra["cleanups"] == [src.close]  # the runner cancels it when the spell ends
    task = src._task
    assert task is not None
    s.close()
    await asyncio.sleep(0)
    assert task.cancelled() or task.done()


async def test_agent_source_error_reaches_the_reader() -> None:
    async def failing(on_chunk: Any) -> str:
        await on_chunk("partial")
        raise RuntimeError("model failed")

    s = ScriptStream(AgentSource(failing, SimpleNamespace(extra={})))
    assert (await s.next())["text"] == "partial"
    with pytest.raises(RuntimeError, match="model failed"):
        await s.next()


# ------------------------------------------------------------------------------------------ spells


async def test_lua_coroutine_stream_semantics(tmp_path: Path) -> None:
    out, fin = await run(tmp_path, """
        local s = Streaming.create(function()
          for i = 1, 3 do coroutine.yield(i * 10) end
          Streaming.yield("pushed")
          coroutine.yield(nil)
          return "last"
        end)
        print(s:next(), s:isDone(), s:is_done())
        print(s:next(), s:next())
        local rest = s:collect()
        print(#rest, rest[1], rest[2], s:isDone(), s:next())
        local t = Streaming.create(function() coroutine.yield("only") end)
        print(t:next(), t:isDone(), t:next(), t:isDone())
    """)
    assert fin.status == "success", fin.error
    assert out.splitlines() == [
        "10\tfalse\tfalse",
        "20\t30",
        "2\tpushed\tlast\ttrue\tnil",
        "only\tfalse\tnil\ttrue",
    ]


async def test_lua_stream_values_are_plain_data_and_errors_name_the_line(tmp_path: Path) -> None:
    out, fin = await run(tmp_path, """
        local s = Streaming.create(function() coroutine.yield({a = 1, list = {1, 2}}) end)
        local v = s:next()
        print(v.a, #v.list)
        local bad = Streaming.create(function()
          coroutine.yield(1)
          error("producer broke")
        end)
        print(bad:next())
        local ok, e = pcall(function() return bad:next() end)
        print(ok, tostring(e))
        print(bad:isDone())
        print(pcall(Streaming.yield, 1))
        print(pcall(Streaming.create, 5))
    """)
    assert fin.status == "success", fin.error
    lines = out.splitlines()
    assert lines[0] == "1\t2" and lines[1] == "1"
    assert lines[2].startswith("false") and "producer broke" in lines[2] and "spell.lua:7" in lines[2]
    assert lines[3] == "true"
    assert "no stream is being produced" in lines[4]
    assert lines[5].startswith("false") and "fn" in lines[5] and "function" in lines[5]


@pytest.mark.parametrize(("limits", "status", "needle"), [
    ({"instruction_budget": 500_000}, "limit", "instruction budget exceeded"),
    ({"wall_time_s": 1.0}, "timeout", "wall time"),
])
async def test_lua_producer_is_metered_like_the_spell(tmp_path: Path, limits: dict[str, Any], status: str,
                                                      needle: str) -> None:
    out, fin = await run(tmp_path, """
        local s = Streaming.create(function() local i = 0 while true do i = i + 1 end end)
        print(s:next())
    """, limits=limits)
    assert fin.status == status and fin.error is not None and needle in fin.error.message, fin
    assert out == ""


async def test_lua_agent_stream(tmp_path: Path) -> None:
    out, fin = await run(tmp_path, """
        local a = Agent.builder():name("s"):model("offline/scripted"):build()
        local s = a:stream({text = "Tell me a short story"})
        local parts, n = {}, 0
        while true do
          local c = s:next()
          if not c then break end
          n = n + 1
          parts[#parts + 1] = c.text
          assert(c.index == n - 1)
        end
        local twin = Agent.builder():name("twin"):model("offline/scripted"):build()
        local full = twin:execute({text = "Tell me a short story"}).text
        print(n > 1, s:isDone(), table.concat(parts) == full)
        local s2 = a:stream({text = "again"})
        print(s2:next() ~= nil)
        s2:close()
        print(s2:isDone(), s2:next())
        print(pcall(a.stream, a, "just a string"))
    """)
    assert fin.status == "success", fin.error
    lines = out.splitlines()
    assert lines[0] == "true\ttrue\ttrue"
    assert lines[1] == "true" and lines[2] == "true\tnil"
    assert lines[3].startswith("false") and "expected a table with a 'text' field" in lines[3]


async def test_js_pull_streams_and_async_iteration(tmp_path: Path) -> None:
    out, fin = await run(tmp_path, """
        const items = [1, 2, 3];
        const s = Streaming.create(() => items.shift());
        console.log(await s.next(), s.isDone());
        const rest = [];
        for await (const v of s) rest.push(v);
        console.log(JSON.stringify(rest), s.isDone(), s.is_done());
        let calls = 0;
        const y = Streaming.create(() => {
          calls++;
          if (calls > 2) return undefined;
          Streaming.yield("y" + calls);
          return "r" + calls;
        });
        console.log(JSON.stringify(await y.collect()));
        const a = Agent.builder().name("s").model("offline/scripted").build();
        let n = 0, text = "";
        for await (const c of a.stream({ text: "Tell me a short story" })) { n++; text += c.text; }
        const twin = Agent.builder().name("twin").model("offline/scripted").build();
        const full = (await twin.execute({ text: "Tell me a short story" })).text;
        console.log(n > 1, text === full);
        const early = a.stream({ text: "again" });
        for await (const c of early) { break; }
        console.log(early.isDone());
        try { await Streaming.create(() => { throw new Error("producer broke"); }).next(); }
        catch (e) { console.log("caught", e.message); }
    """, "spell.js")
    assert fin.status == "success", fin.error
    lines = out.splitlines()
    assert lines[0] == "1 false"
    assert lines[1] == "[2,3] true true"
    assert lines[2] == '["y1","r1","y2","r2"]'
    assert lines[3] == "true true"
    assert lines[4] == "true"  # breaking out of for-await closes the stream
    assert lines[5].startswith("caught") and "producer broke" in lines[5]


# ------------------------------------------------------------------------------------------ examples

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("name", ["streaming_global.lua", "streaming_global.js"])
async def test_streaming_examples(tmp_path: Path, name: str) -> None:
    out, fin = await run(tmp_path, (EXAMPLES / name).read_text(encoding="utf-8"), name)
    assert fin.status == "success", fin.error
    sep = "\t" if name.endswith(".lua") else " "
    assert out.splitlines() == [
        f"first:{sep}3{sep}done?{sep}false",
        f"rest:{sep}2, 1, liftoff{sep}done?{sep}true",
        f"words:{sep}PULL BASED STREAMS WORK",
        f"chunks:{sep}true{sep}text starts:{sep}[offline ",
    ]
    assert isinstance(fin.result, int) and fin.result > 1
