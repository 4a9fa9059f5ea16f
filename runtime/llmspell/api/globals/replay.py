"""``Replay``: rs-llmspell's hook-replay API (``lua/globals/replay.rs``), made to run.

The data structures are rs-llmspell's: ``Replay.modes`` (exact, modified, simulate, debug),
``Replay.create_config(mode)`` with ``add_modification``, ``Replay.create_modification``,
``Replay.schedules.once/interval/cron`` and ``Replay.create_comparator():compare_json(a, b)`` (same
paths, severities, similarity score and summary as its ``HookResultComparator``). rs-llmspell's Lua
API stops there; here replay is real (:mod:`llmspell.hookreplay`): ``Replay.start_recording()`` /
``stop_recording()`` record the hook executions of the run (kept under ``.llmspell/replay``), and
``Replay.replay(id, config)`` runs those recorded inputs through the hooks registered now and compares
each outcome with the recorded one. ``Replay.use_provider_recording(path)`` answers the run's model
calls from a provider recording (``record_path``), offline.
"""

from __future__ import annotations

import builtins
import json
from typing import Any, ClassVar

from llmspell.api.decl import ApiGlobal, ApiObject, api_class, api_global, expose
from llmspell.api.globals._corehelpers import on_spell_end
from llmspell.core.errors import SecurityViolationError, ValidationError
from llmspell.hookreplay import (
    HookRecorder,
    RecordingStore,
    compare_json,
    replay_executions,
)

MODES = ("exact", "modified", "simulate", "debug")


def _what(v: Any) -> str:
    return "nil" if v is None else ("boolean" if isinstance(v, bool) else type(v).__name__)


def _num(v: Any, fn: str, param: str, *, minimum: float = 0.0) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v < minimum:
        raise ValidationError(f"Replay.{fn}: '{param}' must be a number >= {minimum:g}, got {json.dumps(v)}")
    return float(v)


def recorder_of(runtime: Any) -> HookRecorder:
    return runtime.service("hook_recorder", HookRecorder)  # type: ignore[no-any-return]


def recordings_of(runtime: Any) -> RecordingStore:
    return runtime.service("hook_recordings", lambda rt: RecordingStore(rt.workspace))  # type: ignore[no-any-return]


@api_class("ReplayMode")
class ReplayMode(ApiObject):
    """One of ``Replay.modes``: exact, modified, simulate or debug."""

    def __init__(self, mode: str):
        self.mode = mode

    @expose
    def name(self) -> str:
        """The mode's name.

        Returns:
            ``"exact"``, ``"modified"``, ``"simulate"`` or ``"debug"``.
        """
        return self.mode


@api_class("ParameterModification")
class ParameterModification(ApiObject):
    """A change applied to recorded inputs in ``modified`` mode: a dotted path and a value."""

    def __init__(self, path: str, value: Any, enabled: bool = True):
        self.path = path
        self.value = value
        self.enabled = enabled

    @expose
    def get_path(self) -> str:
        """The dotted path in the hook's data (``"params.temperature"``).

        Returns:
            The path.
        """
        return self.path

    @expose
    def get_value(self) -> Any:
        """The value set at the path.

        Returns:
            The value.
        """
        return self.value

    @expose
    def is_enabled(self) -> bool:
        """Whether the modification is applied.

        Returns:
            true or false.
        """
        return self.enabled

    @expose
    def set_enabled(self, enabled: bool) -> None:
        """Turn the modification on or off.

        Args:
            enabled: true to apply it.
        """
        if not isinstance(enabled, bool):
            raise ValidationError(f"ParameterModification.set_enabled: 'enabled' must be true or false, "
                                  f"got {_what(enabled)}")
        self.enabled = enabled


def _modification(path: Any, value: Any, enabled: Any, fn: str) -> ParameterModification:
    if not isinstance(path, str) or not path.strip("."):
        raise ValidationError(f"{fn}: 'path' must be a dotted path string such as \"params.temperature\", "
                              f"got {_what(path)}")
    if enabled is not None and not isinstance(enabled, bool):
        raise ValidationError(f"{fn}: 'enabled' must be true or false, got {_what(enabled)}")
    return ParameterModification(path, value, True if enabled is None else enabled)


@api_class("ReplayConfig")
class ReplayConfig(ApiObject):
    """How ``Replay.replay`` runs: mode, modifications, result comparison, timeout, stop on error
    (rs-llmspell's defaults: exact, compare, 30 s, stop on error)."""

    def __init__(self, mode: str = "exact"):
        self.mode = mode
        self.modifications: list[ParameterModification] = []
        self.compare_results = True
        self.timeout_seconds = 30.0
        self.stop_on_error = True

    @expose
    def get_mode(self) -> ReplayMode:
        """The mode.

        Returns:
            A ReplayMode (``cfg:get_mode():name()``).
        """
        return ReplayMode(self.mode)

    @expose
    def should_compare_results(self) -> bool:
        """Whether replayed results are compared with the recorded ones.

        Returns:
            true or false.
        """
        return self.compare_results

    @expose
    def get_timeout_seconds(self) -> int:
        """The time a whole replay may take.

        Returns:
            Whole seconds.
        """
        return int(self.timeout_seconds)

    @expose
    def should_stop_on_error(self) -> bool:
        """Whether a replay stops at the first hook chain that fails.

        Returns:
            true or false.
        """
        return self.stop_on_error

    @expose
    def get_modifications(self) -> list[ParameterModification]:
        """The modifications (applied in ``modified`` mode, in order).

        Returns:
            A list of ParameterModification.
        """
        return list(self.modifications)

    @expose
    def add_modification(self, path: str, value: Any, enabled: bool | None = None) -> None:
        """Add a modification.

        Args:
            path: Dotted path in the recorded hook data (``"params.temperature"``).
            value: The value to put there.
            enabled: Whether it applies (default true).
        """
        self.modifications.append(_modification(path, value, enabled, "ReplayConfig.add_modification"))

    @expose
    def set_compare_results(self, compare: bool) -> None:
        """Turn result comparison on or off.

        Args:
            compare: true to compare.
        """
        if not isinstance(compare, bool):
            raise ValidationError(f"ReplayConfig.set_compare_results: expected true or false, got {_what(compare)}")
        self.compare_results = compare

    @expose
    def set_timeout_seconds(self, seconds: float) -> None:
        """Set the time a whole replay may take.

        Args:
            seconds: A positive number.
        """
        s = _num(seconds, "set_timeout_seconds", "seconds")
        if s <= 0:
            raise ValidationError("ReplayConfig.set_timeout_seconds: 'seconds' must be > 0")
        self.timeout_seconds = s

    @expose
    def set_stop_on_error(self, stop: bool) -> None:
        """Stop (or not) at the first hook chain that fails.

        Args:
            stop: true to stop.
        """
        if not isinstance(stop, bool):
            raise ValidationError(f"ReplayConfig.set_stop_on_error: expected true or false, got {_what(stop)}")
        self.stop_on_error = stop


@api_class("ReplaySchedule")
class ReplaySchedule(ApiObject):
    """A replay schedule value (once, interval or cron), as rs-llmspell's ``ReplaySchedule``."""

    def __init__(self, kind: str, **spec: Any):
        self.kind = kind
        self.spec = spec

    @expose
    def type_name(self) -> str:
        """The schedule's kind.

        Returns:
            ``"once"``, ``"interval"`` or ``"cron"``.
        """
        return self.kind

    @expose
    def to_table(self) -> dict[str, Any]:
        """The schedule's fields.

        Returns:
            ``{type="once", delay_seconds}``, ``{type="interval", initial_delay_seconds,
            interval_seconds, max_executions?}`` or ``{type="cron", expression}``.
        """
        return {"type": self.kind, **self.spec}


class ReplaySchedules(ApiGlobal):
    """``Replay.schedules``: constructors of ReplaySchedule values, called with a dot
    (``Replay.schedules.once(5)``) as in rs-llmspell."""

    @expose
    def once(self, delay_seconds: float) -> ReplaySchedule:
        """Run once after a delay.

        Args:
            delay_seconds: Seconds to wait (>= 0).

        Returns:
            A ReplaySchedule.
        """
        return ReplaySchedule("once", delay_seconds=_num(delay_seconds, "schedules.once", "delay_seconds"))

    @expose
    def interval(self, initial_delay: float, interval: float, max_executions: int | None = None) -> ReplaySchedule:
        """Run repeatedly.

        Args:
            initial_delay: Seconds before the first run.
            interval: Seconds between runs (> 0).
            max_executions: Optional number of runs.

        Returns:
            A ReplaySchedule.
        """
        spec: dict[str, Any] = {
            "initial_delay_seconds": _num(initial_delay, "schedules.interval", "initial_delay"),
            "interval_seconds": _num(interval, "schedules.interval", "interval"),
        }
        if spec["interval_seconds"] <= 0:
            raise ValidationError("Replay.schedules.interval: 'interval' must be > 0")
        if max_executions is not None:
            spec["max_executions"] = int(_num(max_executions, "schedules.interval", "max_executions", minimum=1))
        return ReplaySchedule("interval", **spec)

    @expose
    def cron(self, expression: str) -> ReplaySchedule:
        """Run on a cron expression (5 to 7 fields, rs-llmspell accepts seconds first).

        Args:
            expression: e.g. ``"0 */5 * * * *"``.

        Returns:
            A ReplaySchedule.
        """
        if not isinstance(expression, str) or not 5 <= len(expression.split()) <= 7:
            raise ValidationError(f"Replay.schedules.cron: 'expression' must be a cron expression of 5 to 7 fields "
                                  f"such as \"0 */5 * * * *\", got {expression!r}")
        return ReplaySchedule("cron", expression=expression)


@api_class("HookResultComparator")
class HookResultComparator(ApiObject):
    """Compares an original and a replayed result (rs-llmspell's ``HookResultComparator``)."""

    @expose
    def compare_json(self, original: Any, replayed: Any) -> dict[str, Any]:
        """Compare two values as hook results.

        Args:
            original: The original value (a table or any plain value).
            replayed: The replayed value.

        Returns:
            ``{identical, similarity_score, summary, differences?}``; each difference is
            ``{path, description, severity, original, replayed}`` (``similarity_score`` is 1 minus
            a tenth of the summed severity weights: critical 1, major 0.5, minor 0.25).
        """
        out = compare_json(original, replayed)
        if not out["differences"]:
            del out["differences"]
        return out


def _mode_name(mode: Any, fn: str) -> str:
    if mode is None:
        return "exact"
    if isinstance(mode, ReplayMode):
        return mode.mode
    if isinstance(mode, str) and mode.lower() in MODES:
        return mode.lower()
    raise ValidationError(f"Replay.{fn}: 'mode' must be one of Replay.modes ({', '.join(MODES)}), got {mode!r}")


@api_global("Replay")
class ReplayGlobal(ApiGlobal):
    """Hook replay: record the hook executions of a run, replay them later through the hooks registered
    then, compare outcomes; rs-llmspell's modes, configs, modifications, schedules and comparator.

    ``Replay.modes.exact|modified|simulate|debug``; ``Replay.schedules.once(s)``,
    ``.interval(initial, every, max?)``, ``.cron(expr)``. Recordings live in ``.llmspell/replay``.
    """

    api_fields: ClassVar[dict[str, str]] = {"modes": "table<string, ReplayMode>"}
    api_namespaces: ClassVar[dict[str, type[ApiGlobal]]] = {"schedules": ReplaySchedules}

    def __init__(self, ctx: Any):
        super().__init__(ctx)
        self.modes = {m: ReplayMode(m) for m in MODES}

    @expose
    def create_config(self, mode: ReplayMode | str | None = None) -> ReplayConfig:
        """A replay configuration.

        Args:
            mode: One of ``Replay.modes`` (or its name); default exact.

        Returns:
            A ReplayConfig (defaults: compare results, 30 s timeout, stop on error).
        """
        return ReplayConfig(_mode_name(mode, "create_config"))

    @expose
    def create_modification(self, path: str, value: Any, enabled: bool | None = None) -> ParameterModification:
        """A parameter modification (``config:add_modification`` takes the same arguments).

        Args:
            path: Dotted path in the recorded hook data.
            value: The value to put there.
            enabled: Whether it applies (default true).

        Returns:
            A ParameterModification.
        """
        return _modification(path, value, enabled, "Replay.create_modification")

    @expose
    def create_comparator(self) -> HookResultComparator:
        """A result comparator.

        Returns:
            A HookResultComparator (``cmp:compare_json(original, replayed)``).
        """
        return HookResultComparator()

    # ------------------------------------------------------------------------------- recording

    @expose
    def start_recording(self, opts: dict[str, Any] | None = None) -> str:
        """Start recording hook executions (one recording at a time per runtime). A recording still
        running when the spell ends is stopped and saved then.

        Args:
            opts: ``{points?, id?}``: hook points to record (default all), and the recording's id.

        Returns:
            The recording id.
        """
        o = opts or {}
        if not isinstance(o, dict):
            raise ValidationError(f"Replay.start_recording: 'opts' must be a table, got {_what(o)}")
        points = o.get("points")
        if points is not None:
            from llmspell.hooks.registry import validate_point

            if isinstance(points, str):
                points = [points]
            if not isinstance(points, list) or not points:
                raise ValidationError("Replay.start_recording: 'points' must be a list of hook point names")
            try:
                points = [validate_point(p) for p in points]
            except Exception as e:
                raise ValidationError(f"Replay.start_recording: {getattr(e, 'message', e)}") from None
        rid = o.get("id")
        if rid is not None:
            RecordingStore.check_id(rid, "start_recording")
        rt = self.ctx.runtime
        rec = recorder_of(rt).start(points, rid)

        def finish() -> None:  # a recording the spell left running ends (and is saved) with the spell
            recorder = recorder_of(rt)
            if recorder.active is rec:
                recorder.stop()
                recordings_of(rt).save(rec)

        on_spell_end(self.ctx, finish)
        return rec.id

    @expose
    def is_recording(self) -> bool:
        """Whether a recording is running.

        Returns:
            true or false.
        """
        return recorder_of(self.ctx.runtime).active is not None

    @expose
    async def stop_recording(self) -> dict[str, Any]:
        """Stop recording and save the recording under ``.llmspell/replay/<id>.json``.

        Returns:
            ``{id, executions, points, started_at, stopped_at, dropped}``.
        """
        rec = recorder_of(self.ctx.runtime).stop()
        if rec is None:
            raise ValidationError("Replay.stop_recording: no recording is running (Replay.start_recording() first)")
        recordings_of(self.ctx.runtime).save(rec)
        return rec.summary()

    @expose
    def list_recordings(self) -> builtins.list[dict[str, Any]]:
        """The saved hook recordings of the workspace, oldest first.

        Returns:
            Summaries ``{id, executions, points, started_at, stopped_at}``.
        """
        return recordings_of(self.ctx.runtime).list()

    @expose
    def get_recording(self, id: str) -> dict[str, Any]:
        """A saved recording with its executions.

        Args:
            id: The recording id.

        Returns:
            The summary plus ``executions_list``: ``{point, component, operation, input, output,
            result, reason, hooks}`` per execution.
        """
        return recordings_of(self.ctx.runtime).load(RecordingStore.check_id(id, "get_recording"))

    @expose
    def delete_recording(self, id: str) -> bool:
        """Delete a saved recording.

        Args:
            id: The recording id.

        Returns:
            true when it existed.
        """
        return recordings_of(self.ctx.runtime).delete(RecordingStore.check_id(id, "delete_recording"))

    @expose
    async def replay(self, id: str, config: ReplayConfig | None = None,
                     opts: dict[str, Any] | None = None) -> dict[str, Any]:
        """Replay a recording: each recorded input goes through the hooks registered *now* at its point.

        Modes: ``exact`` replays the inputs as recorded; ``modified`` applies the config's enabled
        modifications first; ``simulate`` runs nothing and reports the recorded outcomes; ``debug`` is
        exact plus each input and the recorded per-hook results.

        Args:
            id: A recording id (``stop_recording().id``).
            config: A ReplayConfig (default: exact, compare, 30 s, stop on error).
            opts: ``{points?}``: replay only executions at these points.

        Returns:
            ``{success, mode, replayed, identical, different, errors, stopped, duration_ms, results}``;
            each result is ``{index, point, component, original, replayed, hooks, comparison?, error?}``
            where outcomes are ``{result, reason, data?}`` and ``hooks`` lists the hooks that ran now
            (``{hook, result, reason}``); a hook that fails counts as an error (``stop_on_error``).
        """
        if config is not None and not isinstance(config, ReplayConfig):
            raise ValidationError(f"Replay.replay: 'config' must come from Replay.create_config(), got {_what(config)}")
        cfg = config or ReplayConfig()
        o = opts or {}
        if not isinstance(o, dict):
            raise ValidationError(f"Replay.replay: 'opts' must be a table, got {_what(o)}")
        points = o.get("points")
        if isinstance(points, str):
            points = [points]
        if points is not None and not (isinstance(points, list) and all(isinstance(p, str) for p in points)):
            raise ValidationError("Replay.replay: 'opts.points' must be a list of hook point names")
        rt = self.ctx.runtime
        data = recordings_of(rt).load(RecordingStore.check_id(id, "replay"))
        mods = [(m.path, m.value) for m in cfg.modifications if m.enabled]
        return await replay_executions(rt, recorder_of(rt), data["executions_list"], mode=cfg.mode,
                                       modifications=mods, compare_results=cfg.compare_results,
                                       timeout_s=cfg.timeout_seconds, stop_on_error=cfg.stop_on_error,
                                       points=points)

    # ------------------------------------------------------------------------------- provider calls

    def _recording_path(self, path: Any, fn: str) -> str:
        if not isinstance(path, str) or not path:
            raise ValidationError(f"Replay.{fn}: 'path' must be the path of a provider recording (record_path), "
                                  f"got {_what(path)}")
        gate = self.ctx.runtime.policy.gate
        try:
            gate.read_bytes(path, max_bytes=256 << 20)
            return str(gate.resolve(path))
        except SecurityViolationError as e:
            raise SecurityViolationError(f"Replay.{fn}: {e.message}", details=e.details) from None
        except FileNotFoundError:
            raise ValidationError(f"Replay.{fn}: no such file: {path} (record one with record_path / "
                                  "--record)") from None
        except OSError as e:
            raise ValidationError(f"Replay.{fn}: cannot read {path}: {e.strerror or e}") from None

    @expose
    def provider_calls(self, path: str) -> builtins.list[dict[str, Any]]:
        """The model calls in a provider recording (a ``record_path`` JSON Lines file).

        Args:
            path: The recording (inside the allowed folders).

        Returns:
            ``{kind, model, last_user, fingerprint, text?, error?}`` per recorded call, in order.
        """
        gate = self.ctx.runtime.policy.gate
        self._recording_path(path, "provider_calls")
        text = gate.read_text(path, errors="replace", max_bytes=256 << 20)
        out: builtins.list[dict[str, Any]] = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                e = json.loads(line)
            except ValueError:
                raise ValidationError(f"Replay.provider_calls: {path}:{n} is not JSON (not a provider recording)") \
                    from None
            if not isinstance(e, dict) or "fingerprint" not in e:
                raise ValidationError(f"Replay.provider_calls: {path}:{n} is not a provider call record")
            item = {k: e.get(k) for k in ("kind", "model", "last_user", "fingerprint")}
            comp = e.get("completion")
            if isinstance(comp, dict):
                item["text"] = comp.get("text")
            elif isinstance(e.get("chunks"), list):
                item["text"] = "".join(str(c.get("text") or "") for c in e["chunks"] if isinstance(c, dict))
            if isinstance(e.get("error"), dict):
                item["error"] = e["error"].get("message")
            out.append(item)
        return out

    @expose
    async def use_provider_recording(self, path: str) -> int:
        """Answer this run's model calls from a provider recording from now on (offline, deterministic;
        a request the recording lacks fails naming it). Agents made before keep their provider.

        Args:
            path: A ``record_path`` recording inside the allowed folders.

        Returns:
            The number of recorded calls.
        """
        n = len(self.provider_calls(path))
        real = self._recording_path(path, "use_provider_recording")
        rt = self.ctx.runtime
        await rt.update_config({"replay_path": real, "record_path": None})
        providers = rt.providers
        old = getattr(providers, "_replay", None)
        if old is not None and str(getattr(old, "path", "")) != real:
            providers._replay = None  # the registry caches the replay provider of the previous path
        return n
