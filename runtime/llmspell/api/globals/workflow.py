"""The ``Workflow`` global (rs-llmspell API notes §2.3): builder, table-config constructors, instances.

Compatible with rs-llmspell's shapes (``workflow:execute()`` returns ``{text = "... completed
successfully ...", metadata = {execution_time_ms, extra = {...}}}``) and with its intentions where
the bridge fell short: data flows between steps through placeholders (``{{step.x.result}}``,
``{{input.text}}``, ``$prev``), parallel steps really run concurrently, conditional ``add_step`` and
``add_branch`` do what they say, loops honour their iterator, ``emit`` publishes. Results also carry
``success``, ``status``, ``outputs`` (step name -> output) and ``steps``, as the docs describe.
"""

from __future__ import annotations

import builtins
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from llmspell.api.catalogs import WORKFLOW_TYPES
from llmspell.api.context import SpellContext
from llmspell.api.decl import ApiGlobal, ApiObject, Names, ScriptFunction, api_class, api_global, expose
from llmspell.core.errors import LLMSpellError, ValidationError, WorkflowError
from llmspell.workflows.model import (
    BranchDef,
    ConditionDef,
    IteratorDef,
    StepDef,
    WorkflowDef,
    normalise_error_strategy,
    parse_condition,
    parse_step,
    parse_workflow,
)

# ------------------------------------------------------------------------------------------ records


class WorkflowStepTable(BaseModel):
    """One workflow step: ``{name = "x", type = "tool", tool = "uuid-generator", input = {...}}``."""

    model_config = ConfigDict(extra="allow")
    api_record_name: ClassVar[str] = "WorkflowStep"

    name: str = Field(description="Step name (outputs are kept under it: {{step.<name>.result}}).")
    type: Annotated[Literal["tool", "agent", "workflow", "function", "template"], Names("step_types")] = Field(
        description="tool | agent | workflow | function | template (inferred when omitted).")
    tool: Annotated[str, Names("tools")] | None = Field(None, description="tool step: the tool name.")
    agent: str | None = Field(None, description="agent step: the agent's name (from Agent.builder():name(...)).")
    workflow: Any = Field(None, description="workflow step: a workflow object.")
    fn: Any = Field(None, description="function step: function(input, ctx) returning the step output.")
    template_id: str | None = Field(None, description="template step: the template id.")
    params: dict[str, Any] | None = Field(None, description="template step: template parameters.")
    input: Any = Field(None, description="Tool parameters (table) or agent prompt (string); placeholders allowed: "
                                         "{{input.text}}, {{step.<name>.result}}, $prev.")
    timeout_ms: int | None = Field(None, description="Step time limit in milliseconds.")
    retry_count: int | None = Field(None, description="Extra attempts for this step.")


class WorkflowCondition(BaseModel):
    """A condition: ``{type = "shared_data_equals", key = "k", value = v}``, or a function(ctx) -> boolean."""

    model_config = ConfigDict(extra="allow")
    api_record_name: ClassVar[str] = "WorkflowCondition"

    type: Literal["always", "never", "shared_data_equals", "shared_data_exists", "step_output_contains",
                  "expression", "function"] = Field(description="The kind of condition.")
    key: str | None = Field(None, description="shared_data_*: the shared-data key (set_shared_data).")
    value: Any = Field(None, description="shared_data_equals / step_output_contains: the value to compare.")
    step: str | None = Field(None, description="step_output_contains: the step whose output is searched.")
    expression: str | None = Field(None, description="expression: e.g. 'loop_index < 3' over shared data.")


class WorkflowConfig(BaseModel):
    """Table config of ``Workflow.sequential/parallel/conditional/loop/map_reduce``."""

    model_config = ConfigDict(extra="allow")
    api_record_name: ClassVar[str] = "WorkflowConfig"

    name: str = Field(description="Workflow name (required).")
    description: str | None = None
    steps: list[WorkflowStepTable] | None = Field(None, description="sequential steps; parallel: one branch each.")
    branches: list[dict[str, Any]] | None = Field(
        None, description="parallel: [{name, steps}]; conditional: [{name, condition, steps}].")
    default_branch: Any = Field(None, description="conditional: steps (or a branch name) run when nothing matches.")
    iterator: dict[str, Any] | None = Field(
        None, description="loop: {range = {start, end, step}} | {collection = {...}} | {while_condition = ..., "
                          "max_iterations}.")
    body: list[WorkflowStepTable] | None = Field(None, description="loop: the steps of each iteration.")
    break_conditions: list[Any] | None = Field(None, description="loop: stop when one holds after an iteration.")
    map: WorkflowStepTable | None = Field(None, description="map_reduce: the step run for each item.")
    reduce: WorkflowStepTable | None = Field(None, description="map_reduce: the step combining the map results.")
    items: Any = Field(None, description="map_reduce: a list or a placeholder (default {{input.items}}).")
    error_strategy: Annotated[str, Names("error_strategies")] | None = Field(
        None, description="fail_fast (default) | stop | continue | retry.")
    timeout_ms: int | None = None
    max_concurrency: int | None = None
    max_iterations: int | None = None


def _ctx_rt(ctx: SpellContext) -> Any:
    return ctx.runtime


def _forget_at_spell_end(ctx: SpellContext, workflow_id: str) -> None:
    """Workflows a spell built hold its script functions, which die with its interpreter: drop them from
    a (possibly shared) runtime when the spell ends. Their checkpoints stay in state for ``Workflow.resume``."""
    from llmspell.api.globals._corehelpers import on_spell_end

    reg = _ctx_rt(ctx).workflows
    on_spell_end(ctx, lambda: reg.remove(workflow_id))


def _step_list(steps: Any, where: str) -> list[StepDef]:
    if steps is None:
        return []
    if isinstance(steps, dict) and "name" in steps:
        steps = [steps]
    if isinstance(steps, dict):
        steps = [steps[k] for k in sorted(steps, key=lambda x: int(x) if str(x).isdigit() else 0)]
    if not isinstance(steps, list):
        raise ValidationError(f"{where}: expected a list of step tables")
    return [parse_step(s, where=f"{where}[{i + 1}]") for i, s in enumerate(steps)]


# ------------------------------------------------------------------------------------------ instance hooks

HOOK_TYPES = ("before_execute", "after_execute", "error")


def _script_hooks(instance: Any) -> dict[str, list[ScriptFunction]]:
    """The callbacks registered with ``on_before_execute``/``on_after_execute``/``on_error``.

    Kept on the workflow instance (not the handle), so every handle of it (``Workflow.get(id)``) shares them.
    """
    hooks = instance.__dict__.get("script_hooks")
    if hooks is None:
        hooks = {t: [] for t in HOOK_TYPES}
        instance.__dict__["script_hooks"] = hooks
    return hooks  # type: ignore[no-any-return]


def _error_table(e: BaseException) -> dict[str, Any]:
    """What an ``on_error`` callback sees: ``{message, type, kind, step?, result?}``."""
    if isinstance(e, LLMSpellError):
        t: dict[str, Any] = {"message": e.message, "type": type(e).__name__, "kind": e.kind}
        for k in ("step", "result"):
            if e.details.get(k) is not None:
                t[k] = e.details[k]
        return t
    return {"message": str(e) or type(e).__name__, "type": type(e).__name__, "kind": "runtime"}


async def _run_with_hooks(handle: WorkflowHandle, input: Any, run: Any, *, resumed: bool = False) -> Any:
    """``run(input)`` between the instance's script callbacks.

    before_execute: ``fn(info, input)`` in registration order; a non-nil return replaces the input for the
    next callback and the run (ignored for ``resume``), ``false`` cancels the execution with an error.
    after_execute: ``fn(info, result)`` once the run returned (completed, paused or cancelled); a non-nil
    table replaces the result. error: ``fn(info, err)`` when the run raised; the first callback that
    returns a non-nil value handles the error — that value is returned instead of raising, and later
    error callbacks do not run; when none does, the error is raised as before.
    Errors raised by the callbacks themselves propagate (they are the spell's own code).
    """
    hooks = _script_hooks(handle.instance)
    inst = handle.instance
    for fn in list(hooks["before_execute"]):
        r = await fn(inst.info(), input)
        if r is False:
            raise WorkflowError(f"workflow '{inst.name}' execution cancelled by its on_before_execute callback",
                                details={"workflow_id": inst.id})
        if r is not None and not resumed:
            input = r
    try:
        result = await run(input)
    except Exception as e:
        if not hooks["error"]:
            raise
        err = _error_table(e)
        for fn in list(hooks["error"]):
            r = await fn(inst.info(), err)
            if r is not None:
                return r
        raise
    for fn in list(hooks["after_execute"]):
        r = await fn(inst.info(), result)
        if isinstance(r, dict):
            result = r
    return result


# ------------------------------------------------------------------------------------------ instance


@api_class("WorkflowInstance")
class WorkflowHandle(ApiObject):
    """A workflow: ``wf:execute(input?)`` runs it; ``wf:pause()``/``wf:resume(id)``/``wf:cancel()`` control it."""

    api_fields = {"id": "string", "name": "string", "type": "string"}

    def __init__(self, ctx: SpellContext, instance: Any):
        self.ctx = ctx
        self.instance = instance
        self.id = instance.id
        self.name = instance.name
        self.type = instance.type

    @expose
    async def execute(self, input: dict[str, Any] | str | None = None) -> dict[str, Any]:
        """Run the workflow and wait for it.

        Raises when a step fails under the fail_fast/stop strategy; with ``continue`` failures are
        listed in ``steps`` and ``success`` is false.

        Args:
            input: the workflow input (``{text = "..."}`` or any table), seen by steps as ``{{input.<key>}}``.

        Returns:
            ``{text = "<Type> workflow 'name' completed successfully. ...", success, status, outputs, steps,
            metadata = {execution_time_ms, extra = {workflow_type, workflow_name, execution_id, total_steps,
            successful_steps, failed_steps, success_rate, agent_outputs?}}}``; status is completed, paused
            (with ``checkpoint_id``) or cancelled. Callbacks from ``on_before_execute``, ``on_after_execute``
            and ``on_error`` run around the run and may change the input, the result or the failure.
        """
        return await _run_with_hooks(self, input, self.instance.run)

    @expose
    async def pause(self) -> str:
        """Pause at the next step boundary; the checkpoint is saved in state (scope workflow_checkpoint).

        Returns:
            the checkpoint id, for ``wf:resume(id)`` or ``Workflow.resume(id)`` (also in a later run).
        """
        return await self.instance.pause()  # type: ignore[no-any-return]

    @expose
    async def resume(self, checkpoint_id: str) -> dict[str, Any]:
        """Continue from a checkpoint: outputs and shared data are restored; the next step runs.

        Args:
            checkpoint_id: the id ``pause()`` returned.

        Returns:
            the execute result table (after the ``on_after_execute`` callbacks, as for ``execute``).
        """
        return await _run_with_hooks(self, None, lambda _: self.instance.resume(checkpoint_id), resumed=True)

    @expose
    async def cancel(self) -> bool:
        """Stop the running workflow now (running steps are cancelled).

        Returns:
            true when a run was cancelled.
        """
        running = self.instance.status == "running"
        await self.instance.cancel()
        return bool(running)

    @expose
    def get_info(self) -> dict[str, Any]:
        """Describe the workflow.

        Returns:
            ``{id, name, type, description, status, execution_id, steps, error_strategy}``.
        """
        return self.instance.info()  # type: ignore[no-any-return]

    @expose
    def get_status(self) -> str:
        """The status: ready, running, completed, failed, paused or cancelled.

        Returns:
            the status string.
        """
        return str(self.instance.status)

    @expose
    def set_shared_data(self, key: str, value: Any) -> bool:
        """Set shared data (seen by conditions and by steps as ``{{shared.<key>}}``).

        Args:
            key: the key.
            value: any value.

        Returns:
            true.
        """
        self.instance.shared_data[str(key)] = value
        return True

    @expose
    def get_shared_data(self, key: str | None = None) -> Any:
        """Read shared data (all of it when ``key`` is nil).

        Args:
            key: the key.

        Returns:
            the value, or the whole shared-data table.
        """
        if key is None:
            return dict(self.instance.shared_data)
        return self.instance.shared_data.get(str(key))

    @expose
    async def set_state(self, key: str, value: Any) -> bool:
        """Store a value in this workflow's persistent state (State scope ``workflow:<id>``).

        Args:
            key: the key.
            value: a JSON-compatible value.

        Returns:
            true.
        """
        await _ctx_rt(self.ctx).state.set(f"workflow:{self.id}", str(key), value)
        return True

    @expose
    async def get_state(self, key: str) -> Any:
        """Read a value from this workflow's persistent state.

        Args:
            key: the key.

        Returns:
            the value or nil.
        """
        return await _ctx_rt(self.ctx).state.get(f"workflow:{self.id}", str(key))

    @expose
    def get_execution_id(self) -> str:
        """The id of the last (or current) execution; raises before the first ``execute``.

        Returns:
            the execution id.
        """
        if not self.instance.execution_id:
            raise WorkflowError("No workflow execution found. Run execute() first.")
        return str(self.instance.execution_id)

    @expose
    def get_output(self, step: str) -> Any:
        """A step's output from the last execution.

        Args:
            step: the step name.

        Returns:
            the output (a tool's output table, an agent's text, a function's return value) or nil.
        """
        return self.instance.outputs.get(str(step))

    @expose
    def get_all_outputs(self) -> dict[str, Any]:
        """Every step's output from the last execution.

        Returns:
            step name -> output.
        """
        return dict(self.instance.outputs)

    @expose
    def list_outputs(self) -> list[str]:
        """Names of the steps that have an output.

        Returns:
            step names.
        """
        return list(self.instance.outputs)

    @expose
    def clear_outputs(self) -> bool:
        """Forget the outputs of the last execution.

        Returns:
            true.
        """
        self.instance.outputs.clear()
        return True

    @expose
    def validate(self) -> dict[str, Any]:
        """Check the workflow before running it (unknown tools, missing functions, empty workflows).

        Returns:
            ``{valid, workflow_id, errors = {...}, warnings = {...}}``.
        """
        return self.instance.validate()  # type: ignore[no-any-return]

    @expose
    def get_metrics(self) -> dict[str, Any]:
        """Execution counts and durations of this workflow.

        Returns:
            ``{executions, successful_executions, failed_executions, total_duration_ms, average_duration_ms,
            steps_executed, steps_failed}``.
        """
        return self.instance.get_metrics()  # type: ignore[no-any-return]

    @expose
    async def emit(self, event_name: Annotated[str, Names("event_names")], data: Any = None) -> dict[str, Any]:
        """Publish an event on the event bus (rs-llmspell's emit published nothing; this one does).

        Args:
            event_name: the event type, e.g. ``"pipeline.done"`` (the runtime's own prefixes, such as
                ``workflow.`` and ``agent.``, are reserved).
            data: the event data.

        Returns:
            ``{success = true, workflow_id, event_name}``.
        """
        from llmspell.events.reserved import check_spell_event_name, spell_metadata

        check_spell_event_name(event_name, "WorkflowInstance:emit")
        await self.instance.emit(str(event_name), data, metadata=spell_metadata(self.ctx.spell_name))
        return {"success": True, "workflow_id": self.id, "event_name": str(event_name)}

    @expose
    def on_progress(self, callback: ScriptFunction) -> bool:
        """Call ``callback(progress)`` as each step starts, completes or fails.

        Args:
            callback: ``function(p)`` with ``p = {workflow_id, step_name, step_index, total_steps, status,
                completed_steps}``.

        Returns:
            true.
        """
        self.instance.on_progress = callback
        return True

    def _register_hook(self, hook_type: str, callback: Any, fn: str) -> dict[str, Any]:
        if not isinstance(callback, ScriptFunction) and not callable(callback):
            raise ValidationError(f"workflow:{fn}: expected a function, got {type(callback).__name__}")
        hooks = _script_hooks(self.instance)
        hooks[hook_type].append(callback)
        return {"success": True, "message": "Hook registered", "workflow_id": self.id, "hook_type": hook_type,
                "count": len(hooks[hook_type])}

    @expose
    def on_before_execute(self, callback: ScriptFunction) -> dict[str, Any]:
        """Run ``callback(info, input)`` before each ``execute`` (and ``resume``).

        Callbacks run in registration order. Returning a value replaces the input (for ``execute``; the
        next callback sees the new one); returning ``false`` cancels the execution with an error; returning
        nothing keeps the input.

        Args:
            callback: ``function(info, input)``; ``info`` is ``wf:get_info()``.

        Returns:
            ``{success = true, message, workflow_id, hook_type = "before_execute", count}``.
        """
        return self._register_hook("before_execute", callback, "on_before_execute")

    @expose
    def on_after_execute(self, callback: ScriptFunction) -> dict[str, Any]:
        """Run ``callback(info, result)`` after each ``execute``/``resume`` that returns (completed, paused or
        cancelled; with the ``continue`` strategy also when steps failed — see ``result.success``).

        Returning a table replaces the result (the next callback sees the new one); anything else keeps it.

        Args:
            callback: ``function(info, result)``.

        Returns:
            ``{success = true, message, workflow_id, hook_type = "after_execute", count}``.
        """
        return self._register_hook("after_execute", callback, "on_after_execute")

    @expose
    def on_error(self, callback: ScriptFunction) -> dict[str, Any]:
        """Run ``callback(info, err)`` when ``execute``/``resume`` fails.

        ``err`` is ``{message, type, kind, step?, result?}`` (``result`` is the failed run's result table).
        The first callback returning a value handles the failure: ``execute`` returns that value instead of
        raising (later error callbacks are skipped). When every callback returns nothing, the error is raised.

        Args:
            callback: ``function(info, err)``.

        Returns:
            ``{success = true, message, workflow_id, hook_type = "error", count}``.
        """
        return self._register_hook("error", callback, "on_error")

    @expose
    def debug(self) -> dict[str, Any]:
        """Internal details for debugging.

        Returns:
            ``{workflow_id, name, type, runtime = {created_at, status, shared_data, checkpoints, hooks}, definition}``.
        """
        inst = self.instance
        return {"workflow_id": self.id, "name": self.name, "type": self.type,
                "runtime": {"created_at": inst.created_at, "status": inst.status,
                            "shared_data": dict(inst.shared_data), "checkpoints": list(inst.checkpoints),
                            "hooks": {t: len(v) for t, v in _script_hooks(inst).items()}},
                "definition": inst.definition.model_dump(mode="json")}


# ------------------------------------------------------------------------------------------ builder


@api_class("WorkflowBuilder")
class WorkflowBuilder(ApiObject):
    """Builds a workflow: pick a type, add steps, then ``:build()``. Every setter returns the builder.

    Example: ``Workflow.builder():name("w"):sequential():add_step({name = "id", type = "tool",
    tool = "uuid-generator", input = {operation = "generate"}}):build()``
    """

    def __init__(self, ctx: SpellContext):
        self.ctx = ctx
        self.type: str | None = None
        self._name: str | None = None
        self._description = ""
        self._error_strategy = "fail_fast"
        self._timeout_ms: int | None = None
        self._steps: list[StepDef] = []
        self._condition: ConditionDef | None = None
        self._then: list[StepDef] = []
        self._else: list[StepDef] = []
        self._branches: list[BranchDef] = []
        self._iterator: IteratorDef | None = None
        self._max_iterations: int | None = None
        self._max_concurrency: int | None = None
        self._break: list[ConditionDef] = []
        self._map: StepDef | None = None
        self._reduce: StepDef | None = None
        self._items: Any = None
        self._retry_backoff_ms: float | None = None

    def _set_type(self, t: str) -> WorkflowBuilder:
        self.type = t
        return self

    @expose(returns_self=True)
    def sequential(self) -> WorkflowBuilder:
        """Steps run one after another; each can use earlier outputs."""
        return self._set_type("sequential")

    @expose(returns_self=True)
    def parallel(self) -> WorkflowBuilder:
        """Steps run concurrently (bounded by ``max_concurrency``)."""
        return self._set_type("parallel")

    @expose(returns_self=True)
    def conditional(self) -> WorkflowBuilder:
        """A condition picks the then-steps or the else-steps (more branches with ``add_branch``)."""
        return self._set_type("conditional")

    @expose(returns_self=True)
    def loop(self) -> WorkflowBuilder:
        """The steps run per value of ``with_range``/``with_collection``, or while ``with_while`` holds."""
        return self._set_type("loop")

    @expose(returns_self=True)
    def loop_workflow(self) -> WorkflowBuilder:
        """Alias of ``loop()``."""
        return self._set_type("loop")

    @expose(returns_self=True)
    def map_reduce(self) -> WorkflowBuilder:
        """A map step runs over every item concurrently; a reduce step combines the results."""
        return self._set_type("map_reduce")

    @expose(returns_self=True)
    def name(self, name: str) -> WorkflowBuilder:
        """Set the name (default ``workflow_xxxxxxxx``).

        Args:
            name: the workflow name.
        """
        self._name = str(name)
        return self

    @expose(returns_self=True)
    def description(self, description: str) -> WorkflowBuilder:
        """Set the description.

        Args:
            description: what the workflow does.
        """
        self._description = str(description)
        return self

    @expose(returns_self=True)
    def error_strategy(self, strategy: Annotated[str, Names("error_strategies")]) -> WorkflowBuilder:
        """What a failing step does: fail_fast (default) | stop | continue | retry (3 attempts, backoff).

        Args:
            strategy: the strategy name.
        """
        self._error_strategy = normalise_error_strategy(strategy)
        return self

    @expose(returns_self=True)
    def timeout_ms(self, ms: int) -> WorkflowBuilder:
        """Limit the whole workflow's run time.

        Args:
            ms: milliseconds.
        """
        self._timeout_ms = int(ms)
        return self

    @expose(returns_self=True)
    def retry_backoff_ms(self, ms: float) -> WorkflowBuilder:
        """First wait of the retry strategy (doubles per attempt; default 1000).

        Args:
            ms: milliseconds.
        """
        self._retry_backoff_ms = float(ms)
        return self

    @expose(returns_self=True)
    def add_step(self, step: WorkflowStepTable) -> WorkflowBuilder:
        """Add a step (for conditional workflows: a then-step; for loops: a body step).

        Args:
            step: ``{name, type = "tool"|"agent"|"workflow"|"function"|"template", tool?, agent?, fn?, input?}``.
        """
        self._steps.append(parse_step(step, where="add_step"))
        return self

    @expose(returns_self=True)
    def add_template_step(self, name: str, template_id: str, params: dict[str, Any] | None = None) -> WorkflowBuilder:
        """Add a template step.

        Args:
            name: the step name.
            template_id: the template id.
            params: template parameters.
        """
        self._steps.append(parse_step({"name": name, "type": "template", "template_id": template_id,
                                       "params": params or {}}, where="add_template_step"))
        return self

    @expose(returns_self=True)
    def condition(self, condition: WorkflowCondition | ScriptFunction) -> WorkflowBuilder:
        """The condition of the then-branch (default ``always``).

        Args:
            condition: ``{type = "shared_data_equals", key, value}`` | ``{type = "shared_data_exists", key}`` |
                ``{type = "always"}`` | ``{type = "never"}`` | ``function(ctx) return ... end``.
        """
        self._condition = parse_condition(condition)
        return self

    @expose(returns_self=True)
    def add_then_step(self, step: WorkflowStepTable) -> WorkflowBuilder:
        """Add a step run when the condition holds.

        Args:
            step: a step table.
        """
        self._then.append(parse_step(step, where="add_then_step"))
        return self

    @expose(returns_self=True)
    def add_else_step(self, step: WorkflowStepTable) -> WorkflowBuilder:
        """Add a step run when no condition holds.

        Args:
            step: a step table.
        """
        self._else.append(parse_step(step, where="add_else_step"))
        return self

    @expose(returns_self=True)
    def add_branch(self, condition: WorkflowCondition | ScriptFunction | str | bool | None,
                   steps: list[WorkflowStepTable] | None = None,
                   name: str | None = None) -> WorkflowBuilder:
        """Add a branch: conditional — checked in order after the then-branch; parallel — runs concurrently.

        (rs-llmspell appended these steps to the else branch; here they form their own branch.)

        Args:
            condition: a condition (conditional), or the branch name (parallel).
            steps: the branch's steps, run in order.
            name: the branch name.
        """
        n = len(self._branches) + 1
        if self.type == "parallel" and (isinstance(condition, str) or condition is None):
            self._branches.append(BranchDef(name=name or condition or f"branch_{n}",
                                            steps=_step_list(steps, "add_branch")))
        else:
            self._branches.append(BranchDef(name=name or f"branch_{n}", condition=parse_condition(condition),
                                            steps=_step_list(steps, "add_branch")))
        return self

    @expose(returns_self=True)
    def with_range(self, range: dict[str, Any]) -> WorkflowBuilder:
        """Loop over a range; ``end`` is exclusive (defaults start=1, end=10, step=1).

        Args:
            range: ``{start, end, step}``.
        """
        r = range if isinstance(range, dict) else {}
        self._iterator = IteratorDef(kind="range", start=r.get("start", 1), end=r.get("end", 10),
                                     step=r.get("step", 1))
        return self

    @expose(returns_self=True)
    def with_collection(self, values: list[Any]) -> WorkflowBuilder:
        """Loop over values (``{{loop.value}}`` / shared data ``loop_value`` in the steps).

        Args:
            values: the values.
        """
        vals = list(values.values()) if isinstance(values, dict) else list(values or [])
        self._iterator = IteratorDef(kind="collection", values=vals)
        return self

    @expose(returns_self=True)
    def with_while(self, condition: str | ScriptFunction | WorkflowCondition) -> WorkflowBuilder:
        """Loop while a condition holds (checked before each iteration; at most ``max_iterations``, default 100).

        Args:
            condition: ``function(ctx) return ctx.iteration <= 3 end``, an expression over shared data
                (``"loop_index < 3"``), or a condition table.
        """
        self._iterator = IteratorDef(kind="while", condition=parse_condition(condition))
        return self

    @expose(returns_self=True)
    def loop_condition(self, fn: ScriptFunction) -> WorkflowBuilder:
        """Same as ``with_while(fn)`` (rs-llmspell ignored it).

        Args:
            fn: ``function(ctx) -> boolean``.
        """
        return self.with_while(fn)

    @expose(returns_self=True)
    def break_condition(self, condition: WorkflowCondition | ScriptFunction | str) -> WorkflowBuilder:
        """Stop the loop after an iteration in which this condition holds.

        Args:
            condition: a condition table, a function(ctx) or an expression.
        """
        self._break.append(parse_condition(condition))
        return self

    @expose(returns_self=True)
    def max_iterations(self, n: int) -> WorkflowBuilder:
        """Limit the number of loop iterations.

        Args:
            n: the limit.
        """
        self._max_iterations = int(n)
        return self

    @expose(returns_self=True)
    def max_concurrency(self, n: int) -> WorkflowBuilder:
        """How many parallel branches (or map items) run at once.

        Args:
            n: the limit.
        """
        self._max_concurrency = int(n)
        return self

    @expose(returns_self=True)
    def map_step(self, step: WorkflowStepTable) -> WorkflowBuilder:
        """map_reduce: the step run for each item (input ``{{item}}``; a function step gets the item).

        Args:
            step: a step table.
        """
        self._map = parse_step(step, where="map_step")
        return self

    @expose(returns_self=True)
    def reduce_step(self, step: WorkflowStepTable) -> WorkflowBuilder:
        """map_reduce: the step combining results (``{{map.results}}``; a function step gets the list).

        Args:
            step: a step table.
        """
        self._reduce = parse_step(step, where="reduce_step")
        return self

    @expose(returns_self=True)
    def items(self, items: list[Any] | str) -> WorkflowBuilder:
        """map_reduce: the items (a list or a placeholder; default ``{{input.items}}``).

        Args:
            items: the items.
        """
        self._items = items
        return self

    def definition(self) -> WorkflowDef:
        if self.type is None:
            m = self.ctx.method
            raise WorkflowError(f"Workflow type not specified: call {m('sequential')}, {m('parallel')}, "
                                f"{m('conditional')}, {m('loop')} or {m('map_reduce')} before {m('build')}")
        from llmspell.core.types import new_id

        d = WorkflowDef(name=self._name or new_id("workflow"), description=self._description,
                        type=self.type,  # type: ignore[arg-type]
                        error_strategy=self._error_strategy,  # type: ignore[arg-type]
                        timeout_ms=self._timeout_ms, max_concurrency=self._max_concurrency,
                        max_iterations=self._max_iterations, break_conditions=list(self._break))
        if self._retry_backoff_ms is not None:
            d.retry_backoff_ms = self._retry_backoff_ms
        if self.type == "sequential":
            d.steps = list(self._steps)
        elif self.type == "parallel":
            d.branches = [BranchDef(name=s.name, steps=[s]) for s in self._steps] + list(self._branches)
        elif self.type == "conditional":
            then = BranchDef(name="then", condition=self._condition or ConditionDef(type="always"),
                             steps=list(self._then) + list(self._steps))
            d.branches = [then, *self._branches]
            d.default_steps = list(self._else)
        elif self.type == "loop":
            d.iterator = self._iterator or IteratorDef(kind="range", start=1, end=10, step=1)
            d.steps = list(self._steps)
        else:
            if self._map is None:
                raise WorkflowError(f"map_reduce workflow: call {self.ctx.method('map_step', '{...}')} "
                                    f"before {self.ctx.method('build')}")
            d.map_step, d.reduce_step, d.items = self._map, self._reduce, self._items
        return d

    @expose
    def build(self) -> WorkflowHandle:
        """Create the workflow (registered under ``Workflow.list()``).

        Returns:
            the workflow instance: ``wf:execute(input?)``.
        """
        wf = _ctx_rt(self.ctx).workflows.create(self.definition())
        wf.session_id = self.ctx.extra.get("session_id")
        wf.emit_output = self.ctx.emit_output
        _forget_at_spell_end(self.ctx, wf.id)
        return WorkflowHandle(self.ctx, wf)


# ------------------------------------------------------------------------------------------ global


@api_global("Workflow")
class WorkflowGlobal(ApiGlobal):
    """Build and run workflows of tools, agents, nested workflows and script functions.

    Start with ``Workflow.builder()`` or a table config: ``Workflow.sequential{name = "w", steps = {...}}``.
    """

    def _create(self, cfg: Any, t: str) -> WorkflowHandle:
        if not isinstance(cfg, dict):
            raise ValidationError(f"Workflow.{t}: expected a config table {{name = ..., ...}}")
        wf = _ctx_rt(self.ctx).workflows.create(parse_workflow(cfg, type_=t))
        wf.session_id = self.ctx.extra.get("session_id")
        wf.emit_output = self.ctx.emit_output
        _forget_at_spell_end(self.ctx, wf.id)
        return WorkflowHandle(self.ctx, wf)

    @expose
    def builder(self) -> WorkflowBuilder:
        """A new workflow builder.

        Returns:
            the builder; choose a type (``:sequential()`` ...), add steps, then ``:build()``.
        """
        return WorkflowBuilder(self.ctx)

    @expose
    def sequential(self, config: WorkflowConfig) -> WorkflowHandle:
        """A sequential workflow from a table.

        Args:
            config: ``{name, description?, steps = {...}, error_strategy?, timeout_ms?}``.

        Returns:
            the workflow instance.
        """
        return self._create(config, "sequential")

    @expose
    def parallel(self, config: WorkflowConfig) -> WorkflowHandle:
        """A parallel workflow from a table: ``steps`` (one branch each) and/or ``branches = {{name, steps}}``.

        Args:
            config: ``{name, steps? | branches?, max_concurrency?, error_strategy?, timeout_ms?}``.

        Returns:
            the workflow instance.
        """
        return self._create(config, "parallel")

    @expose
    def conditional(self, config: WorkflowConfig) -> WorkflowHandle:
        """A conditional workflow: the first branch whose condition holds runs, else ``default_branch``.

        Args:
            config: ``{name, branches = {{name, condition, steps}}, default_branch?, error_strategy?}``.

        Returns:
            the workflow instance.
        """
        return self._create(config, "conditional")

    @expose
    def loop(self, config: WorkflowConfig) -> WorkflowHandle:
        """A loop workflow from a table.

        Args:
            config: ``{name, iterator = {range = {start, end, step}} | {collection = {...}} |
                {while_condition = ..., max_iterations}, body = {...}, break_conditions?, error_strategy?}``.

        Returns:
            the workflow instance.
        """
        return self._create(config, "loop")

    @expose
    def map_reduce(self, config: WorkflowConfig) -> WorkflowHandle:
        """A map-reduce workflow: ``map`` runs per item concurrently, ``reduce`` combines the results.

        Args:
            config: ``{name, map = step, reduce? = step, items? (default {{input.items}}), max_concurrency?}``.

        Returns:
            the workflow instance.
        """
        return self._create(config, "map_reduce")

    @expose
    def register(self, type: Annotated[str, Names("workflow_types")], params: WorkflowConfig) -> str:
        """Create a workflow of ``type`` from a config table and return its id.

        Args:
            type: sequential | parallel | conditional | loop | map_reduce.
            params: the config table.

        Returns:
            the workflow id (for ``Workflow.get``).
        """
        return self._create(params, str(type)).id

    @expose
    def types(self) -> list[str]:
        """The workflow types.

        Returns:
            ``{"sequential", "parallel", "conditional", "loop", "map_reduce"}``.
        """
        return list(WORKFLOW_TYPES)

    @expose
    def list(self) -> list[dict[str, Any]]:
        """Registered workflow instances; when there are none, descriptions of the workflow types.

        Returns:
            ``[{id, name, type, status}]`` (or ``[{id, type, description, features}]``).
        """
        insts = _ctx_rt(self.ctx).workflows.list()
        if not insts:
            return [{"id": t, "type": t, "description": d, "features": []} for t, d in WORKFLOW_TYPES.items()]
        return [{"id": w.id, "name": w.name, "type": w.type, "status": w.status} for w in insts]

    @expose
    def get(self, id: str) -> WorkflowHandle:
        """A registered workflow by id (or name); raises "Workflow not found".

        Args:
            id: ``workflow_<uuid>``.

        Returns:
            the workflow instance.
        """
        return WorkflowHandle(self.ctx, _ctx_rt(self.ctx).workflows.require(str(id)))

    @expose
    def remove(self, id: str) -> bool:
        """Forget a registered workflow.

        Args:
            id: the workflow id.

        Returns:
            true when it existed.
        """
        return bool(_ctx_rt(self.ctx).workflows.remove(str(id)))

    @expose
    def clear(self) -> bool:
        """Forget every registered workflow.

        Returns:
            true.
        """
        _ctx_rt(self.ctx).workflows.clear()
        return True

    @expose
    async def resume(self, checkpoint_id: str) -> dict[str, Any]:
        """Resume a checkpoint, also one written by an earlier run (the workflow is rebuilt from it).

        Workflows with function steps must be rebuilt by the spell: call ``wf:resume(id)`` on them.

        Args:
            checkpoint_id: the id ``wf:pause()`` returned.

        Returns:
            the execute result table.
        """
        return await _ctx_rt(self.ctx).workflows.resume(str(checkpoint_id))  # type: ignore[no-any-return]

    @expose
    async def checkpoints(self, workflow_id: str | None = None) -> builtins.list[dict[str, Any]]:
        """Saved checkpoints, oldest first.

        Args:
            workflow_id: only this workflow's checkpoints.

        Returns:
            ``[{checkpoint_id, workflow_id, workflow_name, created_at, cursor}]``.
        """
        return await _ctx_rt(self.ctx).workflows.list_checkpoints(workflow_id)  # type: ignore[no-any-return]

    @expose(lua="setDefaultErrorHandler")
    def set_default_error_handler(self, handler: ScriptFunction) -> bool:
        """Store a default error handler (kept for rs-llmspell compatibility; use a WorkflowError hook instead).

        Args:
            handler: ``function(err)``.

        Returns:
            true.
        """
        _ctx_rt(self.ctx).workflows.default_error_handler = handler
        return True

    @expose(lua="enableDebug")
    def enable_debug(self, enabled: bool = True) -> bool:
        """Turn workflow debug mode on or off.

        Args:
            enabled: true to enable.

        Returns:
            the new setting.
        """
        _ctx_rt(self.ctx).workflows.debug = bool(enabled)
        return bool(enabled)

    @expose(lua="isDebugEnabled")
    def is_debug_enabled(self) -> bool:
        """Whether workflow debug mode is on.

        Returns:
            true or false.
        """
        return bool(_ctx_rt(self.ctx).workflows.debug)


# ------------------------------------------------------------------------------------------ live keys
# Which keys of the workflow tables may hold script functions and API objects (llmspell.api.plain);
# everything else in them (step inputs, parameters, shared data) is plain data.


def _declare_live_keys() -> None:
    from llmspell.api.globals.agent import AgentInstance
    from llmspell.api.plain import keys

    fn = ScriptFunction
    cond = WorkflowCondition | ScriptFunction
    WorkflowCondition.api_script_keys = {"fn": fn, "func": fn, "predicate": fn}  # type: ignore[attr-defined]
    WorkflowStepTable.api_script_keys = {  # type: ignore[attr-defined]
        "fn": fn, "func": fn, "function": fn, "workflow": WorkflowHandle | WorkflowConfig,
        "agent": AgentInstance,
    }
    branch = keys("WorkflowBranch", condition=cond, steps=list[WorkflowStepTable])
    iterator = keys("WorkflowIterator", while_condition=cond, **{"while": cond})
    WorkflowConfig.api_script_keys = {  # type: ignore[attr-defined]
        "branches": list[branch | WorkflowStepTable],  # type: ignore[valid-type]
        "default_branch": list[WorkflowStepTable] | branch,  # type: ignore[valid-type]
        "else_steps": list[WorkflowStepTable], "then_steps": list[WorkflowStepTable], "condition": cond,
        "iterator": iterator, "break_conditions": list[cond],  # type: ignore[valid-type]
        "map_step": WorkflowStepTable, "reduce_step": WorkflowStepTable,
    }


_declare_live_keys()
