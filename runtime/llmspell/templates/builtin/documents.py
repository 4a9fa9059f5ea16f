"""content-generation (Content) and document-processor (document)."""

from __future__ import annotations

import asyncio
import html
import json
import re
from typing import Any

from llmspell.core.errors import ValidationError
from llmspell.templates.base import CostEstimate, Template, TemplateRun
from llmspell.templates.schema import Param, memory_parameters, model_param, provider_parameters

_SCORE = re.compile(r"(?i)\bscore\s*[:=]\s*([01](?:\.\d+)?|\d{1,3}\s*/\s*100)")


def quality_score(review: str, draft: str, target_words: int | None) -> float:
    """The editor's score when its review states one (``score: 0.85`` or ``score: 85/100``); otherwise a
    documented heuristic: 0.8, scaled down by how far the draft's word count is from ``target_words``."""
    m = _SCORE.search(review)
    if m:
        v = m.group(1).replace(" ", "")
        return max(0.0, min(1.0, float(v.split("/")[0]) / 100 if "/" in v else float(v)))
    if not target_words:
        return 0.8
    words = len(draft.split())
    return round(0.8 * min(words, target_words) / max(words, target_words), 3)


def render(text: str, fmt: str, title: str) -> str:
    if fmt == "html":
        paras = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n") if p.strip())
        return f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title></head>" \
               f"<body><h1>{html.escape(title)}</h1>{paras}</body></html>\n"
    if fmt == "text":
        return re.sub(r"(?m)^#+\s*", "", text)
    return text


class ContentGeneration(Template):
    """Plan (agent) -> write (agent) -> review/improve loop until the quality threshold or max
    iterations -> format locally (markdown, html, text, json)."""

    id = "content-generation"
    name = "Content Generation"
    description = ("Quality-driven content creation with iterative improvement: planning, writing, editing and "
                   "formatting; iterates on the editor's quality score until the threshold or max iterations.")
    category = "Content"
    requires = ("agents",)
    tags = ("content", "writing", "documentation", "marketing", "quality-control")

    def params(self) -> list[Param]:
        return [
            Param("topic", "Content topic or title", "string", required=True, min_length=3),
            Param("content_type", "Type of content to generate", "string", default="general",
                  allowed=("blog", "documentation", "marketing", "technical", "creative", "general")),
            Param("target_length", "Target word count for content", "integer", min=50, max=10000),
            Param("tone", "Tone of the content", "string", default="professional",
                  allowed=("professional", "casual", "technical", "persuasive", "friendly")),
            Param("style_guide", "Custom style guidelines for content", "string"),
            Param("quality_threshold", "Quality score threshold (0.0-1.0) for iteration", "number", default=0.8,
                  min=0.0, max=1.0),
            Param("max_iterations", "Maximum editing iterations (1-10)", "integer", default=3, min=1, max=10),
            Param("output_format", "Output format for generated content", "string", default="markdown",
                  allowed=("markdown", "html", "text", "json")),
            Param("include_outline", "Include planning outline in output", "boolean", default=False),
            model_param("LLM model to use for content generation agents"),
            *memory_parameters(), *provider_parameters(),
        ]

    def estimate(self, params: dict[str, Any]) -> CostEstimate:
        it = int(params.get("max_iterations") or 3)
        tokens = 2600 + 800 * it + 1200 * max(0, it - 1)
        if params.get("target_length"):
            tokens = max(tokens, int(int(params["target_length"]) * 1.3))
        return CostEstimate(tokens=tokens, duration_ms=16000 + 4000 * it + 6000 * max(0, it - 1), confidence=0.65)

    async def execute(self, run: TemplateRun) -> Any:
        p = run.params
        topic, target = p["topic"], p.get("target_length")
        guide = f"\nStyle guide: {p['style_guide']}" if p.get("style_guide") else ""
        length = f" of about {target} words" if target else ""
        memory = await run.memory_context(topic)
        outline = await run.agent("planner", f"{('Context: ' + memory + chr(10)) if memory else ''}Outline a "
                                  f"{p['content_type']} piece{length} on: {topic}. Tone: {p['tone']}.{guide}",
                                  system_prompt="You are a content strategist.")
        draft = await run.agent("writer", f"Write the {p['content_type']} piece{length} on '{topic}' in a "
                                f"{p['tone']} tone following this outline:\n{outline}{guide}",
                                system_prompt="You are a professional writer.", temperature=0.7)
        score, iterations = 0.0, 0
        for iterations in range(1, int(p["max_iterations"]) + 1):
            review = await run.agent("editor", "Review this draft; give 'score: <0..1>' and concrete improvements."
                                     f"\n\n{draft}", system_prompt="You are a demanding editor.", temperature=0.2)
            score = quality_score(review, draft, target)
            if score >= float(p["quality_threshold"]) or iterations == int(p["max_iterations"]):
                break
            draft = await run.agent("reviser", f"Improve the draft using this review.\n\nREVIEW:\n{review}\n\n"
                                    f"DRAFT:\n{draft}", system_prompt="You are a professional writer.")
        run.metrics.custom.update({"iterations": iterations, "quality_score": score,
                                   "word_count": len(draft.split())})
        fmt = p["output_format"]
        if fmt == "json":
            run.result_type = "structured"
            data = {"topic": topic, "content": draft, "outline": outline if p["include_outline"] else None,
                    "quality_score": score, "iterations": iterations, "word_count": len(draft.split())}
            run.save_artifact("content.json", json.dumps(data, indent=2), "application/json")
            return data
        body = (f"## Outline\n\n{outline}\n\n## Content\n\n" if p["include_outline"] else "") + draft
        out = render(body, fmt, topic)
        ext, mime = {"html": ("html", "text/html"), "text": ("txt", "text/plain")}.get(fmt, ("md", "text/markdown"))
        run.save_artifact(f"content.{ext}", out, mime)
        await run.remember(f"Write about: {topic[:200]}", draft[:500])
        return out


TRANSFORMS = {
    "summarize": "Summarize this document in a few paragraphs.",
    "extract_key_points": "Extract the key points of this document as a bullet list.",
    "translate": "Translate this document into English (or, if it is English, into Spanish).",
    "reformat": "Reformat this document into clean, well-structured sections.",
    "classify": "Classify this document: its type, topic and audience, with a one-line justification.",
}


class DocumentProcessor(Template):
    """Extract text (pdf-processor for PDFs, the path policy's gate for text files) then transform each
    document with an agent, in parallel when asked."""

    id = "document-processor"
    name = "Document Processor"
    description = ("AI-powered document processing with extraction and transformation. Extracts text from "
                   "PDFs and text files, transforms content with AI agents, and produces structured output.")
    category = "document"
    requires = ("pdf-reader", "ocr")
    tags = ("documents", "pdf", "ocr", "extraction", "transformation")

    def params(self) -> list[Param]:
        return [
            Param("document_paths", "Paths to documents to process (PDFs or text files)", "array", required=True,
                  min_length=1),
            Param("transformation_type", "Type of content transformation to apply", "string", default="summarize",
                  allowed=tuple(TRANSFORMS)),
            Param("output_format", "Output format for processed documents", "string", default="markdown",
                  allowed=("markdown", "json", "text", "html")),
            Param("parallel_processing", "Process multiple documents in parallel", "boolean", default=True),
            model_param("LLM model to use for transformation agents"),
            *memory_parameters(), *provider_parameters(),
        ]

    def estimate(self, params: dict[str, Any]) -> CostEstimate:
        n = len(params.get("document_paths") or ["doc.pdf"])
        return CostEstimate(tokens=n * 1500, duration_ms=n * 6000, confidence=0.6)

    async def _extract(self, run: TemplateRun, path: str) -> str:
        if path.lower().endswith(".pdf"):
            out = await run.tool("pdf-processor", {"operation": "extract_text", "input": path})
            r = out.get("result")
            return str(r.get("text") if isinstance(r, dict) else r or "")
        return run.read_text(path, max_bytes=1_000_000)

    async def execute(self, run: TemplateRun) -> Any:
        p = run.params
        paths = p["document_paths"]
        bad = [i + 1 for i, x in enumerate(paths) if not isinstance(x, str) or not x]
        if bad:
            raise ValidationError(f"Template.execute('{self.id}'): parameter 'document_paths' must be a list of "
                                  f"path strings; item(s) {bad} are not")
        instruction = TRANSFORMS[p["transformation_type"]]

        async def one(path: str) -> dict[str, Any]:
            try:
                text = await self._extract(run, path)
            except Exception as e:
                return {"path": path, "error": " ".join(str(e).split()) or type(e).__name__}
            out = await run.agent("transform", f"{instruction}\n\nDOCUMENT ({path}):\n{text[:20000]}",
                                  system_prompt="You are a document processing assistant.")
            return {"path": path, "characters": len(text), "output": out}

        if p["parallel_processing"]:
            docs = list(await asyncio.gather(*(one(x) for x in paths)))
        else:
            docs = [await one(x) for x in paths]
        failed = [d for d in docs if "error" in d]
        if len(failed) == len(docs):
            raise ValidationError(f"Template.execute('{self.id}'): no document could be read: "
                                  + "; ".join(f"{d['path']}: {d['error']}" for d in failed))
        run.metrics.custom.update({"documents_processed": len(docs) - len(failed), "documents_failed": len(failed)})
        fmt = p["output_format"]
        if fmt == "json":
            run.result_type = "structured"
            data = {"transformation": p["transformation_type"], "documents": docs}
            run.save_artifact("documents.json", json.dumps(data, indent=2), "application/json")
            return data
        md = "\n\n".join(f"## {d['path']}\n\n" + (d.get("output") or f"(not processed: {d.get('error')})")
                         for d in docs)
        out = render(f"# Processed documents ({p['transformation_type']})\n\n{md}", fmt, "Processed documents")
        ext, mime = {"html": ("html", "text/html"), "text": ("txt", "text/plain")}.get(fmt, ("md", "text/markdown"))
        run.save_artifact(f"documents.{ext}", out, mime)
        return out
