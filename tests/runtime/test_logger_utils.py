"""Logger (levelled lines on the run's stderr) and Utils (rs-llmspell's documented helpers and a few more)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from llmspell.api.globals.utils import hash_name
from llmspell.core.errors import ValidationError
from llmspell.runner import SpellRunner
from llmspell.runtime import Runtime


def make_rt(tmp_path: Path, **overrides: Any) -> Runtime:
    ws = tmp_path / "ws"
    ws.mkdir(parents=True, exist_ok=True)
    return Runtime(workspace=ws, state="memory", overrides=overrides or None)


async def run(rt: Runtime, src: str, name: str = "spell.lua") -> tuple[list[str], list[str], Any]:
    """(stdout lines, stderr lines, finished)."""
    out: list[str] = []
    err: list[str] = []
    fin = None
    async for m in SpellRunner(runtime=rt).run(rt.workspace / name, source=src):
        if m.type == "output":
            (err if m.stream == "stderr" else out).append(m.text)
        elif m.type == "finished":
            fin = m
    assert fin is not None
    return "".join(out).splitlines(), "".join(err).splitlines(), fin


def test_hash_names() -> None:
    assert hash_name("SHA-256") == "sha256" and hash_name("sha_512") == "sha512" and hash_name("MD5") == "md5"
    assert hash_name("sha3-256") == "sha3_256"
    with pytest.raises(ValidationError, match="unknown hash algorithm 'crc32'"):
        hash_name("crc32")


async def test_logger_levels_and_data_in_lua(tmp_path: Path) -> None:
    rt = make_rt(tmp_path)
    out, err, fin = await run(rt, """
        Logger.info("Workflow completed", {duration = 12, success = true})
        Logger.debug("not shown at info")
        Logger.trace("not shown either")
        Logger.warn("careful")
        Logger.error("Step failed", {error = "boom"})
        print(Logger.get_level())
        Logger.set_level("trace")
        Logger.debug("now shown")
        Logger.trace("also shown")
        Logger.log("warning", "by name")
        Logger.set_level("error")
        Logger.warn("dropped")
        print(Logger.get_level(), #Logger.timestamp())
        local ok, e = pcall(Logger.set_level, "loud")
        print(ok, e.kind, e.message)
        ok, e = pcall(Logger.info)
        print(ok, e.kind)
    """)
    assert fin.status == "success", fin.error
    assert err == ['[INFO] Workflow completed {"duration":12,"success":true}', "[WARN] careful",
                   '[ERROR] Step failed {"error":"boom"}', "[DEBUG] now shown", "[TRACE] also shown", "[WARN] by name"]
    assert out[0] == "info" and out[1] == "error\t24"
    assert out[2] == "false\tvalidation\tLogger.set_level: unknown level 'loud': expected one of trace, debug, info, " \
                     "warn, error"
    assert out[3] == "false\tvalidation"
    await rt.shutdown()


async def test_logger_in_js(tmp_path: Path) -> None:
    rt = make_rt(tmp_path)
    out, err, fin = await run(rt, """
        Logger.info("from js", {n: 1, list: [1, 2]});
        Logger.setLevel("debug");
        Logger.debug("dbg");
        console.log(Logger.getLevel());
    """, name="spell.js")
    assert fin.status == "success", fin.error
    assert err == ['[INFO] from js {"list":[1,2],"n":1}', "[DEBUG] dbg"]
    assert out == ["debug"]
    await rt.shutdown()


async def test_utils_in_lua(tmp_path: Path) -> None:
    rt = make_rt(tmp_path)
    out, _err, fin = await run(rt, """
        local u1, u2 = Utils.uuid(), Utils.uuid()
        print(#u1, u1 ~= u2, u1:match("^%x+%-%x+%-4%x+%-[89ab]%x+%-%x+$") ~= nil)
        local t = Utils.timestamp()
        print(t > 1.7e9, math.type(t))
        print(Utils.hash("abc"), Utils.hash("abc", "md5"), Utils.hash("abc", "SHA-1"))
        print(Utils.base64_encode("héllo"), Utils.base64_decode("aMOpbGxv"), Utils.base64_decode("aGk"))
        local orig = {a = {b = 1}, list = {1, 2}}
        local copy = Utils.deep_copy(orig)
        copy.a.b = 2
        print(orig.a.b, copy.a.b, #copy.list)
        local m = Utils.merge({a = {x = 1, y = 2}, keep = true}, {a = {y = 3}, new = "n"})
        print(m.a.x, m.a.y, m.keep, m.new)
        local parts = Utils.split("a,b,,c", ",")
        print(#parts, parts[3] == "", table.concat(Utils.split("  one two\\tthree "), "|"),
              table.concat(Utils.split("k=v=w", "=", 2), "|"))
        print("[" .. Utils.trim("  padded \\n") .. "]")
        local t0 = os.clock()
        local w0 = Utils.timestamp()
        Utils.sleep(0.05)
        print(Utils.timestamp() - w0 >= 0.045)
        local function try(f, ...)
          local ok, e = pcall(f, ...)
          print(ok and "ok" or (e.kind .. ": " .. e.message))
        end
        try(Utils.hash, {})
        try(Utils.hash, "x", "crc32")
        try(Utils.sleep, -1)
        try(Utils.sleep, 1e9)
        try(Utils.base64_decode, "@@@")
        try(Utils.merge, {1, 2}, {a = 1})
        try(Utils.split, "abc", "")
        try(Utils.trim, nil)
    """)
    assert fin.status == "success", fin.error
    sha, md5, sha1 = (hashlib.sha256(b"abc").hexdigest(), hashlib.md5(b"abc").hexdigest(),
                      hashlib.sha1(b"abc").hexdigest())
    assert out[:9] == [
        "36\ttrue\ttrue", "true\tfloat", f"{sha}\t{md5}\t{sha1}", "aMOpbGxv\théllo\thi", "1\t2\t2",
        "1\t3\ttrue\tn", "4\ttrue\tone|two|three\tk|v=w", "[padded]", "true",
    ]
    assert out[9].startswith("validation: Utils.hash: 'data' must be a string")
    assert out[10].startswith("validation: Utils.hash: unknown hash algorithm 'crc32'")
    assert out[11].startswith("validation: Utils.sleep: 'seconds' must be a number >= 0")
    assert "limits.wall_time_s" in out[12]
    assert out[13] == "validation: Utils.base64_decode: 'text' is not valid base64"
    assert out[14].startswith("validation: Utils.merge: 'base' must be a table with keys")
    assert out[15].startswith("validation: Utils.split: 'separator' must be a non-empty string")
    assert out[16].startswith("validation: Utils.trim: missing argument") or "must be a string" in out[16]
    await rt.shutdown()


async def test_utils_in_js_sleep_is_a_promise_and_cancellable(tmp_path: Path) -> None:
    rt = make_rt(tmp_path)
    out, _err, fin = await run(rt, """
        const p = Utils.sleep(0.01);
        console.log(p instanceof Promise);
        await p;
        console.log(Utils.hash("abc", "sha256").length, Utils.split("a b").length, Utils.trim(" x "));
        console.log(JSON.stringify(Utils.merge({a: {b: 1}}, {a: {c: 2}})));
    """, name="spell.js")
    assert fin.status == "success", fin.error
    assert out == ["true", "64 2 x", '{"a":{"b":1,"c":2}}']
    await rt.shutdown()


async def test_sleep_respects_the_wall_time_limit(tmp_path: Path) -> None:
    rt = make_rt(tmp_path, limits={"wall_time_s": 0.5})
    _out, _err, fin = await run(rt, "Utils.sleep(0.4) Utils.sleep(0.4) print('never')")
    assert fin.status != "success"
    await rt.shutdown()
