"""State survives restarts, loses nothing under concurrent writers, and runs state hooks/events."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from llmspell.config import StateConfig
from llmspell.core.errors import HookCancelledError, StateError
from llmspell.core.types import HookContext
from llmspell.events.bus import EventBus
from llmspell.hooks.registry import HookRegistry
from llmspell.state.store import SqliteBackend, StateStore


def make_runtime() -> SimpleNamespace:
    events = EventBus()
    return SimpleNamespace(events=events, hooks=HookRegistry(events))


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    s = StateStore.from_config(StateConfig(backend=request.param), workspace=tmp_path)
    yield s
    s.close()


async def test_round_trip_and_scopes(store: StateStore) -> None:
    await store.set("global", "n", 1)
    await store.set("global", "cfg", {"a": [1, 2.5, "x", None, True], "nested": {"k": "v"}})
    await store.set("user:123", "name", "ada")
    await store.set("user:1234", "name", "bob")
    assert await store.get("global", "n") == 1
    assert await store.get("global", "cfg") == {"a": [1, 2.5, "x", None, True], "nested": {"k": "v"}}
    assert await store.get("global", "missing") is None
    assert await store.get("global", "missing", "dflt") == "dflt"
    assert await store.list_keys("global") == ["cfg", "n"]
    assert await store.list_keys("user:123") == ["name"]  # not user:1234's
    assert await store.delete("global", "n") is True
    assert await store.delete("global", "n") is False
    assert await store.list_keys("global") == ["cfg"]


async def test_non_json_values_are_refused_clearly(store: StateStore) -> None:
    with pytest.raises(StateError, match="JSON-compatible"):
        await store.set("s", "k", object())
    await store.set("s", "nan", float("nan"))
    assert await store.get("s", "nan") is None
    # NaN first, then a function: the NaN retry must not let the TypeError escape unwrapped
    with pytest.raises(StateError, match="JSON-compatible"):
        await store.set("s", "mixed", {"a": float("nan"), "b": print})
    assert await store.get("s", "mixed") is None
    await store.set("s", "nested", {"xs": [1.5, float("inf"), {"k": float("-inf")}], 2: "two"})
    assert await store.get("s", "nested") == {"xs": [1.5, None, {"k": None}], "2": "two"}


def test_sqlite_file_lives_under_workspace_llmspell(tmp_path: Path) -> None:
    s = StateStore.from_config(StateConfig(), workspace=tmp_path)
    s.set_sync("a", "b", 1)
    s.close()
    assert (tmp_path / ".llmspell" / "state.db").is_file()
    with pytest.raises(StateError, match="closed"):
        s.get_sync("a", "b")


def test_unknown_backend_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sqlite"):  # the configuration itself refuses it now
        StateConfig(backend="redis")  # type: ignore[arg-type]
    with pytest.raises(StateError, match="expected 'sqlite' or 'memory'"):
        StateStore.from_config(StateConfig.model_construct(backend="redis", path=None), workspace=tmp_path)


async def test_values_persist_across_instances_and_processes(tmp_path: Path) -> None:
    cfg = StateConfig(path=str(tmp_path / "db" / "s.db"))
    a = StateStore.from_config(cfg, workspace=tmp_path)
    await a.set("workflow:w1", "step1", {"out": "hello"})
    a.close()
    b = StateStore.from_config(cfg, workspace=tmp_path)
    assert await b.get("workflow:w1", "step1") == {"out": "hello"}
    b.close()
    # a different process sees it too (and can write back)
    code = (
        "import sys; from pathlib import Path; from llmspell.config import StateConfig;"
        "from llmspell.state.store import StateStore;"
        f"s = StateStore.from_config(StateConfig(path={str(cfg.path)!r}), workspace=Path('.'));"
        "print(s.get_sync('workflow:w1', 'step1')['out']); s.set_sync('proc', 'k', 'from child'); s.close()"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "hello"
    c = StateStore.from_config(cfg, workspace=tmp_path)
    assert c.get_sync("proc", "k") == "from child"
    c.close()


async def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    s = StateStore(SqliteBackend(tmp_path / "c.db"))

    async def task_writer(i: int) -> None:
        for j in range(10):
            await s.set("tasks", f"{i}:{j}", {"i": i, "j": j})
            await asyncio.sleep(0)

    def thread_writer(t: int) -> None:
        for j in range(100):
            s.set_sync("threads", f"{t}:{j}", j)

    threads = [threading.Thread(target=thread_writer, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    await asyncio.gather(*(task_writer(i) for i in range(100)))
    for th in threads:
        await asyncio.to_thread(th.join)
    assert len(await s.list_keys("tasks")) == 1000
    assert len(await s.list_keys("threads")) == 800
    assert await s.get("tasks", "57:9") == {"i": 57, "j": 9}
    s.close()
    # a second connection agrees
    s2 = StateStore(SqliteBackend(tmp_path / "c.db"))
    assert len(s2.list_keys_sync("threads")) == 800
    s2.close()


async def test_state_hooks_and_events() -> None:
    rt = make_runtime()
    s = StateStore.memory(runtime=rt)  # type: ignore[arg-type]
    changes: list[tuple[str, dict[str, Any]]] = []
    rt.events.subscribe("state.*", lambda e: changes.append((e.event_type, e.data)))
    writes: list[dict[str, Any]] = []

    def before_write(ctx: HookContext) -> Any:
        writes.append(dict(ctx.data))
        if ctx.data["key"] == "forbidden":
            return {"type": "cancel", "reason": "read-only key"}
        if isinstance(ctx.data.get("value"), str):
            return {"type": "modified", "data": {**ctx.data, "value": ctx.data["value"].strip()}}
        return None

    rt.hooks.register("BeforeStateWrite", before_write)
    rt.hooks.register("AfterStateRead",
                      lambda c: {"type": "modified", "data": {**c.data, "value": f"<{c.data['value']}>"}})
    await s.set("g", "name", "  padded  ")
    assert s.get_sync("g", "name") == "padded"  # the hook changed what was stored
    assert await s.get("g", "name") == "<padded>"  # and the read hook what was returned
    with pytest.raises(HookCancelledError, match="read-only key"):
        await s.set("g", "forbidden", 1)
    assert s.get_sync("g", "forbidden") is None
    assert await s.delete("g", "name") is True
    assert changes == [("state.changed", {"scope": "g", "key": "name"}),
                       ("state.deleted", {"scope": "g", "key": "name"})]
    assert writes[-1]["delete"] is True
