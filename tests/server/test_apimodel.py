"""The server's light model loader reads exactly the ApiModel schema, from the one committed JSON."""

from __future__ import annotations

import dataclasses
import json

from lsp_helpers import FIXTURE_MODEL, REAL_MODEL, REPO

from llmspell.api import model as m
from llmspell_ls import apimodel
from llmspell_ls.apimodel import load_index


def test_fixture_follows_api_model() -> None:
    m.ApiModel.model_validate(json.loads(FIXTURE_MODEL.read_text()))


def test_loader_knows_every_schema_field() -> None:
    """A field added to ApiModel must be added to the server's loader too (or it is silently dropped)."""
    pairs = [
        (m.ParamModel, apimodel.Param), (m.FunctionModel, apimodel.Function), (m.FieldModel, apimodel.Field),
        (m.ClassModel, apimodel.Class), (m.NameEntry, apimodel.NameEntry), (m.ToolParamModel, apimodel.ToolParam),
    ]
    for pyd, light in pairs:
        schema = {f.alias or n for n, f in pyd.model_fields.items()}
        mine = {f.name for f in dataclasses.fields(light)}
        assert schema <= mine, (pyd.__name__, schema - mine)
    tool_schema = {f.alias or n for n, f in m.ToolInfo.model_fields.items()}
    assert tool_schema <= {f.name for f in dataclasses.fields(apimodel.Tool)}


def test_loader_defaults_agree_with_the_schema() -> None:
    """apimodel.py mirrors api/model.py without pydantic: a field the JSON may leave out must get the
    same default on both sides, or the server reads an omitted field differently from the runtime.
    (Fields the schema requires are always in the JSON; the loader may still default them.)"""
    pairs = [
        (m.ParamModel, apimodel.Param), (m.FunctionModel, apimodel.Function), (m.FieldModel, apimodel.Field),
        (m.ClassModel, apimodel.Class), (m.NameEntry, apimodel.NameEntry), (m.ToolParamModel, apimodel.ToolParam),
        (m.ToolInfo, apimodel.Tool),
    ]
    checked = 0
    for pyd, light in pairs:
        mine = {f.name: f for f in dataclasses.fields(light)}
        for name, info in pyd.model_fields.items():
            if info.is_required():
                continue
            f = mine[info.alias or name]
            if f.default_factory is not dataclasses.MISSING:
                light_default = f.default_factory()
            else:
                assert f.default is not dataclasses.MISSING, (pyd.__name__, f.name, "optional in the schema")
                light_default = f.default
            assert light_default == info.get_default(call_default_factory=True), (pyd.__name__, f.name)
            checked += 1
    assert checked >= 20


def test_real_model_is_valid_and_loads() -> None:
    data = json.loads(REAL_MODEL.read_text())
    m.ApiModel.model_validate(data)
    idx = load_index(REAL_MODEL)
    assert {"Agent", "Tool", "Workflow", "Hook", "Event", "State"} <= set(idx.globals)
    assert idx.resolve("AgentInstance|nil") == "AgentInstance"
    assert idx.tools and "calculator" in idx.tools


def test_server_default_is_the_committed_model(monkeypatch) -> None:
    monkeypatch.delenv("LLMSPELL_API_MODEL", raising=False)
    assert apimodel.find_model_path() == REAL_MODEL
    assert load_index().source == str(REAL_MODEL)


def test_package_data_copy_equals_stubs() -> None:
    """Wheels load llmspell_ls/data/llmspell-api.json: it must be the committed model byte for byte."""
    pkg = REPO / "server" / "llmspell_ls" / "data" / "llmspell-api.json"
    assert pkg.read_text(encoding="utf-8") == REAL_MODEL.read_text(encoding="utf-8"), (
        "run `python -m llmspell_ls.stubgen`"
    )


def test_package_data_is_loadable_as_a_resource(monkeypatch) -> None:
    """The wheel fallback: no repo stubs, no env var -> importlib.resources copy."""
    monkeypatch.delenv("LLMSPELL_API_MODEL", raising=False)
    monkeypatch.setattr(apimodel, "REPO_STUBS_JSON", REPO / "no-such-dir" / "x.json")
    idx = load_index()
    assert idx.source == "package:data/llmspell-api.json" and "Agent" in idx.globals


def test_env_override_and_missing_model(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LLMSPELL_API_MODEL", str(FIXTURE_MODEL))
    assert load_index().source == str(FIXTURE_MODEL)
    p = tmp_path / "m.json"
    p.write_text(json.dumps({"globals": [{"name": "X", "kind": "global", "functions": [
        {"name": "f", "js_name": "f", "py_name": "f", "future_key": 1}]}], "future": True}))
    idx = load_index(p)  # unknown keys are ignored: an older server reads a newer model
    assert idx.members("X", "lua")["f"].name == "f"


def test_members_by_language(index) -> None:
    lua = index.members("AgentBuilder", "lua")
    js = index.members("AgentBuilder", "javascript")
    assert "system_prompt" in lua and "systemPrompt" in js and "system_prompt" not in js
