"""Unit tests of the bridge's plain-data rule (llmspell.api.plain), reserved event names
(llmspell.events.reserved) and bounded templates (llmspell.tools.templating); the attacks through
real spells are in tests/security/test_bridge_plain_data.py."""

from __future__ import annotations

from typing import Any

import pytest

import llmspell.api.globals  # noqa: F401  (fills the declaration)
from llmspell.api import plain
from llmspell.api.catalogs import SYSTEM_EVENTS
from llmspell.api.decl import GLOBALS, ApiObject, ScriptFunction
from llmspell.api.globals.workflow import WorkflowBuilder, WorkflowStepTable
from llmspell.core.errors import ValidationError
from llmspell.events.reserved import check_spell_event_name, is_reserved
from llmspell.tools.templating import TemplateLimitError, render_jinja, render_mustache


class Fn(ScriptFunction):
    language = "lua"


class Obj(ApiObject):
    api_name = "Obj"


def shapes(global_name: str, method: str) -> tuple[plain.Shape, ...]:
    got = plain.param_shapes(GLOBALS[global_name], method)
    assert got is not None
    return got


def refused(value: Any, shape: plain.Shape, **kw: Any) -> plain.PlainDataError:
    with pytest.raises(plain.PlainDataError) as ei:
        plain.check(value, shape, "p", **kw)
    return ei.value


def test_plain_positions_refuse_functions_objects_and_foreign_values_by_place() -> None:
    _, params = shapes("Tool", "execute")
    assert not params.live
    e = refused({"context": {"f": Fn()}}, params)
    assert e.where == "p.context.f" and "a function cannot be passed here" in e.message
    assert refused({"a": [1, [Obj()]]}, params).where == "p.a[1][0]"
    assert refused({"a": [1, [Obj()]]}, params, base=1).where == "p.a[2][1]"  # Lua counts from 1
    assert "coroutine" in refused({"c": plain.Opaque("coroutine")}, params).message
    assert "keys must be strings or integers" in refused({(1, 2): 1}, params).message
    data = {"a": [1, 2.5, "x", None, True, {"b": {}}], 3: "int keys are data"}
    assert plain.check(data, params, "p") is data


def test_declared_callbacks_and_handles_are_admitted_only_where_declared() -> None:
    _, sub = shapes("Event", "subscribe")
    f = Fn()
    assert plain.check(f, sub, "p") is f
    assert plain.check({"callback": f, "maxsize": 3}, sub, "p")["callback"] is f
    assert refused({"other": f}, sub).where == "p.other"
    step = plain.shape_for(WorkflowStepTable)
    for key in ("fn", "func", "function"):
        assert plain.check({"name": "s", key: f}, step, "p")[key] is f
    assert refused({"name": "s", "fn": f, "input": {"f": f}}, step).where == "p.input.f"
    (cond, steps, _) = plain.param_shapes(WorkflowBuilder, "add_branch") or ()
    assert cond.fn and plain.check({"type": "function", "predicate": f}, cond, "c")
    assert plain.check([{"name": "x", "fn": f}], steps, "s")
    (handle,) = shapes("Hook", "unregister")
    assert refused(Obj(), handle).message.startswith("an API object (Obj)")


def test_display_positions_describe_instead_of_refusing() -> None:
    (value, _) = shapes("Debug", "dump")
    out = plain.check({"f": Fn(), "o": Obj(), "n": 1}, value, "v")
    assert out == {"f": "<lua function>", "o": "<Obj>", "n": 1}


def test_depth_cycles_and_size_are_bounded() -> None:
    deep: Any = {}
    cur = deep
    for _ in range(plain.MAX_DEPTH + 5):
        cur["n"] = {}
        cur = cur["n"]
    assert "nested too deeply" in refused(deep, plain.PLAIN).message
    cyc: dict[str, Any] = {}
    cyc["self"] = cyc
    assert "contains itself" in refused(cyc, plain.PLAIN).message
    assert "more than 1000 items" in refused(list(range(2000)), plain.PLAIN, max_items=1000).message
    shared = [list(range(100))] * 100
    assert "too large" in refused([shared] * 100, plain.PLAIN, max_items=100_000).message


def test_check_value_names_what_was_passed() -> None:
    with pytest.raises(ValidationError, match=r"the hook result \(at data\.f\): a function cannot be passed"):
        plain.check_value({"data": {"f": Fn()}}, "the hook result")


@pytest.mark.parametrize("name", sorted(SYSTEM_EVENTS))
def test_every_runtime_event_name_is_reserved(name: str) -> None:
    assert is_reserved(name) and is_reserved(name.upper()) and is_reserved(f"  {name} ")
    with pytest.raises(ValidationError, match="reserved"):
        check_spell_event_name(name, "Event.publish")


@pytest.mark.parametrize("name", ["user.login", "app.agent.done", "pipeline.step.done", "agents.custom",
                                  "my.tool.completed", "x"])
def test_spell_event_names_stay_allowed(name: str) -> None:
    assert check_spell_event_name(name, "Event.publish") == name


def test_templates_render_data_within_limits() -> None:
    out = render_jinja("{% for p in ps %}{{ loop.index }}{{ p.n|title }}{% endfor %}{{ d.get('k') }}",
                       {"ps": [{"n": "ada"}, {"n": "bo"}], "d": {"k": 5}})
    assert out == "1Ada2Bo5"
    assert render_mustache("{{#ps}}<{{n}}>{{/ps}}{{^none}}-{{/none}}{{a.b}}", {"ps": [{"n": 1}], "none": [],
                                                                             "a": {"b": "x"}}) == "<1>-x"


@pytest.mark.parametrize(("tpl", "limit"), [
    ("{{ 'a' * 101 }}", "characters"),
    ("{% for i in range(10) %}{{ 'aaaaaaaaaaaa' }}{% endfor %}", "characters"),
    ("{% for i in range(1000) %}{% endfor %}", "operations"),
    ("{% set x %}{% for i in range(60) %}{{ 'abcdefgh' }}{% endfor %}{% endset %}", "characters"),
    ("{{ 'a'|center(1000) }}", "characters"),
])
def test_template_limits_are_the_callers(tpl: str, limit: str) -> None:
    with pytest.raises(TemplateLimitError, match=limit):
        render_jinja(tpl, {}, max_output=100, max_operations=500)


def test_mustache_limits() -> None:
    with pytest.raises(TemplateLimitError, match="operations"):
        render_mustache("{{#a}}{{#a}}{{#a}}.{{/a}}{{/a}}{{/a}}", {"a": list(range(100))}, max_operations=10_000)
    with pytest.raises(TemplateLimitError, match="characters"):
        render_mustache("{{#a}}{{s}}{{/a}}", {"a": list(range(100)), "s": "x" * 50}, max_output=1000)
