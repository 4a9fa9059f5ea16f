"""Agent templates: ready-made system prompts and tool sets (``Agent.create_from_template``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from llmspell.core.errors import ValidationError


class AgentTemplate(BaseModel):
    name: str
    description: str
    system_prompt: str
    allowed_tools: list[str] = Field(default_factory=list)
    temperature: float | None = None
    max_tool_calls: int = 20


TEMPLATES: dict[str, AgentTemplate] = {
    "research": AgentTemplate(
        name="research",
        description="Research assistant: gathers facts with web and file tools and summarises them with sources.",
        system_prompt=(
            "You are a research assistant. Break the question into parts, gather facts with your tools, "
            "and answer with a short summary followed by the sources you used."
        ),
        allowed_tools=["web-searcher", "web-scraper", "http-requester", "file-operations", "text-manipulator"],
        temperature=0.3,
    ),
    "code": AgentTemplate(
        name="code",
        description="Code assistant: reads and writes files, explains and generates code.",
        system_prompt=(
            "You are a careful code assistant. Read the relevant files before changing them, explain what "
            "you change and why, and keep answers to working code and short explanations."
        ),
        allowed_tools=["file-operations", "text-manipulator", "diff-calculator", "hash-calculator"],
        temperature=0.2,
    ),
    "data_analysis": AgentTemplate(
        name="data_analysis",
        description="Data analyst: loads CSV/JSON, computes statistics, explains findings.",
        system_prompt=(
            "You are a data analyst. Load the data with your tools, compute the statistics the question "
            "needs with the calculator, and explain the findings in plain language with the numbers."
        ),
        allowed_tools=["file-operations", "calculator", "csv-analyzer", "json-processor", "data-validator"],
        temperature=0.1,
    ),
}


def get_template(name: str) -> AgentTemplate:
    t = TEMPLATES.get(name)
    if t is None:
        raise ValidationError(f"unknown agent template '{name}'; expected one of: {', '.join(sorted(TEMPLATES))}")
    return t


def config_from_template(instance_name: str, template: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """Builder-style fields for an instance of ``template``; ``params`` override any field
    (``model``, ``system_prompt``, ``temperature``, ``allowed_tools``, ``max_tool_calls`` ...);
    ``extra_tools`` appends to the template's tools."""
    t = get_template(template)
    params = dict(params or {})
    cfg: dict[str, Any] = {
        "name": instance_name,
        "description": t.description,
        "system_prompt": t.system_prompt,
        "allowed_tools": list(t.allowed_tools),
        "temperature": t.temperature,
        "max_tool_calls": t.max_tool_calls,
        "template": t.name,
    }
    extra = params.pop("extra_tools", None)
    cfg.update({k: v for k, v in params.items() if v is not None})
    if extra:
        cfg["allowed_tools"] = [*cfg["allowed_tools"], *extra]
    return cfg
