"""Composite agents: a supervisor that delegates to named workers, and simple routings
(sequential, parallel, vote) over existing agents. Workers really run (their own hooks, events,
usage); the composite's output metadata carries each worker's answer in ``agent_outputs``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from typing import Any

from llmspell.core.errors import ValidationError
from llmspell.core.traits import BaseAgent
from llmspell.core.types import AgentInput, AgentOutput, Usage

STRATEGIES = ("hierarchical", "sequential", "parallel", "vote")


async def _run(agent: BaseAgent, text: str, context: dict[str, Any] | None = None) -> AgentOutput:
    run = getattr(agent, "run", None)
    inp = AgentInput(text=text, context=context or {})
    return await (run(inp) if run is not None else agent.execute(inp))


def _plan_from_text(text: str, workers: list[str]) -> dict[str, str] | None:
    """A JSON object ``{worker: subtask}`` anywhere in the supervisor's reply, restricted to workers."""
    for m in re.finditer(r"\{.*\}", text, re.S):
        try:
            data = json.loads(m.group(0))
        except ValueError:
            continue
        if isinstance(data, dict):
            plan = {k: str(v) for k, v in data.items() if k in workers and v}
            if plan:
                return plan
    return None


class CompositeAgent(BaseAgent):
    """``strategy`` decides how members run:

    * ``hierarchical``: the supervisor plans (a JSON ``{worker: subtask}`` in its reply; otherwise every
      worker gets the whole task), the workers run concurrently, and the supervisor synthesises
      their results into the final answer;
    * ``sequential``: each agent gets the previous agent's answer; the last answer is the result;
    * ``parallel``: all agents answer the same input concurrently; answers are joined;
    * ``vote``: like parallel; the most common answer wins (ties: the first).
    """

    kind = "Agent"

    def __init__(
        self,
        runtime: Any,
        name: str,
        members: list[str],
        strategy: str = "hierarchical",
        *,
        supervisor: str | None = None,
        description: str = "",
        timeout_ms: int | None = None,
        fallback_agent: str | None = None,
    ):
        if strategy not in STRATEGIES:
            raise ValidationError(f"composite '{name}': unknown routing '{strategy}'; expected one of {STRATEGIES}")
        if not members:
            raise ValidationError(f"composite '{name}': expected at least one agent name")
        super().__init__(name, description or f"{strategy} composite of {', '.join(members)}")
        self.runtime = runtime
        self.strategy = strategy
        self.agent_type = strategy
        self.supervisor: str | None
        if strategy == "hierarchical":
            self.supervisor = supervisor or members[0]
            self.workers = [m for m in members if m != self.supervisor]
            if not self.workers:
                raise ValidationError(f"composite '{name}': a hierarchical agent needs at least one worker")
        else:
            self.supervisor = None
            self.workers = list(members)
        self.members = list(members)
        self.timeout_ms = timeout_ms
        self.fallback_agent = fallback_agent
        self.capabilities = ["delegation", strategy]
        self.state = "ready"
        self.usage = Usage()

    def _agent(self, name: str) -> BaseAgent:
        return self.runtime.agents.require(name)  # type: ignore[no-any-return]

    async def run(self, input: AgentInput) -> AgentOutput:
        return await self.execute(input)

    async def execute(self, input: AgentInput) -> AgentOutput:
        start = time.perf_counter()
        events = getattr(self.runtime, "events", None)
        if events is not None:
            await events.publish("agent.started", {"component_name": self.name, "input_text_length": len(input.text),
                                                   "strategy": self.strategy}, source=self.name)
        try:
            coro = getattr(self, f"_{self.strategy}")(input)
            if self.timeout_ms:
                out: AgentOutput = await asyncio.wait_for(coro, self.timeout_ms / 1000.0)
            else:
                out = await coro
        except Exception as e:
            if self.fallback_agent:
                fb = await _run(self._agent(self.fallback_agent), input.text, input.context)
                fb.metadata["fallback_from"] = self.name
                fb.metadata["fallback_error"] = str(e)
                return fb
            if events is not None:
                await events.publish("agent.failed", {"component_name": self.name, "error": str(e),
                                                      "error_type": type(e).__name__}, source=self.name)
            raise
        ms = round((time.perf_counter() - start) * 1000, 3)
        out.metadata.setdefault("duration_ms", ms)
        out.metadata["strategy"] = self.strategy
        if events is not None:
            await events.publish("agent.completed", {"component_name": self.name, "duration_ms": ms,
                                                     "output_text_length": len(out.text)}, source=self.name)
        return out

    def _merge_usage(self, outs: list[AgentOutput]) -> Usage:
        u = Usage()
        for o in outs:
            if o.usage is not None:
                u = u.add(o.usage)
        self.usage = self.usage.add(u)
        return u

    async def _hierarchical(self, input: AgentInput) -> AgentOutput:
        assert self.supervisor is not None
        sup = self._agent(self.supervisor)
        plan_prompt = (
            f"You supervise these workers: {', '.join(self.workers)}. Split the task into one subtask per "
            f"worker and reply with a JSON object mapping worker name to subtask.\nTask: {input.text}"
        )
        plan_out = await _run(sup, plan_prompt, input.context)
        plan = _plan_from_text(plan_out.text, self.workers) or {w: input.text for w in self.workers}
        names = list(plan)
        results = await asyncio.gather(*(_run(self._agent(w), plan[w], input.context) for w in names))
        agent_outputs = {w: r.text for w, r in zip(names, results, strict=True)}
        report = "\n".join(f"- {w}: {t}" for w, t in agent_outputs.items())
        final = await _run(sup, f"Synthesise one answer to the task from your workers' results.\n"
                                f"Task: {input.text}\nResults:\n{report}", input.context)
        usage = self._merge_usage([plan_out, *results, final])
        return AgentOutput(text=final.text, usage=usage, metadata={
            "supervisor": self.supervisor, "workers": names, "plan": plan, "agent_outputs": agent_outputs,
            "estimated_tokens": usage.total_tokens,
        })

    async def _sequential(self, input: AgentInput) -> AgentOutput:
        text = input.text
        outs: list[AgentOutput] = []
        agent_outputs: dict[str, str] = {}
        for name in self.workers:
            out = await _run(self._agent(name), text, input.context)
            outs.append(out)
            agent_outputs[name] = out.text
            text = out.text
        usage = self._merge_usage(outs)
        return AgentOutput(text=text, usage=usage, metadata={"agent_outputs": agent_outputs,
                                                             "estimated_tokens": usage.total_tokens})

    async def _gather(self, input: AgentInput) -> tuple[list[AgentOutput], dict[str, str]]:
        outs = await asyncio.gather(*(_run(self._agent(n), input.text, input.context) for n in self.workers))
        return list(outs), {n: o.text for n, o in zip(self.workers, outs, strict=True)}

    async def _parallel(self, input: AgentInput) -> AgentOutput:
        outs, agent_outputs = await self._gather(input)
        usage = self._merge_usage(outs)
        text = "\n\n".join(f"[{n}] {t}" for n, t in agent_outputs.items())
        return AgentOutput(text=text, usage=usage, metadata={"agent_outputs": agent_outputs,
                                                             "estimated_tokens": usage.total_tokens})

    async def _vote(self, input: AgentInput) -> AgentOutput:
        outs, agent_outputs = await self._gather(input)
        usage = self._merge_usage(outs)
        counts = Counter(o.text.strip() for o in outs)
        best = max(counts.values())
        winner = next(o.text for o in outs if counts[o.text.strip()] == best)
        return AgentOutput(text=winner, usage=usage, metadata={"agent_outputs": agent_outputs, "votes": best,
                                                               "estimated_tokens": usage.total_tokens})

    def hierarchy(self) -> dict[str, Any]:
        children = []
        for n in self.members:
            a = self.runtime.agents.get(n)
            if isinstance(a, CompositeAgent):
                children.append(a.hierarchy() | {"role": "supervisor" if n == self.supervisor else "worker"})
            else:
                children.append({"name": n, "type": getattr(a, "agent_type", "llm") if a else "missing",
                                 "role": "supervisor" if n == self.supervisor else "worker"})
        return {"name": self.name, "type": "composite", "strategy": self.strategy,
                "supervisor": self.supervisor, "children": children}
