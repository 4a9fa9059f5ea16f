"""Catalogue tools called from a Lua spell through the real runner: result shapes as rs-llmspell
scripts read them (``r.success``, ``r.result.<field>``) and refusals as catchable errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tool_helpers import make_runtime

from fakes import collect_run
from fakes.servers import FakeHttpServer
from llmspell.runner import SpellRunner

SPELL = r"""
local base = ARGS[1]
local page = Tool.execute("web-scraper", {input = base .. "/page", selector = "#price"})
print("price:", page.success, page.result.content)
local hook = Tool.execute("webhook-caller", {input = base .. "/hook", payload = {price = page.result.content}})
print("webhook:", hook.result.status_code, hook.result.attempts)
local t = Tool.get("http-requester")
print("schema has input:", t.schema ~= nil)
local ok, err = pcall(Tool.execute, "file-search", {pattern = "root", path = "/etc"})
print("refused:", ok, err.kind)
local ok2, err2 = pcall(Tool.execute, "web-scraper", {selector = "x"})
print("invalid:", ok2, err2.kind, err2.message)
local ok3, err3 = pcall(Tool.execute, "environment-reader", {operation = "get", variable_name = "R5_SECRET_TOKEN"})
print("secret:", ok3, err3.kind)
return page.result.content
"""


async def test_network_tools_and_refusals_from_lua(ws: Path, http: FakeHttpServer, monkeypatch: Any) -> None:
    monkeypatch.setenv("R5_SECRET_TOKEN", "shh")
    http.html("/page", "<html><body><span id='price'>9.99</span></body></html>")
    http.json("/hook", {"ok": True})
    spell = ws / "net.lua"
    spell.write_text(SPELL)
    runner = SpellRunner(lambda: make_runtime(ws, allow_private_network=True))
    text, fin, _ = await collect_run(runner, spell, args=[http.base_url])
    assert fin is not None and fin.status == "success", f"{fin}\n{text}"
    assert "price:\ttrue\t9.99" in text
    assert "webhook:\t200\t1" in text
    assert "refused:\tfalse\tsecurity" in text
    assert "invalid:\tfalse\tvalidation\tweb-scraper: parameter 'input' is required" in text
    assert "secret:\tfalse\tsecurity" in text
    assert fin.result == "9.99"
    assert http.requests_to("/hook")[0].json() == {"price": "9.99"}
