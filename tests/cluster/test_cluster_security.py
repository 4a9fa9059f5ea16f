"""The cluster is no way around the sandbox: workers apply the run's policy, and the run's socket
answers only the run's own workers.

Attack first: a shipped function reads a file outside the workspace, reads a secret from the
environment, and a tool step reads outside the workspace; each must fail on the worker exactly as it
fails in-process. A stranger connecting to the run's State socket without the token gets nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from conftest import Shared, run_spell

from llmspell.cluster.link import RunLink
from llmspell.state.store import MemoryBackend

ESCAPES = """
local wf = Workflow.builder():name("escape"):map_reduce():items({"file", "env", "tool"})
  :map_step({name = "try", type = "function", fn = function(what)
      if what == "file" then
        local f, err = io.open("/etc/hostname", "r")
        return {opened = f ~= nil, err = err and err:gsub("^.-: ", "") or nil}
      elseif what == "env" then
        return {value = os.getenv("LLMSPELL_TEST_SECRET")}
      else
        local ok, e = pcall(Tool.execute, "file-operations", {operation = "read", path = "/etc/hostname"})
        return {ok = ok, kind = type(e) == "table" and e.kind or nil}
      end
    end})
  :build()
return wf:execute({}).outputs.try
"""


@pytest.mark.slow
async def test_workers_apply_the_runs_policy(tmp_path: Path, shared_cluster: Shared,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSPELL_TEST_SECRET", "s3cret")
    local = await run_spell(tmp_path / "a", ESCAPES, cluster=None)
    remote = await run_spell(tmp_path / "b", ESCAPES, cluster=shared_cluster.address)
    assert local.fin.status == "success", local.fin.error
    assert remote.fin.status == "success", remote.fin.error
    file_, env, tool = remote.fin.result
    assert file_["opened"] is False and file_["err"], file_
    assert env == {} or env.get("value") is None  # no secret reached the worker-side spell
    assert tool["ok"] is False, tool
    # the same refusals, word for word (each run names its own workspace)
    same = json.dumps(remote.fin.result, sort_keys=True).replace(str(tmp_path / "b"), "WS")
    assert same == json.dumps(local.fin.result, sort_keys=True).replace(str(tmp_path / "a"), "WS")


async def test_run_socket_answers_only_with_the_token() -> None:
    backend = MemoryBackend()
    backend.set("state:k", json.dumps("v"))

    async def ignore(msg: dict[str, object]) -> None:
        return None

    link = RunLink(backend, "right-token", ignore)
    host, port = await link.start("127.0.0.1")
    try:
        async def ask(token: str) -> bytes:
            r, w = await asyncio.open_connection(host, port)
            w.write(json.dumps({"op": "hello", "token": token, "role": "rpc"}).encode() + b"\n")
            w.write(json.dumps({"id": 1, "op": "state.get", "key": "state:k"}).encode() + b"\n")
            await w.drain()
            try:
                return await asyncio.wait_for(r.readline(), 5)
            finally:
                w.close()

        assert await ask("wrong-token") == b""  # closed without an answer
        assert json.loads(await ask("right-token")) == {"id": 1, "ok": True, "value": json.dumps("v")}
    finally:
        link.close()
