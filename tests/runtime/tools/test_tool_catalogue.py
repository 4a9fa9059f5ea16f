"""The catalogue as a whole: every rs-llmspell tool name, at least 40 tools, categories, schemas
that flow into the API model, parameter errors that name the parameter, and lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from tool_helpers import call

from llmspell.core.errors import ValidationError

RS_LLMSPELL_TOOLS = [
    "file-operations", "file-search", "file-watcher", "file-converter", "archive-handler", "uuid-generator",
    "hash-calculator", "base64-encoder", "datetime-handler", "text-manipulator", "calculator", "template-creator",
    "data-validator", "json-processor", "csv-analyzer", "diff-calculator", "graph-builder", "citation-formatter",
    "pdf-processor", "image-processor", "audio-processor", "video-processor", "process-executor",
    "environment-reader", "system-monitor", "service-checker", "http-requester", "api-tester", "webhook-caller",
    "web-scraper", "web-searcher", "webpage-monitor", "sitemap-crawler", "url-analyzer", "graphql-query",
    "email-sender", "database-connector",
]
DESIGN_TOOLS = ["xml-processor", "yaml-processor", "parquet-processor", "excel-processor", "sql-query",
                "feed-reader", "backup-manager", "text-embedder", "vector-search", "sentiment-analyzer",
                "text-translator", "image-describer", "speech-transcriber", "slack-sender", "discord-sender",
                "telegram-sender", "sms-sender"]

# rs-llmspell parameter names per tool (API notes §3) that scripts pass: each must be in the schema.
RS_PARAMS: dict[str, list[str]] = {
    "file-search": ["pattern", "path", "recursive", "case_sensitive", "use_regex", "context_lines",
                    "include_extensions", "exclude_extensions", "exclude_dirs", "max_file_size",
                    "max_matches_per_file", "max_depth"],
    "file-watcher": ["operation", "input", "recursive", "pattern", "debounce_ms", "timeout_seconds", "timeout_ms",
                     "max_events"],
    "file-converter": ["operation", "path", "target_path", "from_encoding", "to_encoding", "line_ending",
                       "convert_to_spaces", "tab_size"],
    "archive-handler": ["operation", "path", "target_path", "input"],
    "template-creator": ["input", "context", "engine", "auto_detect"],
    "data-validator": ["input", "rules"],
    "json-processor": ["operation", "input", "query", "schema"],
    "csv-analyzer": ["operation", "input", "options"],
    "diff-calculator": ["type", "old_text", "new_text", "old_json", "new_json", "old_file", "new_file", "format"],
    "graph-builder": ["operation", "input", "graph_type", "graph", "node_id", "from", "to"],
    "citation-formatter": ["operation", "input", "format", "style", "cite_keys"],
    "pdf-processor": ["operation", "input", "start_page"],
    "image-processor": ["operation", "file_path", "source_path", "target_path", "width", "height", "x", "y",
                        "degrees", "maintain_aspect_ratio", "target_format", "max_width", "max_height"],
    "audio-processor": ["operation", "file_path", "source_path", "target_path", "target_format"],
    "video-processor": ["operation", "file_path", "target_path", "timestamp_seconds"],
    "process-executor": ["executable", "arguments", "working_directory", "environment"],
    "environment-reader": ["operation", "variable_name", "value", "pattern"],
    "system-monitor": ["operation"],
    "service-checker": ["target", "check_type", "timeout_seconds"],
    "http-requester": ["input", "method", "headers", "body", "auth", "retry"],
    "api-tester": ["input", "method", "headers", "body", "timeout"],
    "webhook-caller": ["input", "payload", "headers", "max_retries", "timeout", "method"],
    "web-scraper": ["input", "selectors", "selector", "wait_for_js", "extract_links", "extract_images",
                    "extract_meta", "timeout"],
    "web-searcher": ["input", "provider", "max_results", "search_type", "safe_search", "language"],
    "webpage-monitor": ["input", "previous_content", "selector", "ignore_whitespace"],
    "sitemap-crawler": ["input", "follow_sitemaps", "max_urls", "timeout"],
    "url-analyzer": ["input", "fetch_metadata", "decode_params"],
    "graphql-query": ["operation", "endpoint", "input", "variables", "operation_name", "headers"],
    "email-sender": ["to", "subject", "body", "from", "html", "provider"],
    "database-connector": ["operation", "database", "query", "query_type"],
}


def test_catalogue_has_every_rs_llmspell_tool_and_the_design_categories(rt: Any) -> None:
    names = {t["name"] for t in rt.tools.list()}
    assert set(RS_LLMSPELL_TOOLS) <= names
    assert set(DESIGN_TOOLS) <= names
    assert len(names) >= 40
    cats = set(rt.tools.categories())
    assert {"filesystem", "data", "web", "system", "media", "communication", "ai", "utility"} <= cats
    ai = {t["name"] for t in rt.tools.discover(category="ai")}
    assert {"text-embedder", "vector-search", "sentiment-analyzer"} <= ai
    assert {t["name"] for t in rt.tools.discover(tag="rss")} == {"feed-reader"}


@pytest.mark.parametrize("tool", sorted(RS_PARAMS))
def test_rs_llmspell_parameter_names_are_in_the_schema(rt: Any, tool: str) -> None:
    schema = rt.tools.get(tool).schema().parameters
    props = set(schema["properties"])
    missing = [p for p in RS_PARAMS[tool] if p not in props]
    assert not missing, f"{tool} schema lacks {missing}"


def test_schemas_flow_into_tool_infos() -> None:
    from llmspell.tools.catalog import tool_infos

    infos = {i.name: i for i in tool_infos()}
    for name in [*RS_LLMSPELL_TOOLS, *DESIGN_TOOLS]:
        info = infos[name]
        assert info.description and info.schema_["type"] == "object", name
        json.dumps(info.model_dump(by_alias=True))
    ops = next(p for p in infos["csv-analyzer"].parameters if p.name == "operation")
    assert ops.values == ["analyze", "convert", "filter", "sample"]
    assert next(p for p in infos["email-sender"].parameters if p.name == "to").required


async def test_missing_and_mistyped_parameters_are_named(rt: Any) -> None:
    with pytest.raises(ValidationError, match=r"web-scraper: parameter 'input' is required"):
        await call(rt, "web-scraper", {})
    with pytest.raises(ValidationError, match=r"file-search: parameter 'context_lines'.*integer"):
        await call(rt, "file-search", {"pattern": "x", "path": ".", "context_lines": "many"})
    with pytest.raises(ValidationError, match=r"service-checker: parameter 'check_type': expected one of tcp, http"):
        await call(rt, "service-checker", {"target": "x", "check_type": "icmp"})


def test_tool_modules_import_no_heavy_library() -> None:
    """Listing and loading every tool class must not import the libraries the tools use."""
    code = (
        "import sys\n"
        "from llmspell.tools.builtin import BUILTIN_TOOLS\n"
        "from llmspell.tools.registry import load_builtin_class\n"
        "[load_builtin_class(s).parameters_schema() for s in BUILTIN_TOOLS.values()]\n"
        "heavy = ['httpx', 'selectolax', 'lxml', 'jq', 'psutil', 'networkx', 'PIL', 'pypdf', 'pyarrow',\n"
        "         'openpyxl', 'torch', 'sentence_transformers', 'feedparser', 'aiosmtplib', 'watchfiles',\n"
        "         'jinja2', 'yaml', 'mutagen', 'hachoir', 'litellm']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
