"""``llmspell-ls --run FILE [--json] [--model M] [--workspace DIR] [--trace OUT.json] [-- ARGS…]``.

Human output (default): the spell's printed output as it happens on stdout, then one summary line on
stderr (status, duration, tokens, cost, and the error with its ``file:line`` when it failed). With
``--json``: every :data:`~llmspell.messages.RunMessage` as one JSON line on stdout, nothing else.
Set ``LLMSPELL_EVENTS=1`` to also get a compact event log on stderr in human mode.

Exit status: 0 success, 1 the spell failed (error, limit, timeout, cancel), the spell's own status for
``os.exit(n)``, 2 usage errors (missing or unreadable file, not a spell, bad configuration).

Never prints a Python traceback: every failure is one line naming the file (and line when known).
Imports stay lazy — ``--run hello.lua`` must not pay for the language server, and an offline run never
imports litellm.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO


def _fmt_duration(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


def _summary(fin: Any) -> str:
    parts = [fin.status, _fmt_duration(fin.duration_ms)]
    u = fin.usage
    if u.total_tokens:
        parts.append(f"{u.total_tokens} tokens ({u.prompt_tokens} in / {u.completion_tokens} out)")
    else:
        parts.append("0 tokens")
    if fin.cost_usd is not None:
        parts.append(f"${fin.cost_usd:.6f}")
    if fin.status != "success" or fin.exit_code:
        parts.append(f"exit {fin.exit_code}")
    return "[llmspell] " + " · ".join(parts)


def _error_line(fin: Any, path: str) -> str:
    import re

    err = fin.error
    msg = (err.message or "").strip().splitlines()[0] if err.message else err.kind
    if re.match(r"^\S+:\d+: ", msg):  # already located, as Lua writes it (relative path)
        return msg
    if err.file and err.line:
        return f"{_short(err.file)}:{err.line}: {msg}"
    if not msg.startswith(path):
        return f"{path}: {msg}"
    return msg


def _short(file: str) -> str:
    try:
        rel = os.path.relpath(file)
        return file if rel.startswith("..") else rel
    except ValueError:
        return file


def _result_line(result: Any) -> str | None:
    if result is None:
        return None
    try:
        text = json.dumps(result, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = str(result)
    if len(text) > 300:
        text = text[:297] + "..."
    return f"[llmspell] result: {text}"


async def _run(path: Path, script_args: list[str], *, json_lines: bool, config: Any, out: TextIO,
               err: TextIO, trace_file: str | None = None) -> int:
    from llmspell.messages import EventMessage, Finished, Output
    from llmspell.tracing import otlp_endpoint

    runner = _make_runner(path, config)
    show_events = os.environ.get("LLMSPELL_EVENTS", "") not in ("", "0", "false")
    code = 1
    at_line_start = True
    collector: Any = None
    endpoint = otlp_endpoint()
    if trace_file or endpoint:  # --trace FILE and/or the standard OTEL_EXPORTER_OTLP_* variables
        from llmspell.runner import language_for
        from llmspell.tracing.collect import TraceCollector

        collector = TraceCollector(path, language_for(path) or "lua")
    async for msg in runner.run(path, args=script_args, **({"trace": collector.options} if collector else {})):
        if collector is not None and collector.observe(msg) and not json_lines:
            continue
        if json_lines:
            out.write(msg.model_dump_json() + "\n")
            out.flush()
            if isinstance(msg, Finished):
                code = _exit_code(msg)
            continue
        if isinstance(msg, Output):
            stream = out if msg.stream == "stdout" else err
            stream.write(msg.text)
            stream.flush()
            at_line_start = msg.text.endswith("\n")
        elif isinstance(msg, EventMessage) and show_events:
            err.write(f"[event] {msg.event_type}\n")
        elif isinstance(msg, Finished):
            if not at_line_start:
                out.write("\n")
                out.flush()
            if msg.error is not None and msg.status != "success" and msg.error.kind != "exit":
                err.write(_error_line(msg, str(path)) + "\n")
            rl = _result_line(msg.result)
            if rl:
                err.write(rl + "\n")
            err.write(_summary(msg) + "\n")
            err.flush()
            code = _exit_code(msg)
    if collector is not None:
        _save_trace(collector, trace_file, endpoint, err)
    return code


def _save_trace(collector: Any, trace_file: str | None, endpoint: str | None, err: TextIO) -> None:
    """Write ``--trace FILE`` and export over OTLP/HTTP; a failure is one line, never the run's status."""
    if trace_file:
        try:
            collector.write(trace_file)
            err.write(f"[llmspell] trace: {len(collector.spans)} spans written to {trace_file}\n")
        except OSError as e:
            err.write(f"llmspell-ls: cannot write the trace to {trace_file}: {e.strerror or e}\n")
    if endpoint:
        from llmspell.tracing.export import export_otlp

        problem = export_otlp(collector.otlp_json(), endpoint)
        if problem:
            err.write(f"[llmspell] {problem}\n")
    err.flush()


def _make_runner(path: Path, config: Any) -> Any:
    """The isolated runner (the spell in its own killable process, forked from this one, so start-up
    costs a fork), or the in-process one with ``limits.isolation = "none"``."""
    if config is not None and config.limits.isolation == "none":
        from llmspell.runner import SpellRunner

        return SpellRunner(config=config)
    from llmspell.isolation import ForkSpawner, IsolatedRunner, ZygoteSpawner

    # nothing is preloaded here: the CLI forks once, so an import costs the same in the child, and
    # this process (which only relays the stream) then never pays for the engine's modules at exit
    return IsolatedRunner(config=config, spawner=ForkSpawner() if ForkSpawner.usable() else ZygoteSpawner())


def _exit_code(fin: Any) -> int:
    if fin.status == "success":
        return int(fin.exit_code or 0)
    if fin.error is not None and fin.error.kind == "exit":
        return int(fin.exit_code) if fin.exit_code else 1
    if fin.error is not None and fin.error.kind in ("io", "usage"):
        return 2
    return 1


def run_command(
    path: str,
    script_args: list[str],
    *,
    json_lines: bool = False,
    model: str | None = None,
    workspace: str | None = None,
    cluster: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    trace_file: str | None = None,
) -> int:
    """Run one spell from the command line; returns the process exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    p = Path(path)
    if not p.exists():
        err.write(f"llmspell-ls: {path}: no such file\n")
        return 2
    if not p.is_file():
        err.write(f"llmspell-ls: {path}: not a file\n")
        return 2
    if not os.access(p, os.R_OK):
        err.write(f"llmspell-ls: {path}: cannot read the file (permission denied)\n")
        return 2
    from llmspell.runner import language_for

    if language_for(p) is None:
        err.write(f"llmspell-ls: {path}: not a spell (expected a .lua or .js file)\n")
        return 2
    try:
        from llmspell.config import load_config
        from llmspell.core.errors import LLMSpellError

        overrides: dict[str, Any] = {}
        if model:
            overrides["default_model"] = model
        if cluster:
            overrides["cluster"] = {"address": cluster}
        # the workspace is the spell's folder unless given: never the current directory by accident
        # (running from / or $HOME must not make that the allowed file tree)
        config = load_config(workspace or p.resolve().parent, overrides=overrides or None)
    except Exception as e:  # ConfigurationError and friends: one line, usage error
        msg = getattr(e, "message", None) or str(e)
        err.write(f"llmspell-ls: {msg.splitlines()[0] if msg else type(e).__name__}\n")
        return 2
    if config.cluster.address:
        from llmspell.cluster import MISSING_EXTRA, dask_available

        if not dask_available():
            err.write(f"llmspell-ls: --cluster {config.cluster.address}: {MISSING_EXTRA}\n")
            return 2
    try:
        return asyncio.run(_run(p, script_args, json_lines=json_lines, config=config, out=out, err=err,
                                trace_file=trace_file))
    except KeyboardInterrupt:
        err.write(f"llmspell-ls: {path}: interrupted\n")
        return 130
    except BrokenPipeError:
        # the reader went away (``--json | head``): stop quietly like any Unix filter, and keep the
        # interpreter's final flush from raising again
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141
    except LLMSpellError as e:
        err.write(f"llmspell-ls: {path}: {e.message}\n")
        return 1
    except Exception as e:  # never a Python traceback
        err.write(f"llmspell-ls: {path}: internal error: {type(e).__name__}: {e}\n")
        return 1
