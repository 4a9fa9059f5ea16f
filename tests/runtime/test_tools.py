"""The tool registry and the core builtin tools: result shapes scripts read, and the failure paths."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from llmspell.api.shapes import output_table
from llmspell.core.errors import (
    HookCancelledError,
    SecurityViolationError,
    ToolError,
    ToolNotFoundError,
    ValidationError,
)
from llmspell.core.types import HookResult
from llmspell.runtime import Runtime
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams
from llmspell.tools.catalog import tool_categories, tool_infos
from llmspell.tools.registry import ToolRegistry


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    return Runtime(workspace=tmp_path, state="memory")


async def call(rt: Runtime, tool: str, /, **params: Any) -> dict[str, Any]:
    out = await rt.tools.execute(tool, params)
    return output_table(out.text, out.metadata)


# ------------------------------------------------------------------------------------------ registry


def test_registry_lists_core_tools_without_running_them(rt: Runtime) -> None:
    names = {t["name"] for t in rt.tools.list()}
    assert {"file-operations", "uuid-generator", "hash-calculator", "base64-encoder", "calculator",
            "text-manipulator", "datetime-handler"} <= names
    entry = next(t for t in rt.tools.list() if t["name"] == "calculator")
    assert entry["category"] == "utility" and entry["version"] and entry["description"]
    assert "filesystem" in rt.tools.categories()
    assert [t["name"] for t in rt.tools.discover(category="filesystem")][:1] == ["file-operations"] or \
        "file-operations" in [t["name"] for t in rt.tools.discover(category="filesystem")]
    assert "hash-calculator" in [t["name"] for t in rt.tools.discover(tag="hash")]
    assert "hash-calculator" not in [t["name"] for t in rt.tools.discover(category="filesystem", tag="hash")]


def test_registry_startup_is_lazy(rt: Runtime) -> None:
    reg = ToolRegistry(rt)
    assert reg._instances == {} and reg._classes == {}
    listed = reg.list()  # described from the manifest: no tool module imported
    assert len(listed) >= 7 and reg._classes == {}
    assert reg.get("uuid-generator") is reg.get("uuid-generator")
    assert set(reg._classes) == {"uuid-generator"}


async def test_unknown_tool_is_not_found_with_suggestion(rt: Runtime) -> None:
    with pytest.raises(ToolNotFoundError, match=r"Tool 'uuid-genrator' not found\. Did you mean 'uuid-generator'"):
        await rt.tools.execute("uuid-genrator", {})
    with pytest.raises(ToolNotFoundError, match="Tool 'zzzz' not found"):
        await rt.tools.execute("zzzz", {})


async def test_underscore_names_resolve(rt: Runtime) -> None:
    r = await call(rt, "hash_calculator", operation="hash", input="abc")
    assert r["result"]["hash"] == hashlib.sha256(b"abc").hexdigest()
    assert rt.tools.exists("uuid_generator") and not rt.tools.exists("nope")


async def test_validation_error_names_parameter_and_expected_values(rt: Runtime) -> None:
    with pytest.raises(ValidationError) as ei:
        await rt.tools.execute("file-operations", {"operation": "reed", "path": "x"})
    msg = str(ei.value)
    assert msg.startswith("file-operations: parameter 'operation': expected one of read, write, append")
    assert "got 'reed'" in msg
    with pytest.raises(ValidationError, match="text-manipulator: parameter 'input' is required"):
        await rt.tools.execute("text-manipulator", {"operation": "uppercase"})
    with pytest.raises(ValidationError, match=r"calculator: parameter 'variables\.x': expected"):
        await rt.tools.execute("calculator", {"input": "x", "variables": {"x": "abc"}})


async def test_events_and_hooks_around_a_tool_call(rt: Runtime) -> None:
    events: list[Any] = []
    rt.events.subscribe("tool.*", lambda e: events.append(e))
    seen: dict[str, Any] = {}

    def before(ctx: Any) -> HookResult:
        seen["before"] = dict(ctx.data)
        params = dict(ctx.data["parameters"], input="modified")
        return HookResult(kind="modified", data={**ctx.data, "parameters": params})

    def after(ctx: Any) -> None:
        seen["after"] = ctx.data

    rt.hooks.register("BeforeToolExecution", before)
    rt.hooks.register("AfterToolExecution", after)
    r = await call(rt, "hash-calculator", operation="hash", input="original")
    assert r["result"]["hash"] == hashlib.sha256(b"modified").hexdigest()
    assert seen["before"]["tool"] == "hash-calculator"
    assert seen["after"]["result"]["result"]["hash"] == r["result"]["hash"]
    types = [e.event_type for e in events]
    assert types == ["tool.started", "tool.completed"]
    assert events[0].data["tool"] == "hash-calculator" and events[0].data["parameter_keys"] == ["operation", "input"]
    assert events[1].data["success"] is True and events[1].correlation_id == events[0].correlation_id


async def test_hook_can_cancel_and_error_event_fires(rt: Runtime) -> None:
    events: list[str] = []
    rt.events.subscribe("tool.*", lambda e: events.append(e.event_type))
    h = rt.hooks.register("BeforeToolExecution", lambda c: HookResult(kind="cancel", reason="not today"))
    with pytest.raises(HookCancelledError, match="not today"):
        await rt.tools.execute("uuid-generator", {})
    assert events == ["tool.started", "tool.failed"]
    h.unregister()
    errors: list[dict[str, Any]] = []
    rt.hooks.register("ToolError", lambda c: errors.append(dict(c.data)))
    with pytest.raises(ToolError):
        await rt.tools.execute("file-operations", {"operation": "read", "path": "missing.txt"})
    assert errors and errors[0]["tool"] == "file-operations" and "missing.txt" in errors[0]["error"]


async def test_tool_validation_hook_can_rewrite_or_reject(rt: Runtime) -> None:
    rt.hooks.register("ToolValidation", lambda c: HookResult(
        kind="modified", data={"parameters": {**c.data["parameters"], "operation": "uppercase"}}))
    r = await call(rt, "text-manipulator", input="abc", operation="reverse")
    assert r["result"]["result"] == "ABC"
    rt.hooks.clear()
    rt.hooks.register("ToolValidation", lambda c: HookResult(kind="cancel", reason="no secrets"))
    with pytest.raises(ValidationError, match="rejected by a ToolValidation hook: no secrets"):
        await rt.tools.execute("uuid-generator", {})


async def test_security_level_permission_check(rt: Runtime) -> None:
    violations: list[Any] = []
    rt.events.subscribe("security.violation", lambda e: violations.append(e.data))
    rt.tools.max_security_level = "safe"
    with pytest.raises(SecurityViolationError, match="needs security level 'restricted'"):
        await rt.tools.execute("file-operations", {"operation": "exists", "path": "a"})
    assert violations and violations[0]["tool"] == "file-operations"
    assert (await call(rt, "uuid-generator"))["success"] is True


def test_security_level_limit_comes_from_configuration(tmp_path: Path) -> None:
    rt = Runtime(workspace=tmp_path, state="memory", overrides={"security": {"max_tool_security_level": "restricted"}})
    assert rt.tools.max_security_level == "restricted"
    assert Runtime(workspace=tmp_path, state="memory").tools.max_security_level == "privileged"


async def test_register_custom_tool_and_minimal_base_class(rt: Runtime) -> None:
    class EchoParams(ToolParams):
        input: str

    class Echo(BuiltinTool):
        name = "echo"
        description = "Echo"
        Params = EchoParams

        async def run(self, params: EchoParams, ctx: ToolContext) -> dict[str, Any]:
            return {"echoed": params.input, "caller": ctx.caller}

    rt.tools.register(Echo(rt))
    out = await rt.tools.execute("echo", {"input": "hi"}, caller="test")
    r = output_table(out.text, out.metadata)
    assert r["success"] is True and r["operation"] == "echo" and r["result"] == {"echoed": "hi", "caller": "test"}
    assert Echo.parameters_schema()["required"] == ["input"]
    with pytest.raises(ValidationError, match="already exists"):
        rt.tools.register(Echo(rt))


def test_builtin_manifest_is_fresh() -> None:
    from llmspell.tools.catalog import MANIFEST_PATH, manifest_json

    assert MANIFEST_PATH.read_text(encoding="utf-8") == manifest_json(), (
        "tools/builtin/manifest.json is stale: run `python -m llmspell.tools.catalog`")


def test_stale_manifest_entry_falls_back_to_the_class(rt: Runtime) -> None:
    reg = ToolRegistry(rt)
    reg._manifest = {"calculator": {"name": "calculator", "description": "OLD", "category": "x",
                                    "spec": "elsewhere:Old"}}
    entry = next(t for t in reg.list() if t["name"] == "calculator")
    assert entry["description"] != "OLD" and entry["category"] == "utility"


def test_catalog_describes_parameters_for_the_language_server() -> None:
    infos = {t.name: t for t in tool_infos()}
    fo = infos["file-operations"]
    assert fo.category == "filesystem" and fo.security_level == "restricted"
    op = next(p for p in fo.parameters if p.name == "operation")
    assert op.required and op.type == "string" and "read" in (op.values or []) and op.description
    rec = next(p for p in fo.parameters if p.name == "recursive")
    assert rec.type == "boolean" and rec.default is False and not rec.required
    calc = infos["calculator"]
    assert next(p for p in calc.parameters if p.name == "operation").default == "evaluate"
    assert "utility" in tool_categories() and "filesystem" in tool_categories()
    assert fo.schema_["properties"]["operation"]["enum"][0] == "read"


# ------------------------------------------------------------------------------------------ tools


async def test_file_operations_plain_text_shape(rt: Runtime, tmp_path: Path) -> None:
    w = await call(rt, "file-operations", operation="write", path="notes/a.txt", input="hello world")
    assert w["text"] == f"Wrote 11 bytes to {tmp_path / 'notes/a.txt'}"
    assert w["metadata"]["operation"] == "write" and w["metadata"]["response"]["success"] is True
    r = await call(rt, "file-operations", operation="read", path="notes/a.txt")
    assert r["text"] == "hello world"
    assert r["metadata"]["response"]["result"] == {"input": "hello world", "size": 11}
    assert r["metadata"]["response"]["metadata"]["file_size"] == 11
    a = await call(rt, "file-operations", operation="append", path="notes/a.txt", input="!")
    assert a["metadata"]["response"]["result"] == {"appended_size": 1}
    assert (tmp_path / "notes/a.txt").read_text() == "hello world!"
    ls = await call(rt, "file-operations", operation="ls", path="notes")
    assert ls["metadata"]["response"]["result"]["count"] == 1 and ls["text"] == "a.txt"
    cp = await call(rt, "file-operations", operation="copy", source_path="notes/a.txt", target_path="b.txt")
    assert cp["metadata"]["response"]["result"]["target"] == str(tmp_path / "b.txt")
    ex = await call(rt, "file-operations", operation="exists", path="b.txt")
    assert ex["text"].endswith("exists") and ex["metadata"]["response"]["result"] == {"exists": True}
    await call(rt, "file-operations", operation="delete", path="b.txt")
    ex = await call(rt, "file-operations", operation="exists", path="b.txt")
    assert ex["metadata"]["response"]["result"] == {"exists": False}


async def test_file_operations_failures(rt: Runtime, tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="no such file"):
        await rt.tools.execute("file-operations", {"operation": "read", "path": "nope.txt"})
    with pytest.raises(SecurityViolationError, match="outside the allowed paths"):
        await rt.tools.execute("file-operations", {"operation": "read", "path": "../../etc/passwd"})
    with pytest.raises(ValidationError, match="needs parameter 'path'"):
        await rt.tools.execute("file-operations", {"operation": "read"})
    (tmp_path / "plain.txt").write_text("x")  # a file where a directory is needed: the write fails
    out = await rt.tools.execute("file-operations", {"operation": "write", "path": "plain.txt/x.txt", "input": "x"})
    r = output_table(out.text, out.metadata)
    assert out.success is False and r["metadata"]["response"]["success"] is False
    assert r["text"].startswith("Failed to write")


async def test_uuid_generator(rt: Runtime) -> None:
    r = await call(rt, "uuid-generator")
    assert r["success"] is True and uuid.UUID(r["result"]["uuid"]).version == 4
    assert r["result"]["version"] == "v4" and r["result"]["format"] == "standard"
    s = await call(rt, "uuid-generator", format="simple")
    assert re.fullmatch(r"[0-9a-f]{32}", s["result"]["uuid"])
    v5 = await call(rt, "uuid-generator", version="v5", namespace="dns", name="example.com")
    assert v5["result"]["uuid"] == str(uuid.uuid5(uuid.NAMESPACE_DNS, "example.com"))
    cid = await call(rt, "uuid-generator", operation="component_id", prefix="agent", short=True)
    assert re.fullmatch(r"agent_[0-9a-f]{8}", cid["result"]["id"])
    ok = await call(rt, "uuid-generator", operation="validate", uuid=v5["result"]["uuid"])
    assert ok["result"]["valid"] is True and ok["result"]["version"] == 5
    bad = await call(rt, "uuid-generator", operation="validate", uuid="not-a-uuid")
    assert bad["result"]["valid"] is False and bad["result"]["error"]


async def test_hash_calculator(rt: Runtime, tmp_path: Path) -> None:
    r = await call(rt, "hash-calculator", operation="hash", algorithm="md5", input="abc")
    assert r["result"] == {"algorithm": "md5", "hash": hashlib.md5(b"abc").hexdigest(), "format": "hex"}
    b = await call(rt, "hash-calculator", operation="hash", input="abc", format="base64")
    assert b["result"]["hash"] == base64.b64encode(hashlib.sha256(b"abc").digest()).decode()
    (tmp_path / "f.bin").write_bytes(b"\x00\x01data")
    f = await call(rt, "hash-calculator", operation="hash", input_type="file", input="f.bin", algorithm="sha512")
    assert f["result"]["hash"] == hashlib.sha512(b"\x00\x01data").hexdigest()
    expected = hashlib.sha256(b"abc").hexdigest()
    v = await call(rt, "hash-calculator", operation="verify", input="abc", expected_hash=expected)
    assert v["result"]["verified"] is True
    v = await call(rt, "hash-calculator", operation="verify", input="abd", expected_hash=expected)
    assert v["result"]["verified"] is False
    with pytest.raises(ValidationError, match=r"parameter 'algorithm': expected a hash algorithm: "
                                              r"one of md5, sha1, sha256, sha512 .*got 'sha3'"):
        await rt.tools.execute("hash-calculator", {"operation": "hash", "input": "a", "algorithm": "sha3"})


async def test_base64_encoder(rt: Runtime) -> None:
    e = await call(rt, "base64-encoder", operation="encode", input="hello?>")
    assert e["result"] == {"output": "aGVsbG8/Pg==", "variant": "standard", "binary": False}
    u = await call(rt, "base64-encoder", operation="encode", input="hello?>", variant="url-safe")
    assert u["result"]["output"] == "aGVsbG8_Pg=="
    d = await call(rt, "base64-encoder", operation="decode", input="aGVsbG8/Pg==")
    assert d["result"]["output"] == "hello?>"
    bi = await call(rt, "base64-encoder", operation="encode", input="00ff", binary_input=True)
    assert bi["result"]["output"] == base64.b64encode(b"\x00\xff").decode()
    back = await call(rt, "base64-encoder", operation="decode", input=bi["result"]["output"])
    assert back["result"] == {"output": "00ff", "variant": "standard", "binary": True}
    with pytest.raises(ToolError, match="not valid standard Base64"):
        await rt.tools.execute("base64-encoder", {"operation": "decode", "input": "***"})


async def test_calculator_is_safe_and_shapes_results(rt: Runtime) -> None:
    r = await call(rt, "calculator", input="2^10 + x * 3", variables={"x": 2})
    assert r["success"] is True and r["result"]["result"] == 1030 and r["result"]["result_type"] == "integer"
    assert r["result"]["input"] == "2^10 + x * 3" and r["result"]["variables"] == {"x": 2}
    assert "evaluation_time_ms" in r["resource_usage"]
    f = await call(rt, "calculator", input="sqrt(16) + log(100) + max(1, 7)")
    assert f["result"]["result"] == 13.0 and f["result"]["result_type"] == "float"
    assert (await call(rt, "calculator", input="3 > 2 and 1 == 1"))["result"]["result"] is True
    for evil in ("__import__('os').system('true')", "().__class__", "open('x')", "[1,2]", "'a'*10", "lambda: 1",
                 "9**9**9", "x.__dict__"):
        bad = await call(rt, "calculator", input=evil)
        assert bad["success"] is False and bad["error"]["message"].startswith("Evaluation failed")
    z = await call(rt, "calculator", input="1/0")
    assert z["success"] is False and "division by zero" in z["error"]["message"]
    v = await call(rt, "calculator", operation="validate", input="1 +")
    assert v["result"]["valid"] is False and "syntax" in v["result"]["error"]
    fns = await call(rt, "calculator", operation="functions")
    assert "sqrt" in fns["result"]["functions"]


async def test_text_manipulator(rt: Runtime) -> None:
    cases = [
        ("uppercase", "Hello World", {}, "HELLO WORLD"),
        ("snake_case", "Hello World", {}, "hello_world"),
        ("camel_case", "hello big world", {}, "helloBigWorld"),
        ("pascal_case", "hello_big_world", {}, "HelloBigWorld"),
        ("replace", "a-b-c", {"from": "-", "to": "+"}, "a+b+c"),
        ("substring", "abcdef", {"start": 1, "end": 3}, "bc"),
        ("split", "a,b,c", {"separator": ","}, ["a", "b", "c"]),
        ("truncate", "abcdefghij", {"length": 6}, "abc..."),
        ("normalize_whitespace", "  a   b \n c ", {}, "a b c"),
        ("reverse", "abc", {}, "cba"),
    ]
    for op, text, opts, expected in cases:
        r = await call(rt, "text-manipulator", operation=op, input=text, options=opts)
        assert r["result"]["result"] == expected, op
        assert r["result"]["operation"] == op and r["result"]["original_length"] == len(text)
    with pytest.raises(ValidationError, match=r"needs options\.from"):
        await rt.tools.execute("text-manipulator", {"operation": "replace", "input": "x"})


async def test_datetime_handler(rt: Runtime) -> None:
    p = await call(rt, "datetime-handler", operation="parse", input="2024-01-15T10:30:00Z")
    assert p["result"]["parsed"]["year"] == 2024 and p["result"]["parsed"]["timestamp"] == 1705314600
    assert p["result"]["parsed"]["utc"] == "2024-01-15T10:30:00Z"
    c = await call(rt, "datetime-handler", operation="convert_timezone", input="2024-07-01T12:00:00Z",
                   target_timezone="Europe/Paris")
    assert c["result"]["converted"] == "2024-07-01T14:00:00+02:00"
    a = await call(rt, "datetime-handler", operation="add", input="2024-02-28T00:00:00Z", amount=2, unit="days")
    assert a["result"]["result"].startswith("2024-03-01T00:00:00")
    d = await call(rt, "datetime-handler", operation="difference", start="2024-01-01T00:00:00Z",
                   end="2024-01-02T01:30:00Z")
    assert d["result"]["difference"]["total_seconds"] == 91800
    assert d["result"]["difference"]["human_readable"] == "1 day, 1 hour, 30 minutes"
    n = await call(rt, "datetime-handler", operation="now")
    assert n["result"]["timezone"] == "UTC" and n["result"]["datetime"].endswith("Z")
    i = await call(rt, "datetime-handler", operation="info", input="2024-02-10")
    assert i["result"]["info"]["is_leap_year"] is True and i["result"]["info"]["days_in_month"] == 29
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Base'"):
        await rt.tools.execute("datetime-handler", {"operation": "now", "timezone": "Mars/Base"})
    with pytest.raises(ValidationError, match="cannot parse 'yesterday-ish'"):
        await rt.tools.execute("datetime-handler", {"operation": "parse", "input": "yesterday-ish"})


async def test_tool_output_json_is_rs_envelope(rt: Runtime) -> None:
    out = await rt.tools.execute("uuid-generator", {})
    body = json.loads(out.text)
    assert set(body) == {"operation", "success", "result"}
    assert out.metadata["execution_time_ms"] >= 0


async def test_discovery_hooks_can_filter_the_listing(rt: Runtime) -> None:
    seen: list[Any] = []

    def before(ctx: Any) -> None:
        seen.append(("before", dict(ctx.data)))

    def after(ctx: Any) -> HookResult:
        tools = [t for t in ctx.data["tools"] if t["category"] != "filesystem"]
        return HookResult(kind="modified", data={**ctx.data, "tools": tools})

    rt.hooks.register("BeforeToolDiscovery", before)
    rt.hooks.register("AfterToolDiscovery", after)
    found = await rt.tools.discover_hooked(tag="file")
    assert seen == [("before", {"category": None, "tag": "file"})]
    assert found and all(t["category"] != "filesystem" for t in found)
    assert any(t["category"] == "filesystem" for t in rt.tools.discover(tag="file"))
