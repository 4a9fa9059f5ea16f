"""Shared helpers of the tracing tests: run spells traced, read OTLP JSON spans back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def attrs(span: dict[str, Any]) -> dict[str, Any]:
    """OTLP JSON attributes as a plain dict (ints parsed, arrays as lists)."""
    def val(v: dict[str, Any]) -> Any:
        if "intValue" in v:
            return int(v["intValue"])
        if "arrayValue" in v:
            return [val(x) for x in v["arrayValue"].get("values", [])]
        return next(iter(v.values()))
    return {a["key"]: val(a["value"]) for a in span.get("attributes", [])}


def spans_of(otlp: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for rs in otlp["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]


def by_name(spans: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [s for s in spans if s["name"] == name]


def one(spans: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = by_name(spans, name)
    assert len(found) == 1, f"expected one span {name!r}, got {[s['name'] for s in spans]}"
    return found[0]


def parent_of(spans: list[dict[str, Any]], span: dict[str, Any]) -> dict[str, Any] | None:
    pid = span.get("parentSpanId")
    return next((s for s in spans if s["spanId"] == pid), None) if pid else None


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "runtime"), str(REPO / "server")])
    env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    env.update(extra)
    return env


def run_cli(spell: Path, *args: str, env: dict[str, str] | None = None,
            timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llmspell_ls", "--run", str(spell), *args], cwd=spell.parent,
                          env=env or cli_env(), capture_output=True, text=True, timeout=timeout)


AGENT_TOOL_WORKFLOW = '''
Hook.register("BeforeToolExecution", function(ctx) return "continue" end)
local agent = Agent.builder():name("math-helper"):model("offline/scripted")
  :system_prompt("You solve arithmetic with the calculator tool.")
  :allowed_tools({"calculator"}):build()
local r = agent:execute({text = "Please calculate 12 * 7 + 1"})
Event.publish("user.checkpoint", {stage = "agent done"})
local wf = Workflow.builder():name("summary"):sequential()
  :add_step({name = "ask", type = "agent", agent = "math-helper", input = "Please calculate 6 * 7"})
  :add_step({name = "hash", type = "tool", tool = "hash-calculator",
             input = {operation = "hash", input = "{{step.ask.output}}"}})
  :build()
local out = wf:execute({})
return {agent = r.text, workflow = out.success}
'''
