"""The workflow engine: one :class:`WorkflowInstance` runs a :class:`WorkflowDef`.

All five patterns share one step runner (:meth:`WorkflowInstance._run_step`), so every step gets
the same lifecycle: placeholders resolved -> ``workflow.step.started`` -> ``BeforeWorkflowStage``
hook -> the step (tool / agent / nested workflow / script function / template) with its timeout ->
``AfterWorkflowStage`` (or ``WorkflowError``, which may retry or replace) -> retries per the error
strategy -> ``workflow.step.completed`` / ``workflow.step.failed`` and the progress callback.

Pause is cooperative: ``pause()`` returns a checkpoint id at once (so a step function or a hook may
call it without deadlocking) and the running workflow writes that checkpoint at the next step
boundary, then returns a ``status = "paused"`` result. ``resume(checkpoint_id)`` restores outputs,
shared data and the position and continues with the next step — in this runtime or in a new one on
the same state file (see :meth:`WorkflowRegistry.resume`). ``cancel()`` cancels the running step
tasks at once.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import math
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from llmspell.core.errors import CancelledError, HookCancelledError, LLMSpellError, WorkflowError, error_text
from llmspell.core.traits import Workflow
from llmspell.core.types import AgentInput, ComponentId, HookContext, new_id
from llmspell.workflows.model import ConditionDef, StepDef, WorkflowDef
from llmspell.workflows.resolve import MISSING, Scope, main_text, primary, to_text

if TYPE_CHECKING:
    from llmspell.runtime import Runtime

CHECKPOINT_SCOPE = "workflow_checkpoint"
_TYPE_TITLE = {"sequential": "Sequential", "parallel": "Parallel", "conditional": "Conditional", "loop": "Loop",
               "map_reduce": "MapReduce"}
_SKIPPED = object()


class _Paused(Exception):
    def __init__(self, checkpoint_id: str):
        super().__init__(checkpoint_id)
        self.checkpoint_id = checkpoint_id


class _Cancelled(Exception):
    pass


class StepFailed(Exception):
    def __init__(self, step: str, error: BaseException):
        super().__init__(f"step '{step}' failed: {error}")
        self.step = step
        self.error = error


def new_workflow_id() -> str:
    return f"workflow_{uuid.uuid4()}"


def _err_text(e: BaseException) -> str:
    """:func:`error_text`, except that a bare timeout reads "timed out" in step results and events."""
    if isinstance(e, TimeoutError) and not isinstance(e, LLMSpellError):
        return "timed out"
    return error_text(e)


class WorkflowInstance(Workflow):
    """A runnable workflow: definition + shared data + outputs of the last execution."""

    kind = "Workflow"

    def __init__(self, runtime: Runtime | Any, definition: WorkflowDef, *, id: str | None = None):
        super().__init__(definition.name, definition.description, id=id or new_workflow_id())
        self.runtime = runtime
        self.definition = definition
        self.shared_data: dict[str, Any] = {}
        self.outputs: dict[str, Any] = {}
        self.step_results: list[dict[str, Any]] = []
        self.agent_outputs: dict[str, Any] = {}
        self.execution_id: str | None = None
        self.status = "ready"
        self.last_result: dict[str, Any] | None = None
        self.checkpoints: list[str] = []
        self.on_progress: Callable[[dict[str, Any]], Any] | None = None
        self.created_at = time.time()
        self.metrics: dict[str, Any] = {"executions": 0, "successful_executions": 0, "failed_executions": 0,
                                        "total_duration_ms": 0.0, "steps_executed": 0, "steps_failed": 0}
        self._input: Any = {}
        self._cursor: dict[str, Any] = {}
        self._pause_cp: str | None = None
        self._cancel = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._elapsed_before = 0.0
        self._iterations: list[dict[str, Any]] = []
        self._extra: dict[str, Any] = {}
        self.session_id: str | None = None
        """The session the workflow was created in (its checkpoints fire SessionCheckpoint there)."""
        self._restore_point: dict[str, Any] = {}
        self.emit_output: Callable[[str, str], None] | None = None
        """The run's output sink (set by the Workflow global): printed output of steps that ran on
        cluster workers is written here."""

    # ------------------------------------------------------------------------------ properties

    @property
    def type(self) -> str:
        return self.definition.type

    @property
    def component(self) -> ComponentId:
        return ComponentId(type="Workflow", name=self.name)

    def info(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "type": self.type, "description": self.description,
                "status": self.status, "execution_id": self.execution_id,
                "steps": [s.name for s in self.definition.all_steps()],
                "error_strategy": self.definition.error_strategy}

    # ------------------------------------------------------------------------------ public control

    async def run(self, input: dict[str, Any] | str | None = None) -> dict[str, Any]:
        """Execute from the start; returns the result table (raises WorkflowError on fail-fast failure)."""
        return await self._start(input, None)

    async def pause(self) -> str:
        """Ask the workflow to stop at the next step boundary; returns the checkpoint id at once.

        When the workflow is not running, the checkpoint (of the last position) is written now.
        """
        cp = f"checkpoint_{uuid.uuid4()}"
        if self.status == "running":
            self._pause_cp = cp
            return cp
        await self._write_checkpoint(cp, dict(self._cursor))
        return cp

    async def resume(self, checkpoint_id: str) -> dict[str, Any]:
        """Continue from a checkpoint written by :meth:`pause` (in this or an earlier runtime)."""
        state = getattr(self.runtime, "state", None)
        payload = await state.get(CHECKPOINT_SCOPE, checkpoint_id) if state is not None else None
        if not isinstance(payload, dict):
            raise WorkflowError(f"checkpoint '{checkpoint_id}' not found (scope '{CHECKPOINT_SCOPE}')")
        if payload.get("definition", {}).get("type") != self.type:
            other = payload.get("definition", {}).get("type")
            raise WorkflowError(f"checkpoint '{checkpoint_id}' belongs to a {other} workflow, "
                                f"not to this {self.type} workflow")
        return await self._start(None, payload)

    async def cancel(self) -> None:
        """Stop now: running steps are cancelled; ``execute`` returns a ``status = "cancelled"`` result."""
        if self.status != "running":
            return
        self._cancel = True
        for t in list(self._tasks):
            t.cancel()

    async def emit(self, event_type: str, data: Any = None, *, metadata: dict[str, Any] | None = None) -> Any:
        events = getattr(self.runtime, "events", None)
        if events is None:
            return None
        payload = {"workflow_id": self.id, "workflow_name": self.name, "data": data}
        return await events.publish(event_type, payload, source=self.id, correlation_id=self.execution_id,
                                    metadata=metadata)

    # ------------------------------------------------------------------------------ the run

    async def _start(self, input: Any, resume: dict[str, Any] | None) -> dict[str, Any]:
        hooks = getattr(self.runtime, "hooks", None)
        if hooks is None or not hasattr(hooks, "scoped"):
            return await self._start_run(input, resume)
        # the whole run is one scope (an ``invoke_workflow`` span when tracing); steps nest inside
        return await hooks.scoped("workflow", self.component, {  # type: ignore[no-any-return]
            "workflow_id": self.id, "workflow_name": self.name, "workflow_type": self.type,
            "resumed": resume is not None}, lambda: self._start_run(input, resume))

    async def _start_run(self, input: Any, resume: dict[str, Any] | None) -> dict[str, Any]:
        if self.status == "running":
            raise WorkflowError(f"workflow '{self.name}' is already running")
        d = self.definition
        self._cancel = False
        self._pause_cp = None
        self.status = "running"
        if resume is not None:
            self.outputs = dict(resume.get("outputs") or {})
            self.step_results = list(resume.get("step_results") or [])
            self.agent_outputs = dict(resume.get("agent_outputs") or {})
            self.shared_data = dict(resume.get("shared_data") or {})
            self._iterations = list(resume.get("iterations") or [])
            self._cursor = dict(resume.get("cursor") or {})
            self.execution_id = resume.get("execution_id") or new_id("exec")
            self._elapsed_before = float(resume.get("elapsed_ms") or 0.0)
            inp = resume.get("input") or {}
        else:
            self.outputs, self.step_results, self.agent_outputs = {}, [], {}
            self._iterations = []
            self._cursor = {}
            self.execution_id = new_id("exec")
            self._elapsed_before = 0.0
            inp = _normalise_input(input)
        self._extra = {}
        self._set_restore_point(resume.get("checkpoint_id", "start") if resume is not None else "start")
        hooks = getattr(self.runtime, "hooks", None)
        events = getattr(self.runtime, "events", None)
        base = {"workflow_id": self.id, "workflow_name": self.name, "workflow_type": self.type,
                "execution_id": self.execution_id}
        t0 = time.perf_counter()
        self.metrics["executions"] += 1
        try:
            if hooks is not None and hooks.has_hooks("BeforeWorkflowStart"):
                ctx = HookContext(point="BeforeWorkflowStart", component_id=self.component,
                                  correlation_id=self.execution_id or new_id(),
                                  data={**base, "input": inp, "resumed": resume is not None})
                hr = await hooks.execute(ctx)
                if hr.kind == "cancel":
                    raise HookCancelledError("BeforeWorkflowStart", hr.reason or "cancelled")
                if hr.kind == "modified" and isinstance(ctx.data, dict) and "input" in ctx.data:
                    inp = ctx.data["input"]
            self._input = inp
            if events is not None:
                await events.publish("workflow.resumed" if resume is not None else "workflow.started",
                                     {**base, **({"checkpoint_id": resume.get("checkpoint_id")} if resume else {})},
                                     correlation_id=self.execution_id, source=self.id)
            if d.timeout_ms:
                async with asyncio.timeout(d.timeout_ms / 1000.0):
                    await self._dispatch()
            else:
                await self._dispatch()
        except _Paused as p:
            self.status = "paused"
            result = self._result("paused", t0, checkpoint_id=p.checkpoint_id)
            if events is not None:
                await events.publish("workflow.paused", {**base, "checkpoint_id": p.checkpoint_id},
                                     correlation_id=self.execution_id, source=self.id)
            self.last_result = result
            return result
        except (_Cancelled, asyncio.CancelledError) as e:
            if isinstance(e, asyncio.CancelledError) and not self._cancel:
                self.status = "cancelled"
                raise
            self.status = "cancelled"
            result = self._result("cancelled", t0)
            if events is not None:
                await events.publish("workflow.cancelled", base, correlation_id=self.execution_id, source=self.id)
            self.last_result = result
            return result
        except Exception as e:
            rolled_to: str | None = None
            if d.error_strategy == "rollback" and isinstance(e, StepFailed):
                rolled_to, recovered = await self._rollback(e, base, t0)
                if recovered is not None:
                    return recovered
            self.status = "failed"
            self.metrics["failed_executions"] += 1
            err = self._as_workflow_error(e)
            if rolled_to is not None:
                err = WorkflowError(f"{err.message} (shared data and outputs rolled back to {rolled_to})",
                                    details={**err.details, "rolled_back_to": rolled_to})
            result = self._result("failed", t0, error=err.message)
            err.details.setdefault("result", result)
            self.last_result = result
            if hooks is not None and not isinstance(e, StepFailed):
                await hooks.fire("WorkflowError", self.component, {**base, "error": err.message,
                                                                   "error_type": type(e).__name__})
            if events is not None:
                await events.publish("workflow.failed", {**base, "error": err.message,
                                                         "step": getattr(e, "step", None)},
                                     correlation_id=self.execution_id, source=self.id)
            if err is e or isinstance(e, (HookCancelledError, CancelledError)):
                raise
            raise err from (e.error if isinstance(e, StepFailed) else e)
        finally:
            self._tasks.clear()
            self._pause_cp = None
        failed = sum(1 for r in self.step_results if not r["success"])
        result = self._result("completed", t0)
        if hooks is not None and hooks.has_hooks("AfterWorkflowComplete"):
            ctx = HookContext(point="AfterWorkflowComplete", component_id=self.component,
                              correlation_id=self.execution_id or new_id(), data={**base, "result": result})
            hr = await hooks.execute(ctx)
            if hr.kind in ("modified", "replace"):
                new = ctx.data.get("result") if hr.kind == "modified" else hr.data
                if isinstance(new, dict):
                    result = new
        self.status = "completed"
        self.metrics["successful_executions"] += 1 if failed == 0 else 0
        self.last_result = result
        if events is not None:
            await events.publish("workflow.completed", {**base, "duration_ms": result["metadata"]["execution_time_ms"],
                                                        "successful_steps": len(self.step_results) - failed,
                                                        "failed_steps": failed},
                                 correlation_id=self.execution_id, source=self.id)
        return result

    def _as_workflow_error(self, e: BaseException) -> LLMSpellError:
        if isinstance(e, StepFailed):
            return WorkflowError(f"Workflow '{self.name}' failed at step '{e.step}': {_err_text(e.error)}",
                                 details={"workflow_id": self.id, "step": e.step})
        if isinstance(e, TimeoutError):
            return WorkflowError(f"Workflow '{self.name}' timed out after {self.definition.timeout_ms} ms",
                                 details={"workflow_id": self.id})
        if isinstance(e, LLMSpellError):
            return e
        return WorkflowError(f"Workflow '{self.name}' failed: {_err_text(e)}", details={"workflow_id": self.id})

    async def _dispatch(self) -> None:
        t = self.type
        if t == "sequential":
            await self._sequence(self.definition.steps, lambda i: {"next": i}, int(self._cursor.get("next", 0)))
        elif t == "conditional":
            await self._conditional()
        elif t == "loop":
            await self._loop()
        elif t == "parallel":
            await self._parallel()
        else:
            await self._map_reduce()

    # ------------------------------------------------------------------------------ patterns

    async def _boundary(self, cursor: dict[str, Any]) -> None:
        """Between steps: honour cancel and pause (writing the checkpoint for this position)."""
        self._cursor = cursor
        if self._cancel:
            raise _Cancelled()
        if self._pause_cp is not None:
            cp = self._pause_cp
            await self._write_checkpoint(cp, cursor)
            raise _Paused(cp)

    async def _sequence(self, steps: list[StepDef], cursor_at: Callable[[int], dict[str, Any]], start: int = 0,
                        extra: dict[str, Any] | None = None, *, index_base: int = 0) -> None:
        prev: Any = MISSING
        if start > 0 and start - 1 < len(steps):
            prev = self.outputs.get(steps[start - 1].name, MISSING)
        for i in range(start, len(steps)):
            step = steps[i]
            await self._boundary(cursor_at(i))
            if i > 0:
                await self._transition(steps[i - 1].name, step.name)
            scope = Scope(self._input, self.outputs, self.shared_data, prev, extra)
            ok, out = await self._run_step(step, index_base + i, scope, total=len(steps))
            if ok:
                prev = out
        await self._boundary(cursor_at(len(steps)))

    async def _conditional(self) -> None:
        d = self.definition
        if "branch" in self._cursor:
            chosen = int(self._cursor["branch"])
        else:
            chosen = -1
            for bi, b in enumerate(d.branches):
                if await self._condition(b.condition):
                    chosen = bi
                    break
        if chosen >= 0:
            branch = d.branches[chosen]
            steps, bname = branch.steps, branch.name
        else:
            steps, bname = d.default_steps, "default"
        self._extra = {"selected_branch": bname, "matched_branches": [bname] if chosen >= 0 else [],
                       "executed_branches": 1 if steps else 0, "branch_count": len(d.branches) + 1,
                       "used_default": chosen < 0}
        await self._sequence(steps, lambda i: {"branch": chosen, "next": i}, int(self._cursor.get("next", 0)))

    def _loop_values(self) -> tuple[list[Any] | None, str]:
        it = self.definition.iterator
        if it is None or it.kind == "while":
            return None, "while"
        if it.kind == "collection":
            return list(it.values), "collection"
        if it.step == 0:
            raise WorkflowError(f"workflow '{self.name}': loop range step must not be 0")
        vals: list[Any] = []
        v = it.start
        ints = all(float(x).is_integer() for x in (it.start, it.end, it.step))
        while (v < it.end) if it.step > 0 else (v > it.end):
            vals.append(int(v) if ints else v)
            v += it.step
            if len(vals) > 1_000_000:
                raise WorkflowError(f"workflow '{self.name}': loop range has more than 1,000,000 values")
        return vals, "range"

    async def _loop(self) -> None:
        d = self.definition
        values, kind = self._loop_values()
        limit = d.max_iterations
        if kind == "while" and limit is None:
            limit = 100
        k = int(self._cursor.get("iteration", 0))
        start_step = int(self._cursor.get("next", 0))
        break_reason = "completed"
        it = d.iterator
        self._extra = {"iterator_type": kind}
        if it is not None and kind == "range":
            self._extra.update(range_start=it.start, range_end=it.end, range_step=it.step)
        while True:
            if limit is not None and k >= limit:
                break_reason = "max_iterations"
                break
            if values is not None:
                if k >= len(values):
                    break
                value = values[k]
            else:
                value = k
                if start_step == 0:
                    cond = it.condition if it is not None else None
                    if cond is None or not await self._condition(cond, extra=self._loop_vars(k, value)):
                        break_reason = "condition"
                        break
            lv = self._loop_vars(k, value)
            self.shared_data.update(loop_index=k, loop_value=value, iteration=k + 1)
            await self._publish_state("loop", lv)
            await self._sequence(d.steps, _loop_cursor(k), start_step, {"loop": lv})
            start_step = 0
            self._iterations.append({"index": k, "value": value,
                                     "outputs": {s.name: self.outputs.get(s.name) for s in d.steps}})
            k += 1
            hit = None
            for c in d.break_conditions:
                if await self._condition(c, extra=lv):
                    hit = c
                    break
            if hit is not None:
                break_reason = f"break_condition:{hit.type}"
                break
            await self._boundary({"iteration": k, "next": 0})
        self._extra.update(total_iterations=len(values) if values is not None else k, completed_iterations=k,
                           break_reason=break_reason, last_iteration=k - 1 if k else None)

    @staticmethod
    def _loop_vars(k: int, value: Any) -> dict[str, Any]:
        return {"index": k, "value": value, "iteration": k + 1}

    async def _parallel(self) -> None:
        d = self.definition
        branches = d.branches or []
        positions: dict[str, int] = {str(k): int(v) for k, v in (self._cursor.get("branches") or {}).items()}
        sem = asyncio.Semaphore(max(1, d.max_concurrency or len(branches) or 1))
        fail_fast = d.error_strategy in ("fail_fast", "stop", "rollback")
        self._extra = {"total_branches": len(branches), "max_concurrency": d.max_concurrency or len(branches),
                       "fail_fast": fail_fast}
        step_index = {id(s): i for i, s in enumerate(st for b in branches for st in b.steps)}

        async def run_branch(bi: int) -> None:
            b = branches[bi]
            pos = positions.get(str(bi), 0)
            if pos >= len(b.steps):
                return
            async with sem:
                prev: Any = self.outputs.get(b.steps[pos - 1].name, MISSING) if pos > 0 else MISSING
                while pos < len(b.steps):
                    if self._pause_cp is not None or self._cancel:
                        break
                    st = b.steps[pos]
                    scope = Scope(self._input, self.outputs, self.shared_data, prev, {"branch": {"name": b.name}})
                    ok, out = await self._run_step(st, step_index[id(st)], scope, total=len(step_index),
                                                   branch=b.name, remote=True)
                    if ok:
                        prev = out
                    pos += 1
                    positions[str(bi)] = pos

        await self._run_all([run_branch(bi) for bi in range(len(branches))], fail_fast=fail_fast)
        failed_branches = sum(1 for b in branches if any(not r["success"] for r in self.step_results
                                                         if r.get("branch") == b.name))
        self._extra.update(successful_branches=len(branches) - failed_branches, failed_branches=failed_branches,
                           stopped_early=False)
        await self._boundary({"branches": dict(positions)})

    async def _run_all(self, coros: list[Coroutine[Any, Any, None]], *, fail_fast: bool) -> None:
        """Run ``coros`` as tasks that :meth:`cancel` can reach (parallel branches, map items).

        With ``fail_fast`` the first failure propagates as soon as it happens; either way a failure (or
        our own cancellation) cancels the tasks still running and waits for them before re-raising.
        """
        tasks = [asyncio.ensure_future(c) for c in coros]
        for t in tasks:
            self._tasks.add(t)
        try:
            if fail_fast:
                for fut in asyncio.as_completed(tasks):
                    await fut  # first failure propagates; the others are cancelled below
            else:
                await asyncio.gather(*tasks)
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _map_reduce(self) -> None:
        d = self.definition
        map_step = d.map_step
        if map_step is None:
            raise WorkflowError(f"map_reduce workflow '{self.name}' has no map step")
        scope0 = Scope(self._input, self.outputs, self.shared_data)
        items = scope0.resolve(d.items) if d.items is not None else (
            self._input.get("items") if isinstance(self._input, dict) else None)
        if isinstance(items, dict):
            items = list(items.values())
        if not isinstance(items, list):
            raise WorkflowError(f"map_reduce workflow '{self.name}': items must be a list "
                                f"(set items, or pass {{items = {{...}}}} to execute), got {type(items).__name__}")
        mapped: dict[str, Any] = dict(self._cursor.get("mapped") or {})
        sem = asyncio.Semaphore(max(1, d.max_concurrency or len(items) or 1))
        fail_fast = d.error_strategy in ("fail_fast", "stop", "rollback")
        self._extra = {"total_items": len(items), "max_concurrency": d.max_concurrency or len(items)}

        async def map_one(i: int) -> None:
            if str(i) in mapped:
                return
            async with sem:
                if self._pause_cp is not None or self._cancel:
                    return
                scope = Scope(self._input, self.outputs, self.shared_data, MISSING,
                              {"item": items[i], "map": {"item": items[i], "index": i + 1}})
                ok, out = await self._run_step(map_step, i, scope, total=len(items),
                                               label=f"{map_step.name}[{i + 1}]", default_input=items[i],
                                               record=False, remote=True)
                mapped[str(i)] = out if ok else None

        if not self._cursor.get("reduced_input"):
            await self._run_all([map_one(i) for i in range(len(items))], fail_fast=fail_fast)
        results = [mapped.get(str(i)) for i in range(len(items))]
        self.outputs[map_step.name] = results
        await self._boundary({"mapped": mapped})
        if d.reduce_step is not None:
            scope = Scope(self._input, self.outputs, self.shared_data, results,
                          {"map": {"results": results}, "results": results})
            await self._transition(map_step.name, d.reduce_step.name)
            await self._run_step(d.reduce_step, len(items), scope, total=len(items) + 1, default_input=results)
            await self._boundary({"mapped": mapped, "reduced_input": True, "done": True})

    # ------------------------------------------------------------------------------ one step

    async def _run_step(self, step: StepDef, index: int, scope: Scope, *, total: int = 0, label: str | None = None,
                        branch: str | None = None, default_input: Any = MISSING, record: bool = True,
                        remote: bool = False) -> tuple[bool, Any]:
        """Run one step with hooks, events, retries and recording. Returns (succeeded, output).

        ``remote``: the step may run on a cluster worker (map items, parallel branches) when
        ``[cluster] address`` is set; the hooks, events, retries and recording stay here either way.
        """
        if self._cancel:
            raise _Cancelled()
        d = self.definition
        name = label or step.name
        events = getattr(self.runtime, "events", None)
        hooks = getattr(self.runtime, "hooks", None)
        ev: dict[str, Any] = {"workflow_id": self.id, "execution_id": self.execution_id, "step_name": name,
                              "step_type": step.type, "step_index": index}
        if branch is not None:
            ev["branch"] = branch
        if "loop" in scope.extra:
            ev["iteration"] = scope.extra["loop"]["iteration"]
        step_input = scope.resolve(step.input)
        if step.input is None:
            if default_input is not MISSING:
                step_input = default_input
            elif step.type in ("function", "workflow"):
                step_input = scope.prev if scope.prev is not MISSING else self._input
        attempts = max(1, 1 + step.retry_count)
        if d.error_strategy == "retry":
            attempts = max(attempts, d.retry_attempts)
        attempt_box = [1]
        cluster = self._cluster_for(step) if remote else None
        where: dict[str, Any] = {}
        """``worker``: the cluster worker that ran the step (its events carry it)."""

        async def once() -> Any:
            ev_try = {**ev, "retry_attempt": attempt_box[0] - 1}
            if events is not None and cluster is None:  # on a cluster: published once a worker has it
                await events.publish("workflow.step.started", ev_try, correlation_id=self.execution_id, source=self.id)
            await self._progress(name, index, total, "started", branch)
            remote_to = None if cluster is None else (cluster, ev_try, where)
            task = asyncio.ensure_future(self._hooked(step, name, index, step_input, scope, hooks, remote_to))
            self._tasks.add(task)
            try:
                return await task
            finally:
                self._tasks.discard(task)

        t0 = time.perf_counter()
        try:
            if attempts > 1:
                from llmspell.recovery.policies import RetryPolicy

                async def on_retry(attempt: int, delay_ms: float, exc: BaseException) -> None:
                    attempt_box[0] = attempt + 1
                    if events is not None:
                        await events.publish("recovery.retry", {"component": f"{self.name}/{name}", "attempt": attempt,
                                                                "delay_ms": delay_ms, "error": _err_text(exc)},
                                             correlation_id=self.execution_id, source=self.id)

                policy = RetryPolicy(max_attempts=attempts, base_delay_ms=d.retry_backoff_ms, jitter=0.1)
                out = await policy.run(once, on_retry=on_retry,
                                       retry_if=lambda e: not isinstance(e, (HookCancelledError, CancelledError,
                                                                             asyncio.CancelledError)))
            else:
                out = await once()
        except asyncio.CancelledError:
            if self._cancel:
                self._record(step, name, index, False, None, "cancelled", t0, branch, record=False)
                raise _Cancelled() from None
            raise
        except Exception as e:
            msg = _err_text(e)
            self._record(step, name, index, False, None, msg, t0, branch, attempts=attempt_box[0])
            self.metrics["steps_failed"] += 1
            if events is not None:
                await events.publish("workflow.step.failed", {**ev, **where, "error": msg,
                                                              "error_type": type(e).__name__,
                                                              "duration_ms": (time.perf_counter() - t0) * 1000.0},
                                     correlation_id=self.execution_id, source=self.id)
            await self._progress(name, index, total, "failed", branch)
            if d.error_strategy == "continue":
                return False, None
            raise StepFailed(name, e) from e
        skipped = out is _SKIPPED
        if skipped:
            out = None
        self._record(step, name, index, True, out, None, t0, branch, skipped=skipped, attempts=attempt_box[0])
        if record and not skipped:
            self.outputs[step.name] = out
        self.metrics["steps_executed"] += 1
        if hooks is not None and hooks.has_hooks("PerformanceThresholdExceeded"):
            from llmspell.hooks.system import check_slow

            await check_slow(self.runtime, self.component, (time.perf_counter() - t0) * 1000.0,
                             operation="workflow.step", workflow_id=self.id, step_name=name)
        if events is not None:
            await events.publish("workflow.step.completed", {**ev, **where,
                                                             "duration_ms": (time.perf_counter() - t0) * 1000.0,
                                                             "skipped": skipped},
                                 correlation_id=self.execution_id, source=self.id)
        await self._progress(name, index, total, "completed", branch)
        return True, out

    def _cluster_for(self, step: StepDef) -> Any:
        """The cluster dispatcher when ``[cluster] address`` is set and ``step`` can be shipped, else None."""
        cfg = getattr(getattr(self.runtime, "config", None), "cluster", None)
        if cfg is None or not getattr(cfg, "address", None) or step.type not in ("tool", "agent", "function"):
            return None
        from llmspell.cluster.dispatch import dispatcher_for

        return dispatcher_for(self.runtime)

    async def _hooked(self, step: StepDef, name: str, index: int, step_input: Any, scope: Scope, hooks: Any,
                      remote: tuple[Any, dict[str, Any], dict[str, Any]] | None = None) -> Any:
        async def run(inp: Any) -> Any:
            if remote is None:
                return await self._exec(step, inp, scope)
            cluster, ev, where = remote
            return await cluster.run_step(self, step, inp, scope, label=name, index=index, ev=ev, where=where)

        async def op(data: dict[str, Any]) -> Any:
            inp = data.get("input", step_input) if isinstance(data, dict) else step_input
            if step.timeout_ms:
                async with asyncio.timeout(step.timeout_ms / 1000.0):
                    return await run(inp)
            return await run(inp)

        data = {"workflow_id": self.id, "workflow_name": self.name, "step_name": name, "step_type": step.type,
                "step_index": index, "input": step_input}
        if hooks is None:
            return await op(data)

        def from_data(dd: dict[str, Any]) -> Any:
            if not dd:
                return _SKIPPED
            if "output" in dd:
                return dd["output"]
            if set(dd) == {"value"}:
                return dd["value"]
            return dd

        return await hooks.around(
            before="BeforeWorkflowStage", after="AfterWorkflowStage", error="WorkflowError",
            component=self.component, data=data, operation=op,
            to_data=lambda out: {**data, "output": out}, from_data=from_data,
            operation_name=f"workflow.step:{name}", correlation_id=self.execution_id,
        )

    async def _exec(self, step: StepDef, inp: Any, scope: Scope) -> Any:
        rt = self.runtime
        if step.type == "tool":
            from llmspell.api.shapes import output_table

            if inp is None:
                inp = {}
            if not isinstance(inp, dict):
                raise WorkflowError(f"step '{step.name}': tool input must be a table of parameters, "
                                    f"got {type(inp).__name__}")
            inp = _texts_for_placeholders(rt, step, inp)
            out = await rt.tools.execute(step.tool or "", inp, caller=f"workflow:{self.id}",
                                         correlation_id=self.execution_id)
            table = output_table(out.text, out.metadata)
            if not out.success and not out.metadata.get("soft_failure"):
                # a soft failure (a webhook whose endpoint never answered) is a result the next
                # steps read (success == false), as in rs-llmspell; anything else fails the step
                err = out.error
                if not err:
                    e = table.get("error")
                    err = e.get("message") if isinstance(e, dict) else e
                err = err or "the tool reported failure"
                raise WorkflowError(f"tool '{step.tool}' failed: {err}", details={"output": table})
            return table
        if step.type == "agent":
            agents = getattr(rt, "agents", None)
            agent = agents.get(step.agent) if agents is not None else None
            if agent is None:
                raise WorkflowError(f"step '{step.name}': Agent '{step.agent}' not found "
                                    "(create it with Agent.builder():name(...):build() before running the workflow)")
            prompt = to_text(inp if inp is not None else "")
            if not prompt.strip():
                prev = scope.prev
                prompt = to_text(primary(prev)) if prev is not MISSING else to_text(
                    self._input.get("text") if isinstance(self._input, dict) else self._input)
            if not prompt.strip():
                raise WorkflowError(f"step '{step.name}': agent step input (the prompt) is empty")
            res = await agent.execute(AgentInput(text=prompt))
            text = getattr(res, "text", res)
            self.agent_outputs[step.agent or step.name] = text
            return text
        if step.type == "workflow":
            child = step.instance
            if child is None:
                if step.workflow is None:
                    raise WorkflowError(f"step '{step.name}': no nested workflow")
                child = WorkflowInstance(rt, step.workflow)
            return await child.run(inp)
        if step.type == "function":
            fn = step.fn
            if fn is None:
                raise WorkflowError(
                    f"step '{step.name}' is a function step, and script functions are not saved in checkpoints: "
                    "rebuild the workflow in the spell and call workflow:resume(checkpoint_id) on it")
            ctx = {"workflow_id": self.id, "workflow_name": self.name, "execution_id": self.execution_id,
                   "step_name": step.name, "input": self._input, "outputs": dict(self.outputs),
                   "shared_data": dict(self.shared_data),
                   "prev": None if scope.prev is MISSING else scope.prev, **scope.extra}
            r = fn(inp, ctx)
            if inspect.isawaitable(r):
                r = await r
            return r
        # template
        from llmspell.templates import registry

        params = scope.resolve(step.params or {})
        if isinstance(inp, dict) and inp and inp is not step.input:  # a Before hook's modified input
            params = {**params, **inp}
        out = await registry(rt).execute(step.template_id or "", params)
        res = out.get("result")
        # the step's text: what ``{{step.<name>}}`` / ``$prev`` give later steps, and ``content`` as
        # rs-llmspell's applications read a template step's output
        out["content"] = res if isinstance(res, str) else json.dumps(res, ensure_ascii=False, default=str)
        self.agent_outputs[step.name] = out["content"]
        return out

    # ------------------------------------------------------------------------------ helpers

    async def _condition(self, c: ConditionDef, *, extra: dict[str, Any] | None = None) -> bool:
        t = c.type
        if t == "always":
            return True
        if t == "never":
            return False
        if t in ("shared_data_equals", "shared_data_exists"):
            key = c.key or ""
            if key in self.shared_data:
                v = self.shared_data[key]
            elif isinstance(self._input, dict) and key in self._input:
                v = self._input[key]
            else:
                return False
            if t == "shared_data_exists":
                return v is not None
            return bool(v == c.value or (not isinstance(v, type(c.value)) and to_text(v) == to_text(c.value)))
        if t == "step_output_contains":
            out = self.outputs.get(c.step or "")
            return out is not None and to_text(c.value) in to_text(primary(out))
        if t == "expression":
            from llmspell.tools.builtin.calculator import CalcError, evaluate

            variables = {k: v for k, v in {**self.shared_data, **(extra or {})}.items()
                         if isinstance(v, (int, float, bool))}
            if extra:
                variables.update({f"loop_{k}": v for k, v in extra.items() if isinstance(v, (int, float, bool))})
            try:
                return bool(evaluate(c.expression or "true", variables))
            except CalcError as e:
                raise WorkflowError(f"workflow '{self.name}': condition {c.expression!r}: {e}") from None
        # function
        if c.fn is None:
            raise WorkflowError(f"workflow '{self.name}': a function condition has no function (script functions "
                                "are not saved in checkpoints; rebuild the workflow in the spell)")
        ctx = {"workflow_id": self.id, "input": self._input, "shared_data": dict(self.shared_data),
               "outputs": dict(self.outputs), **(extra or {})}
        r = c.fn(ctx)
        if inspect.isawaitable(r):
            r = await r
        return bool(r)

    def _record(self, step: StepDef, name: str, index: int, ok: bool, out: Any, err: str | None, t0: float,
                branch: str | None, *, skipped: bool = False, attempts: int = 1, record: bool = True) -> None:
        if not record:
            return
        r: dict[str, Any] = {"name": name, "type": step.type, "index": index, "success": ok,
                             "duration_ms": round((time.perf_counter() - t0) * 1000.0, 3), "attempts": attempts}
        if branch is not None:
            r["branch"] = branch
        if skipped:
            r["skipped"] = True
        if err is not None:
            r["error"] = err
        if "loop_index" in self.shared_data and self.type == "loop":
            r["iteration"] = self.shared_data.get("iteration")
        self.step_results.append(r)

    async def _progress(self, name: str, index: int, total: int, status: str, branch: str | None) -> None:
        listeners: list[Callable[[dict[str, Any]], Any]] = []
        if self.on_progress is not None:
            listeners.append(self.on_progress)
        reg = getattr(self.runtime, "workflows", None)
        listeners.extend(getattr(reg, "progress_listeners", []) or [])
        if not listeners:
            return
        done = sum(1 for r in self.step_results if r["success"])
        info = {"workflow_id": self.id, "workflow_name": self.name, "step_name": name, "step_index": index,
                "total_steps": total, "status": status, "completed_steps": done, "branch": branch}
        for fn in listeners:
            try:
                r = fn(info)
                if inspect.isawaitable(r):
                    await r
            except Exception:  # a broken progress listener must not break the workflow
                continue

    async def _transition(self, from_step: str | None, to_step: str) -> None:
        hooks = getattr(self.runtime, "hooks", None)
        if hooks is not None and hooks.has_hooks("WorkflowStageTransition"):
            hr = await hooks.fire("WorkflowStageTransition", self.component,
                                  {"workflow_id": self.id, "from": from_step, "to": to_step})
            if hr.kind == "cancel":
                raise HookCancelledError("WorkflowStageTransition", hr.reason or "cancelled")

    async def _publish_state(self, what: str, data: dict[str, Any]) -> None:
        events = getattr(self.runtime, "events", None)
        if events is not None and events.has_subscribers("workflow.state.updated"):
            await events.publish("workflow.state.updated", {"workflow_id": self.id, "what": what, **data},
                                 correlation_id=self.execution_id, source=self.id)

    async def _write_checkpoint(self, cp_id: str, cursor: dict[str, Any]) -> None:
        state = getattr(self.runtime, "state", None)
        if state is None:
            raise WorkflowError("pausing a workflow needs a state store (runtime.state)")
        payload = {
            "checkpoint_id": cp_id, "workflow_id": self.id, "workflow_name": self.name,
            "definition": self.definition.model_dump(mode="json"),
            "input": self._input, "shared_data": self.shared_data, "outputs": self.outputs,
            "step_results": self.step_results, "agent_outputs": self.agent_outputs, "iterations": self._iterations,
            "cursor": cursor, "execution_id": self.execution_id, "created_at": time.time(),
            "elapsed_ms": self._elapsed_before,
            "has_function_steps": any(s.type == "function" for s in self.definition.all_steps()),
        }
        await state.set(CHECKPOINT_SCOPE, cp_id, payload)
        self.checkpoints.append(cp_id)
        self._set_restore_point(cp_id)
        hooks = getattr(self.runtime, "hooks", None)
        if hooks is not None:
            await hooks.fire("WorkflowCheckpoint", self.component,
                             {"workflow_id": self.id, "checkpoint_id": cp_id, "cursor": cursor})
        sessions = getattr(self.runtime, "sessions", None)
        if self.session_id is not None and sessions is not None:
            await sessions.checkpoint(self.session_id, workflow_id=self.id, checkpoint_id=cp_id)

    # ------------------------------------------------------------------------------ rollback

    def _set_restore_point(self, label: str) -> None:
        """Remember shared data and outputs as they are now (the start, or a checkpoint just written)."""
        self._restore_point = {"label": label, "shared_data": _copy(self.shared_data), "outputs": _copy(self.outputs),
                               "step_results": _copy(self.step_results), "agent_outputs": _copy(self.agent_outputs)}

    async def _rollback(self, e: StepFailed, base: dict[str, Any], t0: float) -> tuple[str, dict[str, Any] | None]:
        """Error strategy ``rollback``: restore the last restore point and fire WorkflowRollback.

        Returns (what it rolled back to, a result that replaces the failure or None). The hook sees
        ``{workflow_id, failed_step, error, restored_to, shared_data, outputs}``; ``modified`` (its
        ``result`` field, or the whole data) or ``replace`` (its data) becomes the workflow's result
        (a table is returned as is; another value is returned as ``output`` of a ``rolled_back`` result).
        ``cancel`` and the rest: the workflow fails with the step's error.
        """
        rp = self._restore_point or {"label": "start"}
        label = str(rp.get("label", "start"))
        self.shared_data = _copy(rp.get("shared_data") or {})
        self.outputs = _copy(rp.get("outputs") or {})
        self.agent_outputs = _copy(rp.get("agent_outputs") or {})
        failed_results = [r for r in self.step_results if not r["success"]]
        self.step_results = _copy(rp.get("step_results") or []) + failed_results
        data = {**base, "failed_step": e.step, "error": _err_text(e.error), "restored_to": label,
                "shared_data": dict(self.shared_data), "outputs": dict(self.outputs)}
        events = getattr(self.runtime, "events", None)
        if events is not None:
            await events.publish("workflow.rolled_back", {k: data[k] for k in ("workflow_id", "failed_step",
                                                                               "restored_to", "error")},
                                 correlation_id=self.execution_id, source=self.id)
        hooks = getattr(self.runtime, "hooks", None)
        if hooks is None or not hooks.has_hooks("WorkflowRollback"):
            return label, None
        ctx = HookContext(point="WorkflowRollback", component_id=self.component,
                          correlation_id=self.execution_id or new_id(), data=data, operation="rollback")
        hr = await hooks.execute(ctx)
        if hr.kind not in ("modified", "replace"):
            return label, None
        value = hr.data
        if hr.kind == "modified" and isinstance(value, dict):
            value = value.get("result", value)
        self.status = "rolled_back"
        if isinstance(value, dict):
            result = value
        else:
            result = self._result("rolled_back", t0, error=_err_text(e.error))
            result["output"] = value
        result.setdefault("rollback", {"failed_step": e.step, "restored_to": label, "error": _err_text(e.error)})
        self.last_result = result
        return label, result

    def _result(self, status: str, t0: float, *, checkpoint_id: str | None = None,
                error: str | None = None) -> dict[str, Any]:
        ms = self._elapsed_before + (time.perf_counter() - t0) * 1000.0
        if status == "paused":
            self._elapsed_before = ms
        total = len(self.step_results)
        ok = sum(1 for r in self.step_results if r["success"])
        failed = total - ok
        title = _TYPE_TITLE.get(self.type, self.type.title())
        if status == "completed":
            if failed == 0:
                text = (f"{title} workflow '{self.name}' completed successfully. {ok} steps executed. "
                        f"Duration: {ms:.0f}ms")
            else:
                text = (f"{title} workflow '{self.name}' completed with errors. {ok} steps succeeded, "
                        f"{failed} failed. Duration: {ms:.0f}ms")
        elif status == "paused":
            text = f"{title} workflow '{self.name}' paused after {ok} steps. Checkpoint: {checkpoint_id}"
        elif status == "cancelled":
            text = f"{title} workflow '{self.name}' was cancelled after {ok} steps."
        elif status == "rolled_back":
            text = f"{title} workflow '{self.name}' rolled back after a failed step: {error}"
        else:
            text = f"{title} workflow '{self.name}' failed: {error}"
        extra: dict[str, Any] = {
            "workflow_type": self.type, "workflow_name": self.name, "workflow_id": self.id,
            "execution_id": self.execution_id, "total_steps": total, "successful_steps": ok, "failed_steps": failed,
            "success_rate": (ok / total * 100.0) if total else 100.0, **self._extra,
        }
        if self.agent_outputs:
            extra["agent_outputs"] = dict(self.agent_outputs)
        r: dict[str, Any] = {
            "text": text, "media": [], "tool_calls": [],
            # whole milliseconds, as rs-llmspell (a u64): spells format it with %d
            "metadata": {"execution_time_ms": math.ceil(ms), "extra": extra},
            "success": status == "completed" and failed == 0, "status": status,
            "workflow_id": self.id, "execution_id": self.execution_id,
            "outputs": dict(self.outputs), "steps": list(self.step_results),
        }
        if self.type == "loop":
            r["iterations"] = list(self._iterations)
        if checkpoint_id is not None:
            r["checkpoint_id"] = checkpoint_id
        if error is not None:
            r["error"] = error
        self.metrics["total_duration_ms"] += (time.perf_counter() - t0) * 1000.0
        return r

    def get_metrics(self) -> dict[str, Any]:
        n = self.metrics["executions"]
        return {**self.metrics, "workflow_id": self.id,
                "average_duration_ms": self.metrics["total_duration_ms"] / n if n else 0.0}

    def validate(self) -> dict[str, Any]:
        """Static checks a person can act on before running: empty workflows, unknown tools, missing fns."""
        d = self.definition
        errors: list[str] = []
        warnings: list[str] = []
        if not d.name:
            errors.append("workflow name is empty")
        if d.type == "sequential" and not d.steps:
            warnings.append("sequential workflow has no steps")
        if d.type == "parallel" and not d.branches:
            warnings.append("parallel workflow has no steps")
        if d.type == "conditional" and not d.branches and not d.default_steps:
            warnings.append("conditional workflow has no branches")
        if d.type == "loop" and d.iterator is None:
            errors.append("loop workflow has no iterator (with_range, with_collection or with_while)")
        if d.type == "map_reduce" and d.map_step is None:
            errors.append("map_reduce workflow has no map step")
        tools = getattr(self.runtime, "tools", None)
        seen: set[str] = set()
        for s in d.all_steps():
            if s.name in seen:
                warnings.append(f"step name '{s.name}' is used twice; later outputs overwrite earlier ones")
            seen.add(s.name)
            if s.type == "tool" and tools is not None and not tools.exists(s.tool or ""):
                errors.append(f"step '{s.name}': tool '{s.tool}' not found")
            if s.type == "function" and s.fn is None:
                errors.append(f"step '{s.name}': function step has no function")
            if s.type == "agent":
                agents = getattr(self.runtime, "agents", None)
                if agents is not None and agents.get(s.agent or "") is None:
                    warnings.append(f"step '{s.name}': agent '{s.agent}' does not exist yet")
        return {"valid": not errors, "workflow_id": self.id, "errors": errors, "warnings": warnings}


def _copy(v: Any) -> Any:
    """A deep copy for restore points (falls back to a shallow one for values that cannot be copied)."""
    try:
        return copy.deepcopy(v)
    except Exception:
        return copy.copy(v)


def _loop_cursor(k: int) -> Callable[[int], dict[str, Any]]:
    return lambda i: {"iteration": k, "next": i}


def _normalise_input(input: Any) -> Any:
    if input is None:
        return {}
    if isinstance(input, str):
        return {"text": input}
    return input


def _wants_text(prop: Any) -> bool:
    """Whether a JSON-schema property takes a string and no table."""
    if not isinstance(prop, dict):
        return False
    types = {prop.get("type")} | {a.get("type") for a in prop.get("anyOf", []) if isinstance(a, dict)}
    return "string" in types and not types & {"object", "array"}


def _texts_for_placeholders(rt: Any, step: StepDef, inp: dict[str, Any]) -> dict[str, Any]:
    """A placeholder that resolved to a table, written in a string parameter, becomes its main text.

    ``input = "{{step.make_id.result}}"`` resolves to uuid-generator's ``{uuid, version, format}``;
    the tool wants a string there, so the uuid is passed (rs-llmspell passed the placeholder text
    literally, so such spells never failed). Only parameters written as placeholders are touched.
    """
    written = step.input if isinstance(step.input, dict) else {}
    keys = [k for k, v in inp.items() if isinstance(v, (dict, list)) and isinstance(written.get(k), str)
            and ("{{" in written[k] or "$prev" in written[k])]
    if not keys:
        return inp
    tools = getattr(rt, "tools", None)
    tool = tools.get(step.tool or "") if tools is not None else None
    try:
        props = tool.schema().parameters.get("properties", {}) if tool is not None else {}
    except Exception:  # a tool without a usable schema: leave the input alone
        return inp
    fixed = {k: main_text(inp[k]) for k in keys if _wants_text(props.get(k))}
    return {**inp, **fixed} if fixed else inp
