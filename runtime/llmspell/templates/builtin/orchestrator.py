"""workflow-orchestrator (workflow): run a declared list of agent and tool steps."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from llmspell.core.errors import ValidationError
from llmspell.templates.base import CostEstimate, Template, TemplateRun
from llmspell.templates.schema import Param, memory_parameters, model_param, provider_parameters


def parse_steps(where: str, cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """``workflow_config.steps``: each ``{name?, step_type = "agent"|"tool" (or {agent=...}/{tool=...}),
    description?, prompt?, system_prompt?, tool?, input?}`` (rs-llmspell's shape; ``type`` also accepted)."""
    steps = cfg.get("steps")
    if isinstance(steps, dict) and not steps:
        steps = []
    if not isinstance(steps, list) or not steps:
        raise ValidationError(f"{where}: parameter 'workflow_config' must contain a non-empty 'steps' array")
    out = []
    for i, s in enumerate(steps):
        at = f"workflow_config.steps[{i + 1}]"
        if not isinstance(s, dict):
            raise ValidationError(f"{where}: {at} must be a table")
        st = s.get("step_type", s.get("type"))
        if isinstance(st, dict):
            st = "agent" if ("agent" in st or "Agent" in st) else "tool" if ("tool" in st or "Tool" in st) else None
        if st not in ("agent", "tool"):
            raise ValidationError(f"{where}: {at}.step_type must be 'agent' or 'tool', got {st!r}")
        if st == "tool" and not isinstance(s.get("tool") or s.get("tool_name"), str):
            raise ValidationError(f"{where}: {at} is a tool step and needs 'tool' (a tool name)")
        out.append({**s, "step_type": st, "name": str(s.get("name") or f"step-{i + 1}")})
    return out


class WorkflowOrchestrator(Template):
    """Sequential (each step sees the previous output), parallel (all at once), hybrid (agents in
    parallel, then tools in order) or loop (the sequence repeated until ``max_steps`` steps ran)."""

    id = "workflow-orchestrator"
    name = "Workflow Orchestrator"
    description = ("Flexible AI workflow orchestration with custom patterns. Define your own agent and tool "
                   "compositions with parallel, sequential, hybrid or loop execution and result aggregation.")
    category = "workflow"
    tags = ("workflow", "orchestration", "composition", "flexible", "custom")

    def params(self) -> list[Param]:
        return [
            Param("workflow_config", "Workflow configuration: {name?, steps = {{step_type = 'agent'|'tool', "
                  "name?, prompt?|description?, tool?, input?}, ...}}", "object", required=True, min_length=1),
            Param("execution_mode", "Workflow execution mode (parallel, sequential, hybrid, loop)", "string",
                  default="sequential", allowed=("parallel", "sequential", "hybrid", "loop")),
            Param("collect_intermediate", "Collect intermediate results from each step", "boolean", default=True),
            Param("max_steps", "Maximum number of workflow steps to execute", "integer", default=10, min=1, max=100),
            model_param("Default LLM model for agents in workflow"),
            *memory_parameters(), *provider_parameters(),
        ]

    def estimate(self, params: dict[str, Any]) -> CostEstimate:
        cfg = params.get("workflow_config")
        steps = cfg.get("steps") if isinstance(cfg, dict) else None
        n = len(steps) if isinstance(steps, list) and steps else 3
        agents = int(n * 0.7)
        return CostEstimate(tokens=agents * 1000, duration_ms=agents * 3000 + (n - agents) * 1000, confidence=0.5)

    async def _step(self, run: TemplateRun, s: dict[str, Any], prev: Any) -> Any:
        if s["step_type"] == "tool":
            inp = s.get("input") or s.get("parameters") or {}
            if not isinstance(inp, dict):
                raise ValidationError(f"Template.execute('{self.id}'): step '{s['name']}': 'input' must be a table")
            return await run.tool(str(s.get("tool") or s.get("tool_name")), inp)
        prompt = str(s.get("prompt") or s.get("input") or s.get("description") or s["name"])
        if prev is not None:
            prompt += "\n\nPrevious step output:\n" + (prev if isinstance(prev, str) else json.dumps(prev, default=str))
        return await run.agent(s["name"], prompt, system_prompt=s.get("system_prompt"))

    async def execute(self, run: TemplateRun) -> Any:
        p = run.params
        steps = parse_steps(f"Template.execute('{self.id}')", p["workflow_config"])
        mode, limit = p["execution_mode"], int(p["max_steps"])
        results: list[dict[str, Any]] = []
        if mode == "parallel":
            chosen = steps[:limit]
            outs = await asyncio.gather(*(self._step(run, s, None) for s in chosen))
            results = [{"step": s["name"], "type": s["step_type"], "output": o}
                       for s, o in zip(chosen, outs, strict=True)]
        elif mode == "hybrid":
            agents = [s for s in steps if s["step_type"] == "agent"][:limit]
            outs = await asyncio.gather(*(self._step(run, s, None) for s in agents))
            results = [{"step": s["name"], "type": "agent", "output": o} for s, o in zip(agents, outs, strict=True)]
            for s in [s for s in steps if s["step_type"] == "tool"][: max(0, limit - len(agents))]:
                results.append({"step": s["name"], "type": "tool", "output": await self._step(run, s, None)})
        else:
            prev: Any = None
            count = 0
            while count < limit:
                for s in steps:
                    if count >= limit:
                        break
                    prev = await self._step(run, s, prev)
                    count += 1
                    results.append({"step": s["name"], "type": s["step_type"], "output": prev})
                if mode != "loop":
                    break
        run.metrics.custom.update({"steps_executed": len(results), "execution_mode": mode,
                                   "workflow_name": str(p["workflow_config"].get("name") or "workflow")})
        final = results[-1]["output"] if results else None
        lines = [f"Workflow '{p['workflow_config'].get('name') or 'workflow'}' ({mode}): {len(results)} steps"]
        for r in results:
            o = r["output"]
            lines.append(f"- {r['step']} [{r['type']}]: " + (o if isinstance(o, str) else json.dumps(o, default=str)))
        if p["collect_intermediate"]:
            run.save_artifact("workflow-steps.json", json.dumps(results, indent=2, default=str), "application/json")
        return "\n".join(lines) + "\n" if final is not None else lines[0] + "\n"
