"""Serialisable workflow definitions (what a checkpoint stores to rebuild a workflow).

A definition is plain data (pydantic, JSON-able) except for script functions (function steps,
function conditions, while predicates), which live in excluded fields: a workflow rebuilt from a
checkpoint in a *new* runtime has no script functions, so resuming it fails with a clear message
when it reaches one (rebuilding the workflow in the spell and calling ``workflow:resume(id)`` on it
keeps them). The parsing helpers accept the tables spells pass (rs-llmspell's keys, plus a few
aliases its examples use: ``tool_name``, ``parameters``, ``func``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from llmspell.core.errors import ValidationError

WorkflowType = Literal["sequential", "parallel", "conditional", "loop", "map_reduce"]
StepType = Literal["tool", "agent", "workflow", "function", "template"]
ErrorStrategy = Literal["fail_fast", "stop", "continue", "retry", "rollback"]
ConditionType = Literal["always", "never", "shared_data_equals", "shared_data_exists", "step_output_contains",
                        "expression", "function"]

WORKFLOW_TYPE_NAMES: tuple[str, ...] = ("sequential", "parallel", "conditional", "loop", "map_reduce")
STEP_TYPE_NAMES: tuple[str, ...] = ("tool", "agent", "workflow", "function", "template")
ERROR_STRATEGY_NAMES: tuple[str, ...] = ("fail_fast", "stop", "continue", "retry", "rollback")


class _Def(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, extra="ignore")


class ConditionDef(_Def):
    """When a conditional branch runs, a loop breaks, or a while-loop continues."""

    type: ConditionType = "always"
    key: str | None = None
    value: Any = None
    step: str | None = None
    expression: str | None = None
    fn: Any = Field(default=None, exclude=True)
    """A script function ``fn(ctx) -> bool`` (type ``function``); not saved in checkpoints."""


class StepDef(_Def):
    name: str
    type: StepType
    tool: str | None = None
    agent: str | None = None
    workflow: WorkflowDef | None = None
    template_id: str | None = None
    params: dict[str, Any] | None = None
    input: Any = None
    timeout_ms: int | None = None
    retry_count: int = 0
    fn: Any = Field(default=None, exclude=True)
    """A script function ``fn(input, ctx)`` (type ``function``); not saved in checkpoints."""
    instance: Any = Field(default=None, exclude=True)
    """The live nested workflow (type ``workflow``), when the spell passed one."""


class BranchDef(_Def):
    name: str = "branch"
    condition: ConditionDef = Field(default_factory=ConditionDef)
    steps: list[StepDef] = Field(default_factory=list)


class IteratorDef(_Def):
    kind: Literal["range", "collection", "while"] = "range"
    start: float = 1
    end: float = 10
    step: float = 1
    values: list[Any] = Field(default_factory=list)
    condition: ConditionDef | None = None
    """For ``while``: the condition checked before each iteration."""


class WorkflowDef(_Def):
    name: str
    description: str = ""
    type: WorkflowType = "sequential"
    steps: list[StepDef] = Field(default_factory=list)
    """sequential steps; loop body; parallel steps (each its own branch); conditional: unused."""
    branches: list[BranchDef] = Field(default_factory=list)
    """parallel branches (each runs its steps in order), or conditional branches (first match runs)."""
    default_steps: list[StepDef] = Field(default_factory=list)
    """conditional: the else branch."""
    iterator: IteratorDef | None = None
    max_iterations: int | None = None
    break_conditions: list[ConditionDef] = Field(default_factory=list)
    map_step: StepDef | None = None
    reduce_step: StepDef | None = None
    items: Any = None
    """map_reduce: a list, or a placeholder such as ``{{input.items}}`` (default: ``input.items``)."""
    max_concurrency: int | None = None
    error_strategy: ErrorStrategy = "fail_fast"
    timeout_ms: int | None = None
    retry_attempts: int = 3
    retry_backoff_ms: float = 1000.0
    """retry strategy: first wait (doubles per attempt); rs-llmspell waits 1000 ms."""

    def all_steps(self) -> list[StepDef]:
        out = list(self.steps)
        for b in self.branches:
            out.extend(b.steps)
        out.extend(self.default_steps)
        out.extend(s for s in (self.map_step, self.reduce_step) if s is not None)
        return out


StepDef.model_rebuild()


# ----------------------------------------------------------------------------------- parsing


def _is_fn(v: Any) -> bool:
    from llmspell.api.decl import ScriptFunction

    return isinstance(v, ScriptFunction) or (callable(v) and not isinstance(v, (str, dict, list, type)))


def normalise_error_strategy(s: Any) -> ErrorStrategy:
    v = str(s or "fail_fast").strip().lower().replace("-", "_")
    if v in ("fail_fast", "failfast", "stop", "abort"):
        return "stop" if v == "stop" else "fail_fast"
    if v in ("continue", "continue_on_error", "ignore"):
        return "continue"
    if v.startswith("retry"):
        return "retry"
    if v in ("rollback", "roll_back"):
        return "rollback"
    raise ValidationError(f"error_strategy: expected one of {', '.join(ERROR_STRATEGY_NAMES)}, got {s!r}")


def parse_condition(c: Any) -> ConditionDef:
    """A condition table (``{type=..., key?, value?}``), a script predicate, a string or a bool."""
    if c is None or c is True:
        return ConditionDef(type="always")
    if c is False:
        return ConditionDef(type="never")
    if isinstance(c, ConditionDef):
        return c
    if _is_fn(c):
        return ConditionDef(type="function", fn=c)
    if isinstance(c, str):
        if c in ("always", "never"):
            return ConditionDef(type=c)  # type: ignore[arg-type]
        return ConditionDef(type="expression", expression=c)
    if isinstance(c, dict):
        t = str(c.get("type") or ("function" if _is_fn(c.get("fn")) else "always"))
        allowed = ("always", "never", "shared_data_equals", "shared_data_exists", "step_output_contains",
                   "expression", "function")
        if t not in allowed:
            raise ValidationError(f"condition type: expected one of {', '.join(allowed)}, got {t!r}")
        if t in ("shared_data_equals", "shared_data_exists") and not c.get("key"):
            raise ValidationError(f"condition '{t}' needs a 'key'")
        fn = c.get("fn") or c.get("func") or c.get("predicate")
        return ConditionDef(type=t, key=c.get("key"), value=c.get("value"), step=c.get("step"),  # type: ignore[arg-type]
                            expression=c.get("expression") or c.get("expr"), fn=fn)
    raise ValidationError(f"condition: expected a table, a function or a string, got {type(c).__name__}")


def parse_step(s: Any, *, where: str = "step") -> StepDef:
    """A script step table -> :class:`StepDef` (the type is inferred when ``type`` is missing)."""
    if isinstance(s, StepDef):
        return s
    if not isinstance(s, dict):
        raise ValidationError(f"{where}: expected a step table {{name=..., type=...}}, got {type(s).__name__}")
    name = s.get("name")
    if not name or not isinstance(name, str):
        raise ValidationError(f"{where}: a step needs a 'name'")
    raw_fn = s.get("fn") or s.get("func") or s.get("function")
    fn = raw_fn if _is_fn(raw_fn) else None
    tool = s.get("tool") or s.get("tool_name")
    t = s.get("type")
    if t is None:
        t = ("tool" if tool else "agent" if s.get("agent") else "workflow" if s.get("workflow")
             else "function" if fn else "template" if s.get("template_id") else None)
    if t == "custom":
        raise ValidationError(f"step '{name}': step type 'custom' was removed from rs-llmspell; write "
                              "type = \"function\" with fn = function(input, ctx) ... end for script code, "
                              "or a \"tool\", \"agent\", \"workflow\" or \"template\" step")
    if t not in STEP_TYPE_NAMES:
        raise ValidationError(f"step '{name}': Unknown step type {t!r} "
                              f"(expected one of {', '.join(STEP_TYPE_NAMES)})")
    inp = s.get("input", s.get("parameters", s.get("params") if t != "template" else None))
    wf = s.get("workflow")
    wf_def: WorkflowDef | None = None
    instance = None
    if t == "workflow":
        if wf is None:
            raise ValidationError(f"step '{name}': a workflow step needs 'workflow' (a workflow object)")
        inner = getattr(wf, "instance", wf)  # the script-side handle wraps the engine instance
        if isinstance(inner, WorkflowDef):
            wf_def = inner
        elif isinstance(wf, dict):
            wf_def = parse_workflow(wf)
        elif inner is not None and hasattr(inner, "definition"):
            wf_def = inner.definition
            instance = inner
        else:
            raise ValidationError(f"step '{name}': 'workflow' must be a workflow object")
    if t == "tool" and not tool:
        raise ValidationError(f"step '{name}': a tool step needs 'tool' (the tool name)")
    if t == "agent":
        if not s.get("agent"):
            raise ValidationError(f"step '{name}': an agent step needs 'agent' (the agent's name)")
    if t == "function" and fn is None:
        raise ValidationError(f"step '{name}': a function step needs 'fn' (a function(input, ctx))")
    if t == "template" and not s.get("template_id") and not s.get("template"):
        raise ValidationError(f"step '{name}': a template step needs 'template_id'")
    agent = s.get("agent")
    if agent is not None and not isinstance(agent, str):
        agent = getattr(agent, "name", None) or str(agent)
    return StepDef(
        name=name, type=t, tool=tool, agent=agent, workflow=wf_def, instance=instance,  # type: ignore[arg-type]
        template_id=s.get("template_id") or s.get("template"), params=s.get("params") if t == "template" else None,
        input=inp, timeout_ms=_int_or_none(s.get("timeout_ms")), retry_count=int(s.get("retry_count") or 0), fn=fn,
    )


def _int_or_none(v: Any) -> int | None:
    return None if v is None else int(v)


def _steps(v: Any, where: str) -> list[StepDef]:
    if v is None:
        return []
    if isinstance(v, dict):  # a Lua array that arrived as {1=..., 2=...}
        v = [v[k] for k in sorted(v, key=lambda x: int(x) if str(x).isdigit() else 0)]
    if not isinstance(v, list):
        raise ValidationError(f"{where}: expected a list of steps")
    return [parse_step(s, where=f"{where}[{i + 1}]") for i, s in enumerate(v)]


def parse_iterator(it: Any) -> IteratorDef:
    """``{range={start,end,step}}`` | ``{collection=[...]}`` | ``{while_condition=..., max_iterations}``."""
    if isinstance(it, IteratorDef):
        return it
    if not isinstance(it, dict):
        raise ValidationError("loop iterator: expected {range=...}, {collection=...} or {while_condition=...}")
    if "range" in it:
        r = it["range"] or {}
        if "end" not in r:
            raise ValidationError("loop iterator range: 'end' is required")
        return IteratorDef(kind="range", start=r.get("start", 0), end=r["end"], step=r.get("step", 1))
    if "collection" in it or "values" in it:
        vals = it.get("collection", it.get("values"))
        values = list(vals.values()) if isinstance(vals, dict) else list(vals or [])
        return IteratorDef(kind="collection", values=values)
    if "while_condition" in it or "while" in it:
        return IteratorDef(kind="while", condition=parse_condition(it.get("while_condition", it.get("while"))))
    raise ValidationError("loop iterator: expected one of range, collection, while_condition")


def parse_workflow(cfg: dict[str, Any], *, type_: str | None = None) -> WorkflowDef:
    """A table-config (``Workflow.sequential{...}`` etc.) -> :class:`WorkflowDef`, quirks fixed."""
    if not isinstance(cfg, dict):
        raise ValidationError("workflow config: expected a table")
    name = cfg.get("name")
    if not name:
        raise ValidationError("workflow config: 'name' is required")
    t = (type_ or cfg.get("type") or "sequential").replace("-", "_")
    if t == "loop_workflow":
        t = "loop"
    if t == "mapreduce":
        t = "map_reduce"
    if t not in WORKFLOW_TYPE_NAMES:
        raise ValidationError(f"workflow type: expected one of {', '.join(WORKFLOW_TYPE_NAMES)}, got {t!r}")
    d = WorkflowDef(
        name=name, description=cfg.get("description") or "", type=t,  # type: ignore[arg-type]
        error_strategy=normalise_error_strategy(cfg.get("error_strategy")),
        timeout_ms=_int_or_none(cfg.get("timeout_ms") or cfg.get("timeout")),
        max_concurrency=_int_or_none(cfg.get("max_concurrency")),
        max_iterations=_int_or_none(cfg.get("max_iterations")),
    )
    if cfg.get("retry_backoff_ms") is not None:
        d.retry_backoff_ms = float(cfg["retry_backoff_ms"])
    if cfg.get("retry_attempts") is not None:
        d.retry_attempts = int(cfg["retry_attempts"])
    if t == "sequential":
        d.steps = _steps(cfg.get("steps"), "steps")
        if not d.steps and cfg.get("steps") is None:
            raise ValidationError("sequential workflow: 'steps' is required")
    elif t == "parallel":
        for i, b in enumerate(cfg.get("branches") or []):
            if isinstance(b, dict) and "steps" in b:
                d.branches.append(BranchDef(name=b.get("name") or f"branch_{i + 1}",
                                            steps=_steps(b["steps"], f"branches[{i + 1}].steps")))
            else:  # a step given where a branch was expected: its own branch
                st = parse_step(b, where=f"branches[{i + 1}]")
                d.branches.append(BranchDef(name=st.name, steps=[st]))
        for st in _steps(cfg.get("steps"), "steps"):
            d.branches.append(BranchDef(name=st.name, steps=[st]))
    elif t == "conditional":
        for i, b in enumerate(cfg.get("branches") or []):
            if not isinstance(b, dict):
                raise ValidationError(f"branches[{i + 1}]: expected {{name, condition, steps}}")
            d.branches.append(BranchDef(name=b.get("name") or f"branch_{i + 1}",
                                        condition=parse_condition(b.get("condition")),
                                        steps=_steps(b.get("steps"), f"branches[{i + 1}].steps")))
        if cfg.get("condition") is not None or cfg.get("then_steps") is not None:
            d.branches.insert(0, BranchDef(name="then", condition=parse_condition(cfg.get("condition")),
                                           steps=_steps(cfg.get("then_steps"), "then_steps")))
        default = cfg.get("default_branch", cfg.get("else_steps"))
        if isinstance(default, dict) and "steps" in default:
            default = default["steps"]
        d.default_steps = _steps(default if isinstance(default, list) else None, "default_branch")
        if isinstance(default, str):  # the name of one of the branches
            for b in d.branches:
                if b.name == default:
                    d.default_steps = list(b.steps)
    elif t == "loop":
        it = cfg.get("iterator")
        if it is None:
            raise ValidationError("loop workflow: 'iterator' is required "
                                  "({range=...}|{collection=...}|{while_condition=...})")
        d.iterator = parse_iterator(it)
        if isinstance(it, dict) and it.get("max_iterations") is not None and d.max_iterations is None:
            d.max_iterations = int(it["max_iterations"])
        d.steps = _steps(cfg.get("body", cfg.get("steps")), "body")
        d.break_conditions = [parse_condition(c) for c in (cfg.get("break_conditions") or [])]
    else:  # map_reduce
        if cfg.get("map") is None and cfg.get("map_step") is None:
            raise ValidationError("map_reduce workflow: 'map' (a step) is required")
        d.map_step = parse_step(cfg.get("map") or cfg.get("map_step"), where="map")
        r = cfg.get("reduce") or cfg.get("reduce_step")
        d.reduce_step = parse_step(r, where="reduce") if r is not None else None
        d.items = cfg.get("items")
    return d
