"""Every Lua spell in examples/ runs offline and prints what it promises (through the real runner)."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_helpers import DEDICATED_EXAMPLES, dedicated_module_names, run_collect

from llmspell.messages import Finished

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# example -> (lines/fragments its output must contain, expected result or ...)
EXPECTED: dict[str, tuple[list[str], object]] = {
    "hello.lua": (["Hello, world!", "Agent says: ", 'I received: "Say hello to world"'], {"greeted": "world"}),
    "first_tool.lua": (["2 + 3 * 4 =\t14", "uuid looks valid:\ttrue", "uppercase:\tHELLO SPELLS",
                        "tools available:\ttrue\ttrue\tfalse", "words:\t6"], {"sum": 14, "words": 6}),
    "first_agent.lua": (['1:\t[offline', 'I received: "What is a spell?"', "(Turn 2 of our conversation.)",
                         "agents:\ttrue\ttrue", "dot call fails:\ttrue\ttrue"], {"turns": 2}),
    "workflow_sequential.lua": (["Sequential workflow 'text-pipeline' completed successfully",
                                 "success:\ttrue", "final:\tSPELLS RUN IN ORDER\t(4 words)"],
                                {"text": "SPELLS RUN IN ORDER", "words": 4}),
    "workflow_parallel.lua": (["Parallel workflow 'fan-out' completed successfully",
                               "branches:\tencode, hash, shout", "shout:\tPARALLEL SPELLS"], {"branches": 3}),
    "workflow_conditional.lua": (["high priority ->\tescalated to a human", "low priority  ->\tqueued for later",
                                  "Conditional workflow 'router' completed successfully"],
                                 ["escalated to a human", "queued for later"]),
    "workflow_loop.lua": (["Loop workflow 'squares' completed successfully", "squares:\t1 4 9 16"], [1, 4, 9, 16]),
    "workflow_map_reduce.lua": (["completed successfully", "total letters:\t19"], 19),
    "hooks_modify.lua": (["hook saw input:\t1 + 1", "result after the hook:\t20", "result without the hook:\t2",
                          "hooks registered now:\t0"], [20, 2]),
    "hooks_cancel.lua": (["refused:\thook\t-\tcancelled by a BeforeToolExecution hook: file access is disabled",
                          "other tools still work:\t42"], "done"),
    "events_callback.lua": (["got\torder.created\twith\t{", '"item":"wand"', "got\torder.shipped",
                             "runtime event:\ttool.completed", "order events seen:\t2"],
                            ["order.created", "order.shipped"]),
    "events_pull.lua": (["#1: 21 °C (sensor.reading)", "#3: 23 °C", "received\t3\treadings"], [21, 22, 23]),
    "state.lua": (["this spell has run 1 time", "keys in scope 'examples':\tlua_last_run, lua_run_count"], 1),
    "agent_tools.lua": (["tool used by the agent:\tcalculator", "calculator returned 85", "invokeTool:\t1024"], True),
    "error_handling.lua": (["caught:\ttool\t-\tTool 'no-such-tool' not found",
                            "as text:\terror_handling.lua:3: tool error: Tool 'no-such-tool' not found",
                            "caught:\tvalidation\tat line\t8", "soft failure:\tfalse", "custom error code:\t42",
                            "bad JSON:\tfalse\tvalidation", "plain error:\terror_handling.lua:23: boom"], "handled"),
    "streaming.lua": (["chunks received:", 'I received: "Tell me a short story about a spell."'], ...),
    "tool_chain_workflow.lua": (["success:\ttrue", "Best team: red", "- red: average 88.0 over 2 player(s)",
                                 "- green: average 80.0 over 1 player(s)", "- blue: average 71.0 over 2 player(s)",
                                 "archived:\t2\tfiles", "sha256 of report:\t64\thex digits"],
                                {"best": "red", "archived": 2}),
}


def test_every_example_is_covered() -> None:
    names = sorted(p.name for p in EXAMPLES.glob("*.lua"))
    dedicated = sorted(n for n in names if n[:-4] in DEDICATED_EXAMPLES)
    assert sorted(set(names) - set(dedicated)) == sorted(EXPECTED), "add the new example to EXPECTED"
    assert len(EXPECTED) >= 12
    for n in dedicated:
        assert dedicated_module_names(n[:-4], "lua"), f"{DEDICATED_EXAMPLES[n[:-4]]} does not run {n}"


async def run_example(name: str, ws: Path) -> tuple[str, Finished]:
    return await run_collect(EXAMPLES / name, ws)


@pytest.mark.asyncio
@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_example(name: str, tmp_path: Path) -> None:
    fragments, result = EXPECTED[name]
    out, fin = await run_example(name, tmp_path)
    assert fin.status == "success", f"{fin.error}\n{out}"
    for frag in fragments:
        assert frag in out, f"{frag!r} not in output:\n{out}"
    if result is not ...:
        assert fin.result == result


@pytest.mark.asyncio
async def test_state_persists_across_runs(tmp_path: Path) -> None:
    _, first = await run_example("state.lua", tmp_path)
    out, second = await run_example("state.lua", tmp_path)
    assert (first.result, second.result) == (1, 2)
    assert "this spell has run 2 times" in out


@pytest.mark.asyncio
async def test_streaming_callback_ran_once_per_chunk(tmp_path: Path) -> None:
    out, fin = await run_example("streaming.lua", tmp_path)
    line = next(ln for ln in out.splitlines() if ln.startswith("chunks received:"))
    n = int(line.split("\t")[1])
    assert n > 3 and fin.result == n and f"(callback ran {n} times)" in line


@pytest.mark.asyncio
async def test_agent_examples_report_usage(tmp_path: Path) -> None:
    _, fin = await run_example("first_agent.lua", tmp_path)
    assert fin.usage.total_tokens > 0
