"""Templates: schema validation, the registry, and each built-in really running agents/tools offline."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from llmspell.core.errors import ValidationError
from llmspell.runtime import Runtime
from llmspell.templates import TemplateRegistry, registry
from llmspell.templates.builtin.code import extract_code, lint
from llmspell.templates.builtin.data import bar_chart
from llmspell.templates.builtin.documents import quality_score
from llmspell.templates.builtin.research import bm25, chunk_words
from llmspell.templates.schema import Param, validate
from llmspell.workflows.model import parse_step

IDS = ["code-generator", "code-review", "content-generation", "data-analysis", "document-processor",
       "file-classification", "interactive-chat", "knowledge-management", "research-assistant",
       "workflow-orchestrator"]


@pytest.fixture
async def rt(tmp_path: Path) -> AsyncIterator[Runtime]:
    # a network allow-list naming nothing reachable: web search is refused at once, deterministically
    r = Runtime(workspace=tmp_path, state="memory",
                overrides={"security": {"network_allow": ["nothing.invalid"]}})
    await r.start()
    try:
        yield r
    finally:
        await r.shutdown()


def reg(r: Runtime) -> TemplateRegistry:
    return registry(r)


# ---------------------------------------------------------------------------------------- schema


def test_validate_fills_defaults_and_names_every_problem() -> None:
    ps = [Param("topic", "Topic", "string", required=True, min_length=3),
          Param("n", "Count", "integer", default=10, min=1, max=50),
          Param("fmt", "Format", "string", default="md", allowed=("md", "json")),
          Param("flag", "Flag", "boolean", default=True), Param("items", "Items", "array")]
    assert validate("T", ps, {"topic": "abc"}) == {"topic": "abc", "n": 10, "fmt": "md", "flag": True}
    assert validate("T", ps, {"topic": "abc", "n": 5.0, "items": {}})["n"] == 5
    with pytest.raises(ValidationError) as e:
        validate("T", ps, {"n": 0, "fmt": "xml", "flag": "yes", "items": "a"})
    msg = str(e.value)
    assert "parameter 'topic' is required (a string: Topic)" in msg
    assert "parameter 'n' must be >= 1, got 0" in msg
    assert "parameter 'fmt' must be one of md, json; got 'xml'" in msg
    assert "parameter 'flag' must be a boolean, got string" in msg
    assert "parameter 'items' must be an array" in msg
    with pytest.raises(ValidationError, match="'topic' length must be >= 3, got 2"):
        validate("T", ps, {"topic": "ab"})
    with pytest.raises(ValidationError, match="'n' must be an integer, got number"):
        validate("T", ps, {"topic": "abc", "n": 2.5})
    with pytest.raises(ValidationError, match="'n' must be <= 50, got 51"):
        validate("T", ps, {"topic": "abc", "n": 51})


def test_param_table_has_rs_fields_and_the_examples_spellings() -> None:
    t = Param("n", "Count", "integer", default=10, min=1, max=50).table()
    assert t["param_type"] == "Integer" and t["type"] == "integer" and t["required"] is False
    assert t["default"] == 10 and t["default_value"] == 10
    assert t["min"] == 1 and t["max"] == 50 and t["constraints"] == {"min": 1, "max": 50}


# ---------------------------------------------------------------------------------------- registry


async def test_list_categories_search_info_schema(rt: Runtime) -> None:
    r = reg(rt)
    assert sorted(m["id"] for m in r.list()) == IDS
    assert [m["id"] for m in r.list("research")] == ["research-assistant", "knowledge-management"]
    assert [m["id"] for m in r.list("CodeGen")] == ["code-generator"]
    assert [m["id"] for m in r.list("development")] == ["code-review"]
    assert r.list("no-such-category") == []
    md = r.list("chat")[0]
    assert md["category"] == "Chat" and md["version"] == "0.1.0" and "conversation" in md["tags"]
    assert {m["id"] for m in r.search("research")} == {"research-assistant", "knowledge-management"}
    assert [m["id"] for m in r.search("CITATIONS")] == ["research-assistant"]
    assert r.search("research", "chat") == []
    info = r.info("research-assistant")
    assert "schema" not in info and info["metadata"]["requires"] == ["web-search", "rag", "local-llm"]
    assert info["name"] == "Research Assistant"
    schema = r.info("research-assistant", True)["schema"]
    names = [p["name"] for p in schema["parameters"]]
    assert names == ["topic", "max_sources", "model", "output_format", "include_citations", "session_id",
                     "memory_enabled", "context_budget", "provider_name"]
    model = next(p for p in schema["parameters"] if p["name"] == "model")
    assert model["default"] == rt.config.default_model
    assert r.schema("data-analysis")["parameters"][0]["required"] is True


async def test_unknown_template_lists_the_templates(rt: Runtime) -> None:
    with pytest.raises(ValidationError, match="Template not found: 'nope'; available templates: code-generator"):
        await reg(rt).execute("nope", {})
    with pytest.raises(ValidationError, match="'name' must be a template id string, got nil"):
        reg(rt).schema(None)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="'params' must be a table"):
        await reg(rt).execute("research-assistant", "topic")


@pytest.mark.parametrize(("tid", "params", "expect"), [
    ("research-assistant", {}, "parameter 'topic' is required"),
    ("research-assistant", {"topic": "Rust", "max_sources": 51}, "'max_sources' must be <= 50, got 51"),
    ("research-assistant", {"topic": "Rust", "output_format": "pdf"}, "'output_format' must be one of markdown"),
    ("code-generator", {"description": "short"}, "'description' length must be >= 10"),
    ("code-review", {"code_path": "a.py"}, "parameter 'language' is required"),
    ("data-analysis", {}, "parameter 'data_file' is required"),
    ("document-processor", {"document_paths": "a.txt"}, "'document_paths' must be an array"),
    ("workflow-orchestrator", {"workflow_config": []}, "'workflow_config' must be an object"),
    ("interactive-chat", {"max_turns": 0, "message": "hi"}, "'max_turns' must be >= 1"),
    ("knowledge-management", {"operation": "purge", "collection": "c"}, "'operation' must be one of ingest"),
    ("content-generation", {"topic": "Rust", "quality_threshold": 2}, "'quality_threshold' must be <= 1"),
    ("file-classification", {"source_path": "."} | {"recursive": "yes"}, "'recursive' must be a boolean"),
    ("research-assistant", {"topic": "Rust", "context_budget": 50}, "'context_budget' must be >= 100"),
])
async def test_bad_parameters_name_the_parameter(rt: Runtime, tid: str, params: dict[str, Any], expect: str) -> None:
    with pytest.raises(ValidationError, match=f"Template.execute\\('{tid}'\\): .*{expect}"):
        await reg(rt).execute(tid, params)


async def test_model_and_provider_name_resolution(rt: Runtime) -> None:
    out = await reg(rt).execute("interactive-chat", {"message": "hello", "provider_name": "offline"})
    assert out["metadata"]["model"] == "offline/scripted"
    out = await reg(rt).execute("interactive-chat", {"message": "hello", "model": "mock/m1"})
    assert out["metadata"]["model"] == "mock/m1" and "[offline mock/m1]" in out["result"]
    with pytest.raises(ValidationError, match="either 'model' or 'provider_name', not both"):
        await reg(rt).execute("interactive-chat", {"message": "x", "model": "a/b", "provider_name": "a"})
    with pytest.raises(ValidationError, match="provider_name 'acme' has no model"):
        await reg(rt).execute("interactive-chat", {"message": "x", "provider_name": "acme"})


async def test_estimate_cost_heuristics_offline_and_litellm_prices(rt: Runtime) -> None:
    r = reg(rt)
    e = await r.estimate_cost("research-assistant", {"topic": "Rust", "max_sources": 4})
    assert e == {"estimated_tokens": 4 * 500 + 3000, "estimated_duration_ms": 4 * 3000 + 8000, "confidence": 0.6,
                 "model": rt.config.default_model, "estimated_cost_usd": 0.0, "pricing": "offline"}
    assert (await r.estimate_cost("code-review", {"code_path": "x", "language": "go", "aspects": ["security"],
                                                  "generate_fixes": True}))["estimated_tokens"] == 2000
    assert (await r.estimate_cost("content-generation", {"topic": "abc", "target_length": 9000,
                                                         "max_iterations": 1}))["estimated_tokens"] == 11700
    with pytest.raises(ValidationError, match="'topic' is required"):
        await r.estimate_cost("research-assistant", {})
    # a configured real provider: priced from litellm's local cost map (nothing is called)
    rt2 = Runtime(workspace=rt.workspace, state="memory",
                  overrides={"providers": {"openai": {"base_url": "http://127.0.0.1:9/v1"}}})
    e2 = await registry(rt2).estimate_cost("interactive-chat", {"model": "openai/gpt-4o-mini", "max_turns": 1})
    import litellm

    info = litellm.model_cost["gpt-4o-mini"]
    want = 400 * (0.6 * info["input_cost_per_token"] + 0.4 * info["output_cost_per_token"])
    assert e2["pricing"] == "litellm" and e2["estimated_cost_usd"] == pytest.approx(want)
    e3 = await registry(rt2).estimate_cost("interactive-chat", {"model": "openai/no-such-model-xyz"})
    assert e3["pricing"] == "unknown" and "estimated_cost_usd" not in e3


# ---------------------------------------------------------------------------------------- execution


async def test_research_assistant_runs_agents_and_degrades_without_web(rt: Runtime) -> None:
    out = await reg(rt).execute("research-assistant", {"topic": "Rust async programming", "max_sources": 3})
    assert out["success"] is True and out["result_type"] == "text"
    assert out["result"].startswith("# Research Report: Rust async programming")
    assert "## Citation Validation" in out["result"] and "web search unavailable" in out["result"]
    m = out["metrics"]
    assert m["agents_invoked"] == 2 and m["tools_invoked"] == 1 and m["llm_calls"] == 2 and m["tokens_used"] > 0
    assert m["custom"]["source_count"] == 0 and "web search unavailable" in m["custom"]["notes"][0]
    art = out["artifacts"][0]
    assert art["filename"] == "research-report.md" and art["mime_type"] == "text/markdown"
    assert Path(art["path"]).read_text() == out["result"]
    assert Path(art["path"]).is_relative_to(rt.workspace / ".llmspell" / "templates" / "research-assistant")
    assert out["metadata"]["template_id"] == "research-assistant" and out["metadata"]["parameters"] == {
        "topic": "Rust async programming", "max_sources": 3}
    assert rt.agents.names() == []  # the template's agents are removed after use


async def test_research_assistant_json_and_html(rt: Runtime) -> None:
    out = await reg(rt).execute("research-assistant", {"topic": "Rust", "output_format": "json"})
    assert out["result_type"] == "structured" and out["result"]["topic"] == "Rust"
    assert "synthesis" in out["result"] and out["result"]["sources"] == []
    out = await reg(rt).execute("research-assistant", {"topic": "<b>Rust</b>", "output_format": "html"})
    assert "<h1>Research Report: &lt;b&gt;Rust&lt;/b&gt;</h1>" in out["result"]


async def test_interactive_chat_keeps_the_session_conversation(rt: Runtime) -> None:
    r = reg(rt)
    with pytest.raises(ValidationError, match="parameter 'message' is required in a spell"):
        await r.execute("interactive-chat", {})
    with pytest.raises(ValidationError, match=r"'tools' names unknown tool.*no-such-tool"):
        await r.execute("interactive-chat", {"message": "hi", "tools": ["no-such-tool"]})
    a = await r.execute("interactive-chat", {"message": "first question", "session_id": "s1",
                                             "system_prompt": "You are a pirate."})
    assert "pirate" in a["result"] and a["metrics"]["custom"]["turn_count"] == 1
    b = await r.execute("interactive-chat", {"message": "second question", "session_id": "s1", "max_turns": 5})
    assert b["metrics"]["custom"]["turn_count"] == 2
    hist = await rt.state.get("template_chat:s1", "history")
    assert [h["content"] for h in hist if h["role"] == "user"] == ["first question", "second question"]
    c = await r.execute("interactive-chat", {"message": "calculate 6*7", "tools": ["calculator"]})
    assert "42" in c["result"] and c["metrics"]["tools_invoked"] >= 1


async def test_code_generator_writes_code_and_tests(rt: Runtime) -> None:
    out = await reg(rt).execute("code-generator", {"description": "a function that reverses a string",
                                                   "language": "python"})
    names = [a["filename"] for a in out["artifacts"]]
    assert names == ["specification.md", "main.py", "test_main.py"]
    assert out["metrics"]["agents_invoked"] == 3 and "## Implementation" in out["result"]
    out = await reg(rt).execute("code-generator", {"description": "a function that reverses a string",
                                                   "language": "lua", "include_tests": False})
    assert [a["filename"] for a in out["artifacts"]] == ["specification.md", "main.lua"]
    assert out["metrics"]["agents_invoked"] == 2


def test_code_helpers() -> None:
    assert extract_code("intro\n```python\nx = 1\n```\nbye") == "x = 1"
    assert lint("python", "x = (")["ok"] is False and lint("python", "x = 1")["ok"] is True
    assert lint("lua", "local x = ")["ok"] is False and lint("lua", "return 1")["ok"] is True
    assert lint("rust", "fn main() { }")["ok"] is True and lint("go", "func x() {")["ok"] is False


async def test_code_review_reads_files_through_the_policy(rt: Runtime, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text("import os\nos.system(input())\n")
    (src / "b.txt").write_text("not python")
    out = await reg(rt).execute("code-review", {"code_path": "src", "language": "python",
                                                "aspects": ["security", "docs"], "generate_fixes": True})
    assert out["metrics"]["agents_invoked"] == 3 and out["metrics"]["custom"]["files_reviewed"] == 1
    assert "## security" in out["result"] and "## Suggested fixes" in out["result"]
    with pytest.raises(ValidationError, match=r"'aspects' must list some of security.*unknown: style"):
        await reg(rt).execute("code-review", {"code_path": "src", "language": "python", "aspects": ["style"]})
    with pytest.raises(ValidationError, match="no file or directory 'missing'"):
        await reg(rt).execute("code-review", {"code_path": "missing", "language": "python"})
    with pytest.raises(Exception, match=r"(?i)outside|not allowed|denied|refus"):
        await reg(rt).execute("code-review", {"code_path": "/etc/passwd", "language": "python"})
    j = await reg(rt).execute("code-review", {"code_path": "src/a.py", "language": "python", "aspects": ["quality"],
                                              "output_format": "json"})
    assert j["result_type"] == "structured" and j["result"]["files"] == ["a.py"]


async def test_content_generation_iterates_to_the_threshold(rt: Runtime) -> None:
    out = await reg(rt).execute("content-generation", {"topic": "Rust ownership", "target_length": 5000,
                                                       "max_iterations": 3, "include_outline": True})
    # offline drafts are short: the heuristic score stays under 0.8, so all 3 iterations run
    c = out["metrics"]["custom"]
    assert c["iterations"] == 3 and c["quality_score"] < 0.8
    assert out["metrics"]["agents_invoked"] == 2 + 3 + 2  # plan, write, 3 reviews, 2 revisions
    assert out["result"].startswith("## Outline")
    one = await reg(rt).execute("content-generation", {"topic": "Rust ownership", "output_format": "html"})
    assert one["metrics"]["custom"]["iterations"] == 1 and one["result"].startswith("<!DOCTYPE html>")


def test_quality_score() -> None:
    assert quality_score("Score: 0.9, good", "x", None) == 0.9
    assert quality_score("score = 45/100", "x", None) == 0.45
    assert quality_score("fine", "a b c", None) == 0.8
    assert quality_score("fine", "w " * 50, 100) == 0.4


async def test_document_processor_text_files_parallel(rt: Runtime, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Alpha document about Rust.")
    (tmp_path / "b.md").write_text("# Beta\nNotes on Lua.")
    out = await reg(rt).execute("document-processor", {"document_paths": ["a.txt", "b.md", "missing.txt"],
                                                       "transformation_type": "extract_key_points"})
    assert out["metrics"]["agents_invoked"] == 2
    assert out["metrics"]["custom"] == {"documents_processed": 2, "documents_failed": 1}
    assert "## a.txt" in out["result"] and "(not processed:" in out["result"]
    with pytest.raises(ValidationError, match="no document could be read"):
        await reg(rt).execute("document-processor", {"document_paths": ["missing.txt"]})


async def test_data_analysis_csv_and_json(rt: Runtime, tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("name,age,score\nann,30,1.5\nbob,40,2.5\n")
    out = await reg(rt).execute("data-analysis", {"data_file": "d.csv"})
    assert out["metrics"]["tools_invoked"] == 1 and out["metrics"]["agents_invoked"] == 2
    chart = next(a for a in out["artifacts"] if a["filename"] == "chart.txt")["content"]
    assert "age" in chart and "35" in chart
    (tmp_path / "d.json").write_text(json.dumps([{"a": 1}, {"a": 2}]))
    out = await reg(rt).execute("data-analysis", {"data_file": "d.json", "analysis_type": "correlation"})
    assert "correlation" in out["result"]
    with pytest.raises(ValidationError, match=r"must name a .csv"):
        await reg(rt).execute("data-analysis", {"data_file": "d.xlsx"})


def test_bar_chart() -> None:
    assert bar_chart({"a": 2.0, "bb": 1.0}, width=4) == "a  | #### 2\nbb | ## 1"
    assert bar_chart({}) == "(no numeric columns to chart)"


async def test_file_classification_report_and_copy(rt: Runtime, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.py").write_text("def f(): pass\n")
    (inbox / "b.png").write_bytes(b"\x89PNG\x00")
    (inbox / "notes").write_text("the cat and the dog. fine")
    out = await reg(rt).execute("file-classification", {"source_path": "inbox", "output_format": "json"})
    cats = {f["name"]: f["category"] for f in out["result"]["files"]}
    assert cats == {"a.py": "code", "b.png": "images", "notes": "other"}
    out = await reg(rt).execute("file-classification", {"source_path": "inbox", "classification_strategy": "content",
                                                        "output_format": "json"})
    assert {f["name"]: f["category"] for f in out["result"]["files"]}["notes"] == "documents"
    with pytest.raises(ValidationError, match="action 'copy' needs parameter 'destination_base'"):
        await reg(rt).execute("file-classification", {"source_path": "inbox", "action": "copy"})
    dry = await reg(rt).execute("file-classification", {"source_path": "inbox", "action": "copy",
                                                        "destination_base": "sorted"})
    assert "dry run" in dry["result"] and not (tmp_path / "sorted").exists()
    await reg(rt).execute("file-classification", {"source_path": "inbox", "action": "move", "dry_run": False,
                                                  "destination_base": "sorted"})
    assert (tmp_path / "sorted" / "code" / "a.py").read_text() == "def f(): pass\n"
    assert not (inbox / "a.py").exists()


async def test_knowledge_management_persists_across_runtimes(tmp_path: Path) -> None:
    def make() -> Runtime:
        return Runtime(workspace=tmp_path, state="sqlite")

    rt1 = make()
    await rt1.start()
    r1 = registry(rt1)
    ing = await r1.execute("knowledge-management", {"operation": "ingest", "collection": "notes",
                                                    "content": "Rust ownership moves values. " * 60,
                                                    "chunk_size": 50, "chunk_overlap": 10})
    assert "Ingested document 'doc-1'" in ing["result"] and ing["metrics"]["custom"]["chunks"] == 6
    await r1.execute("knowledge-management", {"operation": "ingest", "collection": "notes",
                                              "document_id": "lua", "content": "Lua tables are associative arrays."})
    await r1.execute("knowledge-management", {"operation": "ingest", "collection": "other",
                                              "content": "Lua secrets of another collection."})
    await rt1.shutdown()
    rt2 = make()
    await rt2.start()
    r2 = registry(rt2)
    q = await r2.execute("knowledge-management", {"operation": "query", "collection": "notes",
                                                  "query": "lua tables", "output_format": "json"})
    assert q["result"]["results"][0]["document_id"] == "lua"
    assert all(h["document_id"] in ("lua", "doc-1") for h in q["result"]["results"])
    assert q["metrics"]["rag_queries"] == 1 and q["metrics"]["agents_invoked"] == 1
    lst = await r2.execute("knowledge-management", {"operation": "list", "collection": "notes"})
    assert "2 document(s)" in lst["result"]
    d = await r2.execute("knowledge-management", {"operation": "delete", "collection": "notes",
                                                  "document_id": "lua"})
    assert "Deleted document 'lua'" in d["result"]
    none = await r2.execute("knowledge-management", {"operation": "query", "collection": "notes",
                                                     "query": "associative"})
    assert none["result"].startswith("No knowledge found") and none["metrics"]["agents_invoked"] == 0
    with pytest.raises(ValidationError, match="operation 'query' needs parameter 'query'"):
        await r2.execute("knowledge-management", {"operation": "query", "collection": "notes"})
    with pytest.raises(ValidationError, match="no document 'zzz'"):
        await r2.execute("knowledge-management", {"operation": "update", "collection": "notes",
                                                  "document_id": "zzz", "content": "x"})
    await rt2.shutdown()


def test_chunks_and_bm25() -> None:
    assert chunk_words("a b c d e", 2, 1) == ["a b", "b c", "c d", "d e"]
    assert chunk_words("a b", 5, 1) == ["a b"] and chunk_words("", 5, 1) == []
    scores = bm25("lua tables", [("x", "rust ownership"), ("y", "lua tables and more lua"), ("z", "tables")])
    assert [i for _, i in scores] == [1, 2]


async def test_workflow_orchestrator_modes(rt: Runtime) -> None:
    cfg = {"name": "pipe", "steps": [
        {"name": "draft", "step_type": "agent", "prompt": "Draft a haiku"},
        {"name": "upper", "step_type": "tool", "tool": "text-manipulator",
         "input": {"operation": "uppercase", "input": "done"}},
    ]}
    out = await reg(rt).execute("workflow-orchestrator", {"workflow_config": cfg})
    assert out["metrics"]["agents_invoked"] == 1 and out["metrics"]["tools_invoked"] == 1
    assert "- upper [tool]:" in out["result"] and "DONE" in out["result"]
    loop = await reg(rt).execute("workflow-orchestrator", {"workflow_config": cfg, "execution_mode": "loop",
                                                           "max_steps": 5})
    assert loop["metrics"]["custom"]["steps_executed"] == 5
    par = await reg(rt).execute("workflow-orchestrator", {"workflow_config": cfg, "execution_mode": "parallel"})
    assert par["metrics"]["custom"]["steps_executed"] == 2
    with pytest.raises(ValidationError, match=r"steps\[1\].step_type must be 'agent' or 'tool'"):
        await reg(rt).execute("workflow-orchestrator", {"workflow_config": {"steps": [{"step_type": "x"}]}})
    with pytest.raises(ValidationError, match="must contain a non-empty 'steps' array"):
        await reg(rt).execute("workflow-orchestrator", {"workflow_config": {"name": "x"}})


# ---------------------------------------------------------------------------------------- workflows


def test_custom_step_type_says_what_to_write() -> None:
    with pytest.raises(ValidationError, match="step type 'custom' was removed from rs-llmspell; write "
                                              "type = \"function\""):
        parse_step({"name": "s", "type": "custom", "fn": lambda *a: 1})
    s = parse_step({"name": "r", "type": "template", "template_id": "research-assistant", "params": {"topic": "x"}})
    assert s.type == "template" and s.template_id == "research-assistant" and s.params == {"topic": "x"}


async def test_memory_aware_templates_use_the_memory_store_when_installed(rt: Runtime) -> None:
    mem = pytest.importorskip("llmspell.memory")
    r = reg(rt)
    await r.execute("research-assistant", {"topic": "Rust ownership model", "session_id": "m1"})
    store = mem.memory_store(rt)
    entries = store.search_entries("m1", "", 10)
    assert [e["role"] for e in entries] == ["user", "assistant"]
    assert "Research topic: Rust ownership model" in entries[0]["content"]
    second = await r.execute("research-assistant", {"topic": "Rust borrowing", "session_id": "m1"})
    assert second["metrics"]["custom"]["memory_context_chars"] > 0
    other = await r.execute("research-assistant", {"topic": "Rust lifetimes", "session_id": "m2"})
    assert "memory_context_chars" not in other["metrics"]["custom"]  # sessions do not see each other
    off = await r.execute("research-assistant", {"topic": "Rust", "session_id": "m3", "memory_enabled": False})
    assert store.search_entries("m3", "", 10) == [] and "memory_stored" not in off["metrics"]["custom"]
