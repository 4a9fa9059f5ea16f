"""The declaration framework: dispatch rules and the model produced from type hints."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel

from llmspell.api.decl import ApiGlobal, ApiObject, Dispatcher, Names, SchemaFrom, ScriptFunction, camel, expose
from llmspell.api.introspect import _class_model, _split_doc, _TypeRenderer
from llmspell.core.errors import ValidationError


class _Opts(BaseModel):
    """Options table."""

    text: str
    count: int = 1


class _Thing(ApiObject):
    api_name = "Thing"
    api_fields = {"id": "string"}

    def __init__(self) -> None:
        self.id = "t1"
        self.calls: list[Any] = []

    @expose(returns_self=True)
    def model(self, name: str) -> _Thing:
        """Set the model.

        Args:
            name: provider/model id
        """
        self.calls.append(name)
        return self

    @expose(lua="invokeStream")
    async def invoke_stream(self, input: _Opts, callback: ScriptFunction) -> dict[str, Any]:
        return {}


class _G(ApiGlobal):
    api_name = "G"

    @expose
    def run(self, tool: Annotated[str, Names("tools")], params: Annotated[dict[str, Any], SchemaFrom("tool")],
            mode: Literal["a", "b"] = "a") -> list[str]:
        """Run a tool.

        Returns:
            the names
        """
        return [tool, mode]

    @expose(deprecated="use G.run()")
    def old(self) -> None:
        raise ValidationError("gone")


def test_camel_case_names() -> None:
    assert camel("list_instances") == "listInstances"
    assert camel("invokeStream") == "invokeStream"
    assert camel("get") == "get"


def test_dispatch_trims_trailing_nils_and_reports_missing_arguments() -> None:
    g = _G(ctx=None)  # type: ignore[arg-type]
    assert Dispatcher.call(g, "run", ["calc", {}, None]) == ["calc", "a"]
    assert Dispatcher.call(g, "run", ["calc", {}, "b", "extra"]) == ["calc", "b"]
    with pytest.raises(ValidationError, match=r"G.run: missing argument #2 'params'"):
        Dispatcher.call(g, "run", ["calc"])
    with pytest.raises(ValidationError, match="has no method 'nope'"):
        Dispatcher.call(g, "nope", [])


def test_dispatch_returns_awaitable_for_async_methods() -> None:
    t = _Thing()
    r = Dispatcher.call(t, "invokeStream", [{"text": "x"}, None])
    assert hasattr(r, "__await__")
    r.close()  # type: ignore[union-attr]
    assert Dispatcher.call(t, "model", ["m"]) is t and t.calls == ["m"]


def test_model_of_a_class_carries_types_docs_and_markers() -> None:
    r = _TypeRenderer()
    thing = _class_model(_Thing, "class", r)
    by = {f.name: f for f in thing.functions}
    assert by["model"].returns == "Thing" and by["model"].returns_self
    assert by["model"].params[0].doc == "provider/model id"
    assert by["invokeStream"].js_name == "invokeStream" and by["invokeStream"].is_async
    assert [p.type for p in by["invokeStream"].params] == ["_Opts", "function"]
    assert r.records["_Opts"].fields[0].name == "text" and not r.records["_Opts"].fields[0].optional
    assert thing.fields[0].name == "id"

    g = _class_model(_G, "global", r)
    run = next(f for f in g.functions if f.name == "run")
    assert run.params[0].names == "tools"
    assert run.params[1].schema_from == "tool" and run.params[1].type == "table"
    assert run.params[2].values == ["a", "b"] and run.params[2].optional and run.params[2].default == "a"
    assert run.returns == "string[]" and run.returns_doc == "the names"
    old = next(f for f in g.functions if f.name == "old")
    assert old.deprecated == "use G.run()"


def test_docstring_split() -> None:
    body, params, ret = _split_doc("""Summary.

    More text.

    Args:
        a: first
            continued
        b (int): second

    Returns:
        a thing
    """)
    assert body == "Summary.\n\nMore text."
    assert params == {"a": "first continued", "b": "second"}
    assert ret == "a thing"
