"""research-assistant and knowledge-management (category research)."""

from __future__ import annotations

import html
import json
import math
import re
import time
from typing import Any

from llmspell.core.errors import ValidationError
from llmspell.templates.base import CostEstimate, Template, TemplateRun
from llmspell.templates.schema import Param, memory_parameters, model_param, provider_parameters


class ResearchAssistant(Template):
    """Gather (web-searcher) -> synthesize (agent) -> validate citations (agent) -> format."""

    id = "research-assistant"
    name = "Research Assistant"
    description = ("Multi-source research with citations, synthesis, and validation. Performs web search, "
                   "AI synthesis with citations, and citation validation.")
    category = "research"
    version = "0.1.1"
    requires = ("web-search", "rag", "local-llm")
    tags = ("research", "citations", "multi-source", "synthesis", "rag")

    def params(self) -> list[Param]:
        return [
            Param("topic", "Research topic or question", "string", required=True, min_length=3),
            Param("max_sources", "Maximum number of sources to gather (1-50)", "integer", default=10, min=1, max=50),
            model_param("LLM model to use for synthesis and validation"),
            Param("output_format", "Output format: markdown, json, or html", "string", default="markdown",
                  allowed=("markdown", "json", "html")),
            Param("include_citations", "Include citation links in output", "boolean", default=True),
            *memory_parameters(), *provider_parameters(),
        ]

    def estimate(self, params: dict[str, Any]) -> CostEstimate:
        n = int(params.get("max_sources") or 10)
        return CostEstimate(tokens=n * 500 + 2000 + 1000, duration_ms=n * 3000 + 5000 + 3000, confidence=0.6)

    async def gather(self, run: TemplateRun, topic: str, n: int) -> list[dict[str, Any]]:
        try:
            out = await run.tool("web-searcher", {"input": topic, "max_results": n, "timeout": 15})
        except Exception as e:
            run.notes.append(f"web search unavailable ({_one_line(e)}); the synthesis has no external sources")
            return []
        res = out.get("result")
        items = res.get("results") if isinstance(res, dict) else res
        sources = []
        for i, r in enumerate(items if isinstance(items, list) else []):
            if isinstance(r, dict):
                sources.append({"title": str(r.get("title") or f"Source {i + 1}"), "url": str(r.get("url") or ""),
                                "content": str(r.get("snippet") or r.get("content") or ""),
                                "relevance_score": round(max(0.0, 1.0 - 0.1 * i), 2)})
        if not sources:
            run.notes.append("web search returned no results; the synthesis has no external sources")
        return sources[:n]

    async def execute(self, run: TemplateRun) -> Any:
        p = run.params
        topic: str = p["topic"]
        sources = await self.gather(run, topic, int(p["max_sources"]))
        memory = await run.memory_context(topic)
        src_text = "\n---\n".join(f"SOURCE {i + 1}: {s['title']}\nURL: {s['url']}\n{s['content']}"
                                  for i, s in enumerate(sources))
        prompt = (f"{'Earlier context:' + chr(10) + memory + chr(10) + chr(10) if memory else ''}"
                  f"RESEARCH TOPIC: {topic}\n"
                  f"{'RELEVANT SOURCES:' + chr(10) + src_text + chr(10) if sources else 'No external sources.'}\n"
                  "Write a research synthesis: executive summary, key findings, implications and further research.")
        synthesis = await run.agent("synthesizer", prompt, temperature=0.7, max_tokens=2000,
                                    system_prompt="You are a research synthesis assistant.")
        validation = await run.agent(
            "citation-validator",
            f"Validate the citations of this research synthesis against {len(sources)} source(s). "
            f"List unsupported claims.\n\nSYNTHESIS:\n{synthesis}\n\nSOURCES:\n"
            + ("\n".join(f"{i + 1}. {s['title']} {s['url']}" for i, s in enumerate(sources)) or "none"),
            system_prompt="You are a citation validation assistant.", temperature=0.3, max_tokens=1000)
        fmt = p["output_format"]
        cite = bool(p["include_citations"])
        result: Any
        if fmt == "json":
            run.result_type = "structured"
            result = {"topic": topic, "synthesis": synthesis, "validation": validation,
                      "sources": sources if cite else [], "notes": list(run.notes)}
            run.save_artifact("research-report.json", json.dumps(result, indent=2), "application/json")
        elif fmt == "html":
            result = _html_report(topic, synthesis, validation, sources if cite else [], run.notes)
            run.save_artifact("research-report.html", result, "text/html")
        else:
            result = _md_report(topic, synthesis, validation, sources if cite else [], run.notes)
            run.save_artifact("research-report.md", result, "text/markdown")
        run.metrics.custom.update({"sources_gathered": len(sources), "source_count": len(sources),
                                   "session_tag": f"research-{run.execution_id}"})
        await run.remember(f"Research topic: {topic[:100]}",
                           f"Synthesized research from {len(sources)} sources: {synthesis[:500]}")
        return result


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:200] or type(e).__name__


def _md_report(topic: str, synthesis: str, validation: str, sources: list[dict[str, Any]], notes: list[str]) -> str:
    parts = [f"# Research Report: {topic}", "", "## Synthesis", "", synthesis, "", "## Citation Validation", "",
             validation]
    if sources:
        parts += ["", "## Sources", ""] + [f"{i + 1}. [{s['title']}]({s['url']})" for i, s in enumerate(sources)]
    if notes:
        parts += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(parts) + "\n"


def _html_report(topic: str, synthesis: str, validation: str, sources: list[dict[str, Any]], notes: list[str]) -> str:
    e = html.escape
    body = [f"<h1>Research Report: {e(topic)}</h1>", "<h2>Synthesis</h2>", f"<p>{e(synthesis)}</p>",
            "<h2>Citation Validation</h2>", f"<p>{e(validation)}</p>"]
    if sources:
        body.append("<h2>Sources</h2><ol>" + "".join(
            f'<li><a href="{e(s["url"])}">{e(s["title"])}</a></li>' for s in sources) + "</ol>")
    if notes:
        body.append("<h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + e(topic) + "</title></head><body>\n" + \
        "\n".join(body) + "\n</body></html>\n"


# ------------------------------------------------------------------------------------ knowledge base

_WORD = re.compile(r"[A-Za-z0-9_]+")


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def chunk_words(text: str, size: int, overlap: int) -> list[str]:
    """Split ``text`` into chunks of ``size`` words, consecutive chunks sharing ``overlap`` words."""
    words = text.split()
    if not words:
        return []
    step = max(1, size - max(0, min(overlap, size - 1)))
    chunks: list[str] = []
    i = 0
    while True:
        chunks.append(" ".join(words[i:i + size]))
        if i + size >= len(words):
            return chunks
        i += step


def bm25(query: str, chunks: list[tuple[str, str]], k1: float = 1.5, b: float = 0.75) -> list[tuple[float, int]]:
    """BM25 scores of ``chunks`` ((doc id, text) pairs) for ``query``: (score, index), best first, >0 only."""
    docs = [_words(t) for _, t in chunks]
    n = len(docs)
    if not n:
        return []
    avg = sum(len(d) for d in docs) / n or 1.0
    terms = set(_words(query))
    df = {t: sum(1 for d in docs if t in d) for t in terms}
    scored = []
    for i, d in enumerate(docs):
        s = 0.0
        for t in terms:
            f = d.count(t)
            if not f:
                continue
            idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
            s += idf * f * (k1 + 1) / (f + k1 * (1 - b + b * len(d) / avg))
        if s > 0:
            scored.append((s, i))
    scored.sort(key=lambda x: -x[0])
    return scored


class KnowledgeManagement(Template):
    """A persistent knowledge base per collection (state store): ingest, query (BM25 + synthesis agent),
    update, delete, list."""

    id = "knowledge-management"
    name = "Knowledge Management"
    description = ("RAG-powered knowledge management with ingest-query-synthesize pipeline. Supports "
                   "multi-collection storage, CRUD operations, and citation tracking for personal knowledge bases.")
    category = "research"
    tags = ("rag", "knowledge-base", "semantic-search", "research", "learning")

    def params(self) -> list[Param]:
        return [
            Param("operation", "Knowledge base operation", "string", required=True,
                  allowed=("ingest", "query", "update", "delete", "list")),
            Param("collection", "Collection name for knowledge storage", "string", required=True, min_length=1,
                  max_length=100),
            Param("content", "Content to ingest or file path", "string"),
            Param("query", "Search query for knowledge retrieval", "string"),
            Param("document_id", "Document identifier for update/delete", "string"),
            Param("source_type", "Content source type", "string", default="text", allowed=("text", "markdown", "file")),
            Param("max_results", "Maximum query results", "integer", default=5, min=1, max=50),
            Param("include_citations", "Include source citations in results", "boolean", default=True),
            Param("chunk_size", "Words per chunk for document splitting", "integer", default=200, min=50, max=1000),
            Param("chunk_overlap", "Word overlap between chunks", "integer", default=50, min=0),
            Param("output_format", "Output format", "string", default="text", allowed=("text", "json")),
            model_param("LLM model for query synthesis"),
            *memory_parameters(), *provider_parameters(),
        ]

    def estimate(self, params: dict[str, Any]) -> CostEstimate:
        op = str(params.get("operation") or "query")
        tokens = {"ingest": 500, "query": 1000, "update": 400, "delete": 100, "list": 200}.get(op, 300)
        dur = {"ingest": 500, "query": 300, "update": 400, "delete": 100, "list": 150}.get(op, 250)
        return CostEstimate(tokens=tokens, duration_ms=dur, confidence=0.7)

    async def execute(self, run: TemplateRun) -> Any:
        p = run.params
        op, coll = p["operation"], p["collection"]
        state = run.runtime.state
        scope, key = f"template_kb:{coll}", "documents"
        docs: dict[str, Any] = await state.get(scope, key) or {}
        where = f"Template.execute('{self.id}')"

        def need(name: str) -> str:
            v = p.get(name)
            if not isinstance(v, str) or not v:
                raise ValidationError(f"{where}: operation '{op}' needs parameter '{name}' (a string)")
            return v

        def body() -> str:
            content = need("content")
            if p["source_type"] == "file":
                return run.read_text(content)
            return content

        if op in ("ingest", "update"):
            doc_id = p.get("document_id") or (f"doc-{len(docs) + 1}" if op == "ingest" else need("document_id"))
            if op == "update" and doc_id not in docs:
                raise ValidationError(f"{where}: no document '{doc_id}' in collection '{coll}' "
                                      f"(documents: {', '.join(sorted(docs)) or 'none'})")
            text = body()
            chunks = chunk_words(text, int(p["chunk_size"]), int(p["chunk_overlap"]))
            docs[doc_id] = {"content": text, "chunks": chunks, "source_type": p["source_type"],
                            "source": p["content"] if p["source_type"] == "file" else None,
                            "updated_at": time.time()}
            await state.set(scope, key, docs)
            run.metrics.custom.update({"document_id": doc_id, "chunks": len(chunks)})
            msg = f"{'Ingested' if op == 'ingest' else 'Updated'} document '{doc_id}' into collection '{coll}' " \
                  f"({len(chunks)} chunk{'s' if len(chunks) != 1 else ''})"
            return self._out(run, msg, {"operation": op, "collection": coll, "document_id": doc_id,
                                        "chunks": len(chunks)})
        if op == "delete":
            doc_id = need("document_id")
            existed = docs.pop(doc_id, None) is not None
            await state.set(scope, key, docs)
            msg = f"Deleted document '{doc_id}' from '{coll}'" if existed else f"No document '{doc_id}' in '{coll}'"
            return self._out(run, msg, {"operation": op, "collection": coll, "document_id": doc_id,
                                        "deleted": existed})
        if op == "list":
            items = [{"document_id": d, "chunks": len(v.get("chunks") or []),
                      "preview": str(v.get("content", ""))[:80]} for d, v in sorted(docs.items())]
            msg = f"Collection '{coll}': {len(items)} document(s)\n" + "\n".join(
                f"- {i['document_id']} ({i['chunks']} chunks): {i['preview']}" for i in items)
            return self._out(run, msg, {"operation": op, "collection": coll, "documents": items})
        # query
        q = need("query")
        flat = [(d, c) for d, v in docs.items() for c in (v.get("chunks") or [])]
        run.metrics.rag_queries += 1
        hits = bm25(q, flat)[: int(p["max_results"])]
        found = [{"document_id": flat[i][0], "score": round(s, 4), "text": flat[i][1]} for s, i in hits]
        if not found:
            answer = f"No knowledge found in collection '{coll}' for: {q}"
        else:
            ctx = "\n\n".join(f"[{j + 1}] ({f['document_id']}) {f['text']}" for j, f in enumerate(found))
            answer = await run.agent("synthesizer", f"Answer from these passages only.\n\n{ctx}\n\nQUESTION: {q}",
                                     system_prompt="You answer questions from a knowledge base, citing [n].")
            if p["include_citations"]:
                answer += "\n\nSources:\n" + "\n".join(f"[{j + 1}] {f['document_id']} (score {f['score']})"
                                                      for j, f in enumerate(found))
        run.metrics.custom["results"] = len(found)
        return self._out(run, answer, {"operation": op, "collection": coll, "query": q, "answer": answer,
                                       "results": found})

    @staticmethod
    def _out(run: TemplateRun, text: str, data: dict[str, Any]) -> Any:
        if run.params["output_format"] == "json":
            run.result_type = "structured"
            return data
        return text
