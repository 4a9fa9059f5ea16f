"""Write ``fixture_model.json``: a small hand-written API model that follows ``ApiModel`` exactly.

The unit tests use it so they do not depend on the exact contents of the real generated model; the
end-to-end tests use the real ``stubs/llmspell-api.json``. Run: ``python tests/server/data/make_fixture.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

from llmspell.api.model import (
    ApiModel,
    ClassModel,
    FieldModel,
    FunctionModel,
    NameEntry,
    ParamModel,
    ToolInfo,
    ToolParamModel,
)


def fn(name: str, *params: ParamModel, returns: str = "nil", doc: str = "", js: str | None = None,
       is_async: bool = False, deprecated: str | None = None, returns_self: bool = False) -> FunctionModel:
    head, *rest = name.split("_")
    js_name = js or head + "".join(p[:1].upper() + p[1:] for p in rest)
    return FunctionModel(name=name, js_name=js_name, py_name=name, doc=doc, params=list(params), returns=returns,
                         is_async=is_async, deprecated=deprecated, returns_self=returns_self)


def p(name: str, type_: str = "any", **kw: object) -> ParamModel:
    return ParamModel(name=name, type=type_, **kw)  # type: ignore[arg-type]


def build() -> ApiModel:
    builder_methods = [
        fn("name", p("name", "string", doc="Unique agent name."), returns="AgentBuilder", returns_self=True,
           doc="Set the agent's name."),
        fn("model", p("model", "string", doc="provider/model id"), returns="AgentBuilder", returns_self=True,
           doc="Set the model, e.g. `openai/gpt-4o-mini`."),
        fn("system_prompt", p("prompt", "string"), returns="AgentBuilder", returns_self=True,
           doc="Set the system prompt."),
        fn("temperature", p("value", "number"), returns="AgentBuilder", returns_self=True, doc="Sampling temperature."),
        fn("build", returns="AgentInstance", doc="Create the agent.", is_async=True),
    ]
    agent_methods = [
        fn("execute", p("input", "AgentInput|string", doc="What to ask."), returns="AgentOutput", is_async=True,
           doc="Run the agent once and return its output table."),
        fn("get_state", returns="string", doc="Lifecycle state name."),
        fn("destroy", doc="Remove the agent."),
    ]
    wf_builder = [
        fn("sequential", returns="WorkflowBuilder", returns_self=True, doc="Make a sequential workflow."),
        fn("name", p("name", "string"), returns="WorkflowBuilder", returns_self=True, doc="Workflow name."),
        fn("add_step", p("step", "WorkflowStep"), returns="WorkflowBuilder", returns_self=True, doc="Add a step."),
        fn("build", returns="WorkflowInstance", doc="Create the workflow."),
    ]
    wf_instance = [
        fn("execute", p("input", "table", optional=True), returns="table", is_async=True, doc="Run the workflow."),
    ]
    globals_ = [
        ClassModel(name="Agent", kind="global", doc="Create and manage LLM agents.", functions=[
            fn("builder", returns="AgentBuilder", doc="Start building an agent (the supported way)."),
            fn("create", p("config", "table"), returns="AgentInstance", deprecated="Use Agent.builder()",
               doc="Old constructor; always raises."),
            fn("list", returns="table[]", doc="Active agent instances."),
            fn("get", p("name", "string"), returns="AgentInstance|nil", doc="An existing agent by name."),
            fn("create_from_template", p("instance_name", "string"),
               p("template_name", "string", names="agent_templates"), p("params", "table", optional=True),
               returns="AgentInstance", is_async=True, doc="Create an agent from a template."),
        ]),
        ClassModel(name="Tool", kind="global", doc="Builtin tools.", index_type="ToolHandle", index_names="tools",
                   functions=[
            fn("execute", p("name", "string", names="tools", doc="Tool name."),
               p("params", "table", schema_from="name", doc="The tool's parameters."),
               returns="ToolResult", is_async=True, doc="Run a tool by name."),
            fn("list", returns="table[]", doc="All tools."),
            fn("exists", p("name", "string", names="tools"), returns="boolean", doc="Whether a tool exists."),
        ]),
        ClassModel(name="Workflow", kind="global", doc="Workflows.", functions=[
            fn("builder", returns="WorkflowBuilder", doc="Start building a workflow."),
            fn("types", returns="string[]", doc="Workflow types."),
        ]),
        ClassModel(name="Hook", kind="global", doc="Hooks.", functions=[
            fn("register", p("point", "string", names="hook_points"), p("callback", "function"),
               p("priority", "string", optional=True, values=["highest", "high", "normal", "low", "lowest"]),
               returns="HookHandle", doc="Register a hook callback."),
            fn("list", p("filter", "string|table", optional=True), returns="table[]", doc="Registered hooks."),
        ]),
        ClassModel(name="Event", kind="global", doc="Events.", functions=[
            fn("publish", p("event_type", "string", names="event_names"), p("data", "any", optional=True),
               returns="boolean", doc="Publish an event.", is_async=True),
            fn("subscribe", p("pattern", "string"), returns="string", doc="Subscribe to a pattern."),
        ]),
        ClassModel(name="State", kind="global", doc="State.", functions=[
            fn("save", p("scope", "string"), p("key", "string"), p("value", "any"), doc="Save a value."),
            fn("load", p("scope", "string"), p("key", "string"), returns="any", doc="Load a value."),
        ]),
        ClassModel(name="JSON", kind="global", doc="JSON.", functions=[
            fn("parse", p("text", "string"), returns="any", doc="Parse JSON."),
            fn("stringify", p("value", "any"), returns="string", doc="Encode JSON."),
        ]),
        ClassModel(name="ARGS", kind="value", type="table<string, string>", doc="Script arguments."),
    ]
    classes = [
        ClassModel(name="AgentBuilder", kind="class", doc="Builds an agent.", functions=builder_methods),
        ClassModel(name="AgentInstance", kind="class", doc="An agent.", functions=agent_methods,
                   fields=[FieldModel(name="name", js_name="name", type="string", doc="Agent name.")]),
        ClassModel(name="HookHandle", kind="class", doc="A registered hook.", functions=[
            fn("unregister", returns="boolean", doc="Remove the hook.")]),
        ClassModel(name="ToolHandle", kind="class", doc="A tool.", functions=[
            fn("execute", p("params", "table"), returns="ToolResult", is_async=True, doc="Run it.")]),
        ClassModel(name="WorkflowBuilder", kind="class", doc="Builds a workflow.", functions=wf_builder),
        ClassModel(name="WorkflowInstance", kind="class", doc="A workflow.", functions=wf_instance,
                   fields=[FieldModel(name="id", js_name="id", type="string")]),
    ]
    records = [
        ClassModel(name="AgentInput", kind="record", doc="Agent input.", fields=[
            FieldModel(name="text", js_name="text", type="string", doc="The prompt."),
            FieldModel(name="parameters", js_name="parameters", type="table", optional=True)]),
        ClassModel(name="AgentOutput", kind="record", doc="Agent output.", fields=[
            FieldModel(name="text", js_name="text", type="string"),
            FieldModel(name="metadata", js_name="metadata", type="table", optional=True)]),
        ClassModel(name="ToolResult", kind="record", doc="Tool output.", fields=[
            FieldModel(name="success", js_name="success", type="boolean"),
            FieldModel(name="result", js_name="result", type="any", optional=True),
            FieldModel(name="text", js_name="text", type="string", optional=True)]),
        ClassModel(name="WorkflowStep", kind="record", doc="A step.", fields=[
            FieldModel(name="name", js_name="name", type="string"),
            FieldModel(name="type", js_name="type", type="string", values=["tool", "agent", "workflow"]),
            FieldModel(name="tool", js_name="tool", type="string", optional=True),
            FieldModel(name="input", js_name="input", type="any", optional=True)]),
    ]
    tools = [
        ToolInfo(name="calculator", description="Evaluate an arithmetic expression.", category="utility",
                 parameters=[ToolParamModel(name="input", type="string", description="Expression.", required=True)]),
        ToolInfo(name="file-operations", description="Read, write and list files.", category="filesystem",
                 parameters=[
                     ToolParamModel(name="operation", type="string", required=True, description="What to do.",
                                    values=["read", "write", "list", "exists"]),
                     ToolParamModel(name="path", type="string", required=True, description="File path."),
                     ToolParamModel(name="content", type="string", description="Text to write."),
                 ]),
    ]
    catalogs = {
        "tools": [NameEntry(name=t.name, doc=t.description, detail=t.category) for t in tools],
        "hook_points": [NameEntry(name=n, detail="agent hook point") for n in
                        ("BeforeAgentExecution", "AfterAgentExecution", "BeforeToolExecution", "AfterToolExecution")],
        "agent_templates": [NameEntry(name=n) for n in ("research", "code", "data_analysis")],
        "workflow_types": [NameEntry(name=n) for n in ("sequential", "parallel", "conditional", "loop")],
        "event_names": [NameEntry(name=n) for n in ("agent.started", "agent.completed", "tool.completed")],
        "priorities": [NameEntry(name=n) for n in ("highest", "high", "normal", "low", "lowest")],
    }
    return ApiModel(globals=globals_, classes=classes, records=records, catalogs=catalogs, tools=tools)


if __name__ == "__main__":
    out = Path(__file__).with_name("fixture_model.json")
    data = build().model_dump(mode="json", by_alias=True)
    ApiModel.model_validate(data)
    out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(out)
