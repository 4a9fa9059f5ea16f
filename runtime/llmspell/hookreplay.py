"""Hook replay: record hook executions, replay them through the hooks registered now, compare.

rs-llmspell's ``llmspell-hooks::replay`` persists hook executions and replays them (exact, with
parameter modifications, simulated, or with debug detail), comparing each replayed result with the
original through ``HookResultComparator``. Here:

* :class:`HookRecorder` registers two Python hooks on each recorded point, one first (priority
  far above ``highest``: it keeps the context's input) and one last (it keeps the data after the
  chain's modifications), and a registry observer that notes each hook's result. One *execution* is
  ``{point, component, operation, input, output, result, reason, hooks: [{hook, result, reason}]}``.
* :func:`replay_executions` builds a fresh context from each recorded input (after the config's
  modifications), runs the point's hooks registered *now* (``HookRegistry.execute``) and compares the
  replayed outcome with the recorded one: "what would my hooks do today with last run's inputs".
* :func:`compare` is rs-llmspell's comparator (same paths, severities, similarity and summary).

Recordings are JSON files under ``.llmspell/replay/`` (written through a path gate rooted there), so a
later run can replay them.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmspell.core.errors import StateError, ValidationError
from llmspell.core.types import HOOK_POINT_NAMES, ComponentId, HookContext

if TYPE_CHECKING:
    from llmspell.hooks.registry import HookExecution
    from llmspell.security.fs import PathGate

FIRST = -(2**62)
LAST = 2**62
RECORDER_NAME = "replay-recorder"
_STOP_KINDS = ("cancel", "redirect", "replace", "retry", "skipped")
_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
MAX_EXECUTIONS = 10_000


def plain_copy(v: Any) -> Any:
    """A JSON-shaped copy (non-JSON leaves become strings)."""
    return json.loads(json.dumps(v, default=str))


# ------------------------------------------------------------------------------------ comparison

_WEIGHTS = {"info": 0.1, "minor": 0.25, "major": 0.5, "critical": 1.0}
IGNORED_FIELDS = ("timestamp", "duration")


def _diff(path: str, orig: Any, repl: Any, out: list[dict[str, Any]]) -> None:
    if isinstance(orig, dict) and isinstance(repl, dict):
        for key in sorted({*map(str, orig), *map(str, repl)}):
            fp = key if not path else f"{path}.{key}"
            if fp in IGNORED_FIELDS:
                continue
            if key in orig and key in repl:
                _diff(fp, orig[key], repl[key], out)
            elif key in orig:
                out.append({"path": fp, "original": orig[key], "replayed": None,
                            "description": "Field missing in replayed result", "severity": "major"})
            else:
                out.append({"path": fp, "original": None, "replayed": repl[key],
                            "description": "Field added in replayed result", "severity": "major"})
        return
    if isinstance(orig, list) and isinstance(repl, list):
        if len(orig) != len(repl):
            out.append({"path": f"{path}.length", "original": len(orig), "replayed": len(repl),
                        "description": "Array lengths differ", "severity": "major"})
        for i, (a, b) in enumerate(zip(orig, repl, strict=False)):
            _diff(f"{path}[{i}]", a, b, out)
        return
    if orig == repl and isinstance(orig, bool) == isinstance(repl, bool):
        return
    sev = "critical" if ("error" in path or "result" in path) else "major"
    out.append({"path": path, "original": orig, "replayed": repl, "description": "Values differ", "severity": sev})


def compare(original: dict[str, Any], replayed: dict[str, Any]) -> dict[str, Any]:
    """Compare two hook outcomes ``{result, data?, reason?}`` the way rs-llmspell's
    ``HookResultComparator::compare`` does; ``{identical, similarity_score, summary, differences}``."""
    diffs: list[dict[str, Any]] = []
    dtype: str | None = None
    ok, rk = original.get("result", "continue"), replayed.get("result", "continue")
    if ok != rk:
        diffs.append({"path": "variant", "original": ok, "replayed": rk, "description": "Result variants differ",
                      "severity": "critical"})
        dtype = "different result types"
    elif ok == "modified":
        _diff("", original.get("data"), replayed.get("data"), diffs)
        dtype = "different data values" if diffs else None
    elif ok in ("cancel", "skipped", "redirect", "replace") and original.get("reason") != replayed.get("reason"):
        what = {"cancel": "cancel_reason", "skipped": "skip_reason"}.get(ok, f"{ok}_reason")
        diffs.append({"path": what, "original": original.get("reason"), "replayed": replayed.get("reason"),
                      "description": "Reasons differ", "severity": "major" if ok == "cancel" else "minor"})
        dtype = "different cancellation reasons" if ok == "cancel" else "different data values"
    if len(diffs) > 1 and dtype is not None:
        dtype = "multiple differences"
    score = 1.0 if not diffs else max(0.0, 100.0 - sum(_WEIGHTS[d["severity"]] for d in diffs) * 10.0) / 100.0
    if not diffs:
        summary = "Results are identical"
    else:
        counts = {s: sum(1 for d in diffs if d["severity"] == s) for s in ("critical", "major", "minor")}
        summary = (f"Found {len(diffs)} differences ({dtype or 'unknown differences'}): {counts['critical']} "
                   f"critical, {counts['major']} major, {counts['minor']} minor")
    return {"identical": not diffs, "similarity_score": score, "summary": summary, "differences": diffs}


def compare_json(original: Any, replayed: Any) -> dict[str, Any]:
    """rs-llmspell's ``comparator:compare_json(a, b)``: both taken as ``Modified`` results."""
    return compare({"result": "modified", "data": original}, {"result": "modified", "data": replayed})


# ------------------------------------------------------------------------------------ modifications


def apply_modification(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Set ``value`` at a dotted ``path`` (``"params.temperature"``; a leading ``data.`` or
    ``context.data.`` addresses the same table) in a copy of ``data``, creating tables on the way."""
    out = plain_copy(data)
    parts = [p for p in path.split(".") if p]
    for prefix in (["context", "data"], ["data"]):
        if parts[: len(prefix)] == prefix and len(parts) > len(prefix):
            parts = parts[len(prefix):]
            break
    if not parts:
        raise ValidationError(f"Replay: modification path {path!r} names no field")
    cur: Any = out
    for p in parts[:-1]:
        if isinstance(cur, list) and p.isdigit() and 0 < int(p) <= len(cur):
            cur = cur[int(p) - 1]
            continue
        if not isinstance(cur, dict):
            raise ValidationError(f"Replay: modification path {path!r}: {p!r} is not a table")
        nxt = cur.get(p)
        if nxt is None:
            nxt = cur[p] = {}
        elif not isinstance(nxt, (dict, list)):
            raise ValidationError(f"Replay: modification path {path!r}: {p!r} is a {type(nxt).__name__}, "
                                  "not a table")
        cur = nxt
    last = parts[-1]
    if isinstance(cur, list) and last.isdigit() and 0 < int(last) <= len(cur) + 1:
        if int(last) == len(cur) + 1:
            cur.append(value)
        else:
            cur[int(last) - 1] = value
    elif isinstance(cur, dict):
        cur[last] = value
    else:
        raise ValidationError(f"Replay: modification path {path!r} does not end inside a table")
    return out


# ------------------------------------------------------------------------------------ recording


@dataclass
class _Open:
    execution: dict[str, Any]


@dataclass
class HookRecording:
    id: str
    points: list[str]
    started_at: float = field(default_factory=time.time)
    stopped_at: float | None = None
    executions: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0

    def summary(self) -> dict[str, Any]:
        pts = sorted({e["point"] for e in self.executions})
        return {"id": self.id, "executions": len(self.executions), "points": pts, "recorded_points": self.points,
                "started_at": self.started_at, "stopped_at": self.stopped_at, "dropped": self.dropped}

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, **self.summary(), "executions_list": self.executions}


class HookRecorder:
    """Records the hook executions of one runtime while active (one recording at a time)."""

    def __init__(self, runtime: Any):
        self.runtime = runtime
        self.active: HookRecording | None = None
        self._handles: list[Any] = []
        self._remove_observer: Any = None
        self._open: dict[tuple[str, str], dict[str, Any]] = {}
        self.paused = 0
        """While > 0 (a replay is running), executions are not recorded."""

    def start(self, points: list[str] | None, rec_id: str | None) -> HookRecording:
        if self.active is not None:
            raise ValidationError(f"Replay.start_recording: recording {self.active.id!r} is already running "
                                  "(Replay.stop_recording() first)")
        pts = list(points) if points else list(HOOK_POINT_NAMES)
        rid = rec_id or f"hooks-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        rec = HookRecording(id=rid, points=pts)
        hooks = self.runtime.hooks
        for p in pts:
            self._handles.append(hooks.register(p, self._first, priority=FIRST, name=RECORDER_NAME,
                                                description="Replay: records the hook input"))
            self._handles.append(hooks.register(p, self._last, priority=LAST, name=RECORDER_NAME,
                                                description="Replay: records the hook output"))
        self._remove_observer = hooks.add_observer(self._observe)
        self.active = rec
        return rec

    def stop(self) -> HookRecording | None:
        rec, self.active = self.active, None
        for h in self._handles:
            self.runtime.hooks.unregister(h)
        self._handles.clear()
        if self._remove_observer is not None:
            self._remove_observer()
            self._remove_observer = None
        self._open.clear()
        if rec is not None:
            rec.stopped_at = time.time()
        return rec

    def close(self) -> None:
        self.stop()

    def _first(self, ctx: HookContext) -> None:
        rec = self.active
        if rec is None or self.paused:
            return
        if len(rec.executions) >= MAX_EXECUTIONS:
            rec.dropped += 1
            return
        ex = {"point": ctx.point, "component": {"type": ctx.component_id.type, "name": ctx.component_id.name},
              "operation": ctx.operation, "correlation_id": ctx.correlation_id, "timestamp": ctx.timestamp,
              "input": plain_copy(ctx.data), "output": None, "result": "continue", "reason": None, "hooks": []}
        rec.executions.append(ex)
        self._open[(ctx.correlation_id, ctx.point)] = ex

    def _last(self, ctx: HookContext) -> None:
        ex = self._open.pop((ctx.correlation_id, ctx.point), None)
        if ex is None:
            return
        ex["output"] = plain_copy(ctx.data)
        kinds = [h["result"] for h in ex["hooks"]]
        ex["result"] = "modified" if "modified" in kinds else "continue"

    def _observe(self, e: HookExecution) -> None:
        if e.hook == RECORDER_NAME:
            return
        ex = self._open.get((e.correlation_id, e.point))
        if ex is None:
            return
        ex["hooks"].append({"hook": e.hook, "result": e.result, "reason": e.reason, "language": e.language})
        if e.result in _STOP_KINDS and e.mode == "sync":
            ex["result"], ex["reason"] = e.result, e.reason
            self._open.pop((e.correlation_id, e.point), None)  # the chain stops here: no output


# ------------------------------------------------------------------------------------ storage


class RecordingStore:
    """Recordings as ``<id>.json`` under ``.llmspell/replay`` (created through the path gate)."""

    def __init__(self, workspace: Path):
        from llmspell.security.fs import PathGate
        from llmspell.state.store import _checked_db_path

        try:
            real = _checked_db_path(Path(workspace) / ".llmspell" / "replay" / "index", Path(workspace))
        except StateError as e:
            raise StateError(e.message.replace("state database", "replay folder")) from None
        self.root = real.parent
        self.gate: PathGate = PathGate([self.root], self.root)

    @staticmethod
    def check_id(rec_id: Any, fn: str) -> str:
        if not isinstance(rec_id, str) or not _ID_RE.match(rec_id) or rec_id.startswith("."):
            raise ValidationError(f"Replay.{fn}: a recording id is 1-100 letters, digits, '-', '_' or '.', "
                                  f"got {rec_id!r}")
        return rec_id

    def save(self, rec: HookRecording) -> None:
        self.gate.write_text(f"{rec.id}.json", json.dumps(rec.to_json(), ensure_ascii=False))

    def load(self, rec_id: str) -> dict[str, Any]:
        try:
            text = self.gate.read_text(f"{rec_id}.json", max_bytes=256 << 20)
        except FileNotFoundError:
            raise ValidationError(f"Replay: no recording {rec_id!r} (Replay.list_recordings() lists them)") from None
        try:
            data = json.loads(text)
        except ValueError as e:
            raise StateError(f"Replay: recording {rec_id!r} is not valid JSON: {e}") from None
        if not isinstance(data, dict) or not isinstance(data.get("executions_list"), list):
            raise StateError(f"Replay: recording {rec_id!r} is not a hook recording")
        return data

    def list(self) -> list[dict[str, Any]]:
        out = []
        for e in self.gate.scandir("."):
            name = getattr(e, "name", "")
            if not name.endswith(".json") or getattr(e, "kind", "file") != "file":
                continue
            try:
                data = self.load(name[:-5])
            except (ValidationError, StateError, OSError):
                continue
            data.pop("executions_list", None)
            out.append(data)
        return sorted(out, key=lambda d: d.get("started_at") or 0)

    def delete(self, rec_id: str) -> bool:
        try:
            self.gate.remove(f"{rec_id}.json")
            return True
        except FileNotFoundError:
            return False


# ------------------------------------------------------------------------------------ replay


def _recorded_outcome(ex: dict[str, Any]) -> dict[str, Any]:
    out = {"result": ex.get("result") or "continue", "reason": ex.get("reason")}
    if out["result"] == "modified":
        out["data"] = ex.get("output")
    return out


async def replay_executions(runtime: Any, recorder: HookRecorder | None, executions: list[dict[str, Any]], *,
                            mode: str, modifications: list[tuple[str, Any]], compare_results: bool,
                            timeout_s: float, stop_on_error: bool, points: list[str] | None = None
                            ) -> dict[str, Any]:
    """Replay recorded executions through the hooks registered now; see the module docstring."""
    results: list[dict[str, Any]] = []
    identical = different = errors = 0
    t0 = time.perf_counter()
    deadline = t0 + timeout_s
    stopped: str | None = None
    seen: dict[str, list[dict[str, Any]]] = {}

    def observe(e: HookExecution) -> None:
        if e.hook != RECORDER_NAME and e.correlation_id in seen:
            seen[e.correlation_id].append({"hook": e.hook, "result": e.result, "reason": e.reason})

    remove = runtime.hooks.add_observer(observe)
    if recorder is not None:
        recorder.paused += 1
    try:
        for i, ex in enumerate(executions):
            if points and ex.get("point") not in points:
                continue
            item: dict[str, Any] = {"index": i + 1, "point": ex.get("point"), "component": ex.get("component"),
                                    "original": _recorded_outcome(ex)}
            raw = ex.get("input")
            data: dict[str, Any] = raw if isinstance(raw, dict) else {}
            if mode == "modified":
                for path, value in modifications:
                    data = apply_modification(data, path, value)
            if mode == "simulate":
                item["replayed"] = item["original"]
            else:
                left = deadline - time.perf_counter()
                if left <= 0:
                    stopped = f"timed out after {timeout_s:g} s"
                    break
                comp = ex.get("component") or {}
                try:
                    cid = ComponentId(type=comp.get("type", "System"), name=str(comp.get("name", "system")))
                except Exception:
                    cid = ComponentId()
                ctx = HookContext(point=str(ex.get("point")), component_id=cid, data=plain_copy(data),
                                  operation=ex.get("operation"), metadata={"replay": "true"})
                ran = seen[ctx.correlation_id] = []
                try:
                    res = await asyncio.wait_for(runtime.hooks.execute(ctx), timeout=left)
                except TimeoutError:
                    stopped = f"timed out after {timeout_s:g} s"
                    break
                except Exception as e:  # a hook chain that raises is an error result, as recorded
                    errors += 1
                    item["replayed"] = {"result": "error", "reason": f"{type(e).__name__}: {e}"}
                    item["error"] = str(e)
                else:
                    rep: dict[str, Any] = {"result": res.kind, "reason": res.reason}
                    if res.kind == "modified":
                        rep["data"] = plain_copy(ctx.data)
                    item["replayed"] = rep
                    failed = [h for h in ran if h["result"] == "error"]
                    if failed:  # the registry counts a failing hook as continue; a replay reports it
                        errors += 1
                        item["error"] = f"hook {failed[0]['hook']} failed: {failed[0]['reason']}"
                seen.pop(ctx.correlation_id, None)
                item["hooks"] = ran
                if mode == "debug":
                    item["input"] = data
                    item["recorded_hooks"] = ex.get("hooks") or []
            if compare_results:
                cmp = compare(item["original"], item["replayed"])
                item["comparison"] = cmp
                if cmp["identical"]:
                    identical += 1
                else:
                    different += 1
            results.append(item)
            if stop_on_error and "error" in item:
                stopped = f"stopped at execution {i + 1}: {item['error']}"
                break
    finally:
        remove()
        if recorder is not None:
            recorder.paused -= 1
    return {"success": stopped is None and errors == 0, "mode": mode, "replayed": len(results),
            "identical": identical, "different": different, "errors": errors, "stopped": stopped,
            "duration_ms": (time.perf_counter() - t0) * 1000.0, "results": results}
