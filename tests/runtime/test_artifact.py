"""Artifact: the store (blobs + index, caps, queries) and the global through real Lua and JS spells:
behaviour, session isolation, persistence across runtimes, bad input with clear errors."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from fakes import collect_run
from llmspell.artifacts.store import ArtifactQuery, ArtifactStore, parse_artifact_type, parse_time, plain_type
from llmspell.config import ArtifactsConfig, load_config
from llmspell.core.errors import ConfigurationError, ResourceLimitError, StateError, ValidationError
from llmspell.runner import SpellRunner
from llmspell.runtime import Runtime


def make_rt(ws: Path, **overrides: Any) -> Runtime:
    ws.mkdir(parents=True, exist_ok=True)
    return Runtime(workspace=ws, state="sqlite", overrides=overrides or None)


async def run(rt: Runtime, src: str, name: str = "spell.lua") -> tuple[list[str], Any]:
    text, fin, _ = await collect_run(SpellRunner(runtime=rt), rt.workspace / name, source=src)
    assert fin is not None
    return text.splitlines(), fin


def store(tmp_path: Path, **cfg: Any) -> ArtifactStore:
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    return ArtifactStore(ws, ArtifactsConfig(**cfg))


# ------------------------------------------------------------------------------------------ the store


def test_type_parsing_follows_rs_llmspell() -> None:
    assert parse_artifact_type("agent_output", "t") == "AgentOutput"
    assert parse_artifact_type("TOOL_RESULT", "t") == "ToolResult"
    assert parse_artifact_type("user_input", "t") == "UserInput"
    assert parse_artifact_type("system_generated", "t") == "SystemGenerated"
    assert parse_artifact_type("report", "t") == 'Custom("report")'
    assert plain_type('Custom("report")') == "report" and plain_type("AgentOutput") == "agent_output"
    with pytest.raises(ValidationError, match="Artifact type cannot be empty"):
        parse_artifact_type("", "t")
    with pytest.raises(ValidationError, match="'type' must be a string"):
        parse_artifact_type(3, "t")


def test_parse_time_accepts_rfc3339_and_epoch_and_names_bad_input() -> None:
    assert parse_time("1970-01-01T00:01:00Z", "q", "created_after") == 60.0
    assert parse_time(12.5, "q", "created_after") == 12.5
    with pytest.raises(ValidationError, match="'created_after' must be an RFC 3339 time"):
        parse_time("yesterday", "q", "created_after")


def test_store_get_roundtrip_is_content_addressed(tmp_path: Path) -> None:
    st = store(tmp_path)
    a = st.store("s1", "AgentOutput", "a.txt", b"same bytes", {"tags": ["x"], "mime_type": "text/plain", "k": 1})
    b = st.store("s1", "AgentOutput", "b.txt", b"same bytes", None)
    assert a["content_hash"] == b["content_hash"] == hashlib.sha256(b"same bytes").hexdigest()
    assert (a["sequence"], b["sequence"]) == (1, 2)
    blobs = [p for p in (st.root / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 1  # identical content stored once
    got = st.get(a)
    assert got is not None
    meta, data = got
    assert data == b"same bytes"
    assert meta["name"] == "a.txt" and meta["mime_type"] == "text/plain" and meta["tags"] == ["x"]
    assert meta["custom"] == {"k": 1} and meta["size"] == 10 and meta["id"] == a
    # deleting one keeps the shared blob; deleting the other removes it
    assert st.delete(a) and st.get(a) is None
    assert [p for p in (st.root / "blobs").rglob("*") if p.is_file()]
    assert st.delete(b)
    assert not [p for p in (st.root / "blobs").rglob("*") if p.is_file()]
    assert not st.delete(b)
    st.close()


def test_sequence_is_never_reused_after_delete(tmp_path: Path) -> None:
    st = store(tmp_path)
    a = st.store("s", "UserInput", "a", b"1", None)
    st.delete(a)
    assert st.store("s", "UserInput", "b", b"2", None)["sequence"] == 2
    st.close()


def test_corrupt_blob_is_reported_not_returned(tmp_path: Path) -> None:
    st = store(tmp_path)
    a = st.store("s", "UserInput", "a", b"original", None)
    blob = st.root / "blobs" / a["content_hash"][:2] / a["content_hash"]
    blob.write_bytes(b"tampered")
    with pytest.raises(StateError, match="corrupt"):
        st.get(a)
    st.close()


def test_size_caps_name_their_config_key(tmp_path: Path) -> None:
    st = store(tmp_path, max_artifact_bytes=10, max_session_bytes=15, max_total_bytes=25)
    with pytest.raises(ResourceLimitError, match=r"\[artifacts\] max_artifact_bytes"):
        st.store("s", "UserInput", "big", b"x" * 11, None)
    st.store("s", "UserInput", "a", b"x" * 10, None)
    with pytest.raises(ResourceLimitError, match="max_session_bytes"):
        st.store("s", "UserInput", "b", b"x" * 6, None)
    st.store("t", "UserInput", "c", b"x" * 10, None)
    with pytest.raises(ResourceLimitError, match="max_total_bytes"):
        st.store("u", "UserInput", "d", b"x" * 6, None)
    st.close()


def test_query_filters(tmp_path: Path) -> None:
    st = store(tmp_path)
    st.store("s1", "AgentOutput", "Results-1.json", b"{}", {"tags": ["processed", "x"]})
    st.store("s1", 'Custom("data")', "notes.md", b"hello", {"tags": ["processed"]})
    st.store("s2", "AgentOutput", "results-2.json", b"[1,2,3]", None)
    names = lambda q: [m["name"] for m in st.query(q)]  # noqa: E731
    assert names(ArtifactQuery(name_pattern="RESULT")) == ["results-2.json", "Results-1.json"]  # newest first
    assert names(ArtifactQuery(name_pattern="results*")) == ["results-2.json", "Results-1.json"]
    assert names(ArtifactQuery(session_id="s1")) == ["notes.md", "Results-1.json"]
    assert names(ArtifactQuery(artifact_type='Custom("data")')) == ["notes.md"]
    assert names(ArtifactQuery(tags=["processed", "x"])) == ["Results-1.json"]
    assert names(ArtifactQuery(min_size=5)) == ["results-2.json", "notes.md"]
    assert names(ArtifactQuery(max_size=2)) == ["Results-1.json"]
    assert names(ArtifactQuery(limit=1)) == ["results-2.json"]
    assert names(ArtifactQuery(created_after=4102444800.0)) == []  # 2100
    assert [m["name"] for m in st.list_session("s2")] == ["results-2.json"]
    st.close()


def test_store_folder_cannot_be_redirected_by_a_planted_link(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / ".llmspell").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, ws / ".llmspell" / "artifacts")
    with pytest.raises(StateError, match=r"cannot open the artifact index .*symbolic link"):
        ArtifactStore(ws, ArtifactsConfig())
    assert not any(outside.iterdir())


def test_config_section_validates_bounds(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    cfg = load_config(ws, overrides={"artifacts": {"max_artifact_bytes": 5}}, environ={})
    assert cfg.artifacts.max_artifact_bytes == 5
    with pytest.raises(ConfigurationError, match=r"artifacts\.max_artifact_bytes"):
        load_config(ws, overrides={"artifacts": {"max_artifact_bytes": 0}}, environ={})
    with pytest.raises(ConfigurationError, match="unknown key"):
        load_config(ws, overrides={"artifacts": {"max_bytes": 5}}, environ={})


# ------------------------------------------------------------------------------------------ the global


async def test_store_get_list_delete_in_lua(tmp_path: Path) -> None:
    rt = make_rt(tmp_path / "ws")
    lines, fin = await run(rt, """
        local sid = Session.get_current()
        local id = Artifact.store(sid, "data", "results.json", '{"data": "results"}',
                                  {created_by = "processor", version = "1.0", tags = {"processed"}})
        print(id.session_id == sid, id.sequence, #id.content_hash)
        local a = Artifact.get(sid, id)
        print(a.content, a.metadata.artifact_type, a.metadata.type, a.metadata.custom.version,
              a.metadata.custom.created_by, a.metadata.tags[1], a.metadata.size)
        local list = Artifact.list(sid)
        print(#list, list[1].name, list[1].id.sequence)
        print(#Artifact.list(""), #Artifact.list())
        local again = Artifact.get(sid, list[1])   -- a list entry works as the id
        print(again.content == a.content)
        Artifact.delete(sid, id)
        print(#Artifact.list(sid))
        local ok, err = pcall(Artifact.get, sid, id)
        print(ok, err.kind, tostring(err):find("Artifact not found", 1, true) ~= nil)
    """)
    assert fin.status == "success", fin.error
    assert lines == ["true\t1\t64",
                     '{"data": "results"}\tCustom("data")\tdata\t1.0\tprocessor\tprocessed\t19',
                     "1\tresults.json\t1", "1\t1", "true", "0", "false\tvalidation\ttrue"]
    await rt.shutdown()


async def test_sessions_are_isolated_but_query_sees_all(tmp_path: Path) -> None:
    rt = make_rt(tmp_path / "ws")
    lines, fin = await run(rt, """
        local mine = Session.get_current()
        local other = Session.create({name = "other"})
        local a = Artifact.store(mine, "user_input", "mine.txt", "mine")
        local b = Artifact.store(other, "user_input", "theirs.txt", "theirs")
        print(#Artifact.list(mine), Artifact.list(mine)[1].name, #Artifact.list(other), Artifact.list(other)[1].name)
        local ok, err = pcall(Artifact.get, mine, b)
        print(ok, err.kind, tostring(err):find("does not have read permission", 1, true) ~= nil)
        ok, err = pcall(Artifact.delete, other, a)
        print(ok, err.kind, tostring(err):find("does not have delete permission", 1, true) ~= nil)
        print(#Artifact.query({}), #Artifact.query({session_id = other}), Artifact.query({session_id = other})[1].name)
        print(Artifact.get(other, b).content)
    """)
    assert fin.status == "success", fin.error
    assert lines == ["1\tmine.txt\t1\ttheirs.txt", "false\tsecurity\ttrue", "false\tsecurity\ttrue",
                     "2\t1\ttheirs.txt", "theirs"]
    await rt.shutdown()


async def test_artifacts_persist_across_runs_and_runtimes(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    rt = make_rt(ws)
    lines, fin = await run(rt, """
        local sid = Session.get_current()
        local id = Artifact.store(sid, "agent_output", "report.md", "# Report\\nall good", {tags = {"weekly"}})
        State.save("global", "artifact", id)
        print("stored")
    """)
    assert fin.status == "success", fin.error
    await rt.shutdown()

    rt2 = make_rt(ws)
    lines, fin = await run(rt2, """
        local id = State.load("global", "artifact")
        -- the earlier run's session still reads its artifacts
        local a = Artifact.get(id.session_id, id)
        print(a.content:gsub("\\n", "|"), a.metadata.tags[1])
        print(#Artifact.list(id.session_id), #Artifact.query({tags = {"weekly"}}))
        -- but the new run's session is another session
        local ok, err = pcall(Artifact.get, Session.get_current(), id)
        print(ok, err.kind)
        print(#Artifact.list(Session.get_current()))
    """)
    assert fin.status == "success", fin.error
    assert lines == ["# Report|all good\tweekly", "1\t1", "false\tsecurity", "0"]
    await rt2.shutdown()


async def test_bad_input_gives_clear_errors(tmp_path: Path) -> None:
    rt = make_rt(tmp_path / "ws", artifacts={"max_artifact_bytes": 8})
    lines, fin = await run(rt, """
        local sid = Session.get_current()
        local function try(f, ...)
          local ok, err = pcall(f, ...)
          print(ok and "ok" or (err.kind .. ": " .. err.message))
        end
        try(Artifact.store, "session_nope", "data", "x", "y")
        try(Artifact.store, sid, "", "x", "y")
        try(Artifact.store, sid, "data", "", "y")
        try(Artifact.store, sid, "data", "x", {1, 2})
        try(Artifact.store, sid, "data", "x", "y", {mime_type = "plain"})
        try(Artifact.store, sid, "data", "x", "123456789")
        try(Artifact.get, sid, {content_hash = "ab"})
        try(Artifact.get, sid, "not-an-id")
        try(Artifact.list, "session_nope")
        try(Artifact.query, {bogus = 1})
        try(Artifact.query, {created_after = "last week"})
        try(Artifact.query, {limit = -1})
        local done = Session.create({})
        Session.complete(done)
        try(Artifact.store, done, "data", "x", "y")
    """)
    assert fin.status == "success", fin.error
    assert lines[0].startswith("validation: Artifact.store: Invalid session ID: 'session_nope'")
    assert lines[1] == "validation: Artifact.store: Artifact type cannot be empty"
    assert lines[2].startswith("validation: Artifact.store: 'name' must be a non-empty string")
    assert lines[3].startswith("validation: Artifact.store: 'content' must be a string")
    assert lines[4].startswith('validation: Artifact.store: Invalid MIME type: "plain"')
    assert lines[5].startswith("resource_limit: Artifact size 9 exceeds maximum of 8 bytes")
    assert "[artifacts] max_artifact_bytes" in lines[5]
    assert lines[6].startswith("validation: Artifact.get: 'artifact_id' is missing session_id, sequence")
    assert lines[7].startswith("validation: Artifact.get: 'artifact_id' must be the id table")
    assert lines[8].startswith("validation: Artifact.list: Invalid session ID: 'session_nope'")
    assert lines[9].startswith("validation: Artifact.query: unknown filter bogus")
    assert lines[10].startswith("validation: Artifact.query: 'created_after' must be an RFC 3339 time")
    assert lines[11].startswith("validation: Artifact.query: 'limit' must be a non-negative integer")
    assert "cannot store artifacts in session" in lines[12] and "completed" in lines[12]
    await rt.shutdown()


async def test_store_file_reads_through_the_path_gate(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "data").mkdir()
    (ws / "data" / "report.csv").write_text("a,b\n1,2\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    os.symlink(secret, ws / "data" / "link.txt")
    rt = make_rt(ws)
    lines, fin = await run(rt, f"""
        local sid = Session.get_current()
        local id = Artifact.store_file(sid, "data/report.csv", "tool_result", {{mime_type = "text/csv"}})
        local a = Artifact.get(sid, id)
        print(a.metadata.name, a.metadata.mime_type, (a.content:gsub("\\n", "|")))
        for _, p in ipairs({{{json.dumps(str(secret))}, "data/link.txt", "../secret.txt"}}) do
          local ok, err = pcall(Artifact.store_file, sid, p, "data")
          print(ok, err.kind)
        end
        local ok, err = pcall(Artifact.store_file, sid, "data/missing.txt", "data")
        print(ok, err.message)
        print(#Artifact.list(sid))
    """)
    assert fin.status == "success", fin.error
    assert lines[0] == "report.csv\ttext/csv\ta,b|1,2|"
    assert lines[1:4] == ["false\tsecurity"] * 3
    assert lines[4] == "false\tArtifact.store_file: no such file: data/missing.txt"
    assert lines[5] == "1"
    await rt.shutdown()


async def test_binary_content_via_base64_and_events(tmp_path: Path) -> None:
    rt = make_rt(tmp_path / "ws")
    seen: list[str] = []
    rt.events.subscribe("session.artifact_*", lambda ev: seen.append(ev.event_type))
    lines, fin = await run(rt, """
        const sid = Session.getCurrent();
        const id = await Artifact.store(sid, "tool_result", "blob.bin", "AP9hYg==", {content_encoding: "base64"});
        const a = await Artifact.get(sid, id);
        console.log(a.metadata.size, a.content_base64);
        const t = await Artifact.store(sid, "user_input", "t.txt", "héllo", {tags: ["x"]});
        const b = await Artifact.get(sid, t);
        console.log(b.content, b.content_base64 === undefined, b.metadata.type);
        const q = await Artifact.query({type: "user_input", tags: ["x"]});
        console.log(q.length, q[0].name);
        await Artifact.delete(sid, t);
        console.log((await Artifact.list(sid)).length);
        try { await Artifact.store(sid, "data", "x", "!!", {content_encoding: "base64"}); }
        catch (e) { console.log(e.kind, e.message); }
    """, name="spell.js")
    assert fin.status == "success", fin.error
    assert lines == ["4 AP9hYg==", "héllo true user_input", "1 t.txt", "1",
                     'validation Artifact.store: content is not valid base64 (metadata.content_encoding = "base64")']
    assert seen.count("session.artifact_stored") == 2 and seen.count("session.artifact_deleted") == 1
    await rt.shutdown()


def test_metadata_json_shape_matches_rs_llmspell(tmp_path: Path) -> None:
    st = store(tmp_path)
    a = st.store("s", "SystemGenerated", "n", b"x", None)
    meta = st.get(a)[0]  # type: ignore[index]
    rs_keys = {"name", "description", "artifact_type", "mime_type", "size", "tags", "custom", "version",
               "created_at", "created_by", "parent_artifact", "is_compressed", "original_size"}
    assert rs_keys <= set(meta)
    assert meta["mime_type"] == "application/octet-stream" and meta["version"] == 1
    assert meta["created_at"].endswith("+00:00")
    json.dumps(meta)
    st.close()
