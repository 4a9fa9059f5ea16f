"""web-searcher: web search through DuckDuckGo's HTML endpoint or a search API.

Every provider has a configurable base URL (parameter ``base_url``, or ``LLMSPELL_SEARCH_<PROVIDER>_URL``)
so tests and self-hosted gateways can stand in for the public services; API keys come from the
usual environment variables (``BRAVE_API_KEY``, ``TAVILY_API_KEY``...) or ``api_key``.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import Field

from llmspell.core.errors import ToolError
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams
from llmspell.tools.builtin._support import credential, http_request, tool_env

Provider = Literal["duckduckgo", "brave", "tavily", "serpapi", "serperdev", "google", "bing"]

DEFAULT_URLS: dict[str, str] = {
    "duckduckgo": "https://html.duckduckgo.com/html/",
    "brave": "https://api.search.brave.com/res/v1/web/search",
    "tavily": "https://api.tavily.com/search",
    "serpapi": "https://serpapi.com/search.json",
    "serperdev": "https://google.serper.dev/search",
    "google": "https://www.googleapis.com/customsearch/v1",
    "bing": "https://api.bing.microsoft.com/v7.0/search",
}
KEY_ENV: dict[str, str] = {"brave": "BRAVE_API_KEY", "tavily": "TAVILY_API_KEY", "serpapi": "SERPAPI_API_KEY",
                           "serperdev": "SERPER_API_KEY", "google": "GOOGLE_SEARCH_API_KEY",
                           "bing": "BING_SEARCH_API_KEY"}


def _clean(s: str | None) -> str:
    return " ".join((s or "").split())


def _ddg_link(href: str) -> str:
    """DuckDuckGo wraps results as /l/?uddg=<target>; unwrap them."""
    if href.startswith("//"):
        href = "https:" + href
    parts = urlsplit(href)
    if parts.path.startswith("/l/"):
        target = parse_qs(parts.query).get("uddg")
        if target:
            return target[0]
    return href


class WebSearcherTool(BuiltinTool):
    name = "web-searcher"
    description = "Search the web (DuckDuckGo, Brave, Tavily, SerpAPI, Serper, Google CSE, Bing)"
    category = "web"
    security_level = "restricted"
    tags = ("search", "web", "duckduckgo")

    class Params(ToolParams):
        input: str = Field(description="The search query", min_length=1)
        provider: Provider | None = Field(None, description="Default: LLMSPELL_SEARCH_PROVIDER or duckduckgo")
        max_results: int = Field(10, ge=1, le=100)
        search_type: Literal["web", "news", "images"] = "web"
        safe_search: bool = True
        language: str | None = Field(None, description="e.g. 'en'")
        base_url: str | None = Field(None, description="Override the provider's endpoint URL")
        api_key: str | None = Field(None, description="Override the provider's API key")
        timeout: float = Field(30, gt=0)

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        provider = params.provider or tool_env(ctx, "LLMSPELL_SEARCH_PROVIDER") or "duckduckgo"
        if provider not in DEFAULT_URLS:
            raise ToolError(f"web-searcher: unknown provider {provider!r} (expected {', '.join(DEFAULT_URLS)})")
        url = params.base_url or tool_env(ctx, f"LLMSPELL_SEARCH_{provider.upper()}_URL") or DEFAULT_URLS[provider]
        key = credential(ctx, params.api_key, KEY_ENV.get(provider), spell_destination=params.base_url)
        if provider != "duckduckgo" and not key:
            raise ToolError(f"web-searcher: provider {provider} needs an API key (set {KEY_ENV[provider]} or "
                            "pass api_key)")
        results = await getattr(self, f"_{provider}")(ctx, url, key, params)
        results = results[: params.max_results]
        for i, r in enumerate(results):
            r["rank"] = i + 1
        return {"query": params.input, "provider": provider, "search_type": params.search_type,
                "results": results, "count": len(results)}

    async def _duckduckgo(self, ctx: ToolContext, url: str, key: str | None, p: Params) -> list[dict[str, Any]]:
        from selectolax.lexbor import LexborHTMLParser

        form = {"q": p.input, "kp": "1" if p.safe_search else "-2"}
        if p.language:
            form["kl"] = f"{p.language}-{p.language}"
        res = await http_request(ctx, "POST", url, form=form, timeout=p.timeout,
                                 headers={"User-Agent": "Mozilla/5.0 (llmspell web-searcher)"})
        if res.status >= 400:
            raise ToolError(f"web-searcher: duckduckgo answered HTTP {res.status}")
        tree = LexborHTMLParser(res.text)
        out = []
        for node in tree.css(".result"):
            a = node.css_first("a.result__a")
            if a is None:
                continue
            snip = node.css_first(".result__snippet")
            out.append({"title": _clean(a.text()), "url": _ddg_link(a.attributes.get("href") or ""),
                        "snippet": _clean(snip.text()) if snip is not None else ""})
        return out

    async def _json(self, ctx: ToolContext, method: str, url: str, p: Params, **kw: Any) -> Any:
        res = await http_request(ctx, method, url, timeout=p.timeout, **kw)
        if res.status >= 400:
            raise ToolError(f"web-searcher: {url} answered HTTP {res.status}: {res.text[:200]}")
        try:
            return res.json()
        except ValueError as e:
            raise ToolError("web-searcher: the search API did not return JSON") from e

    async def _brave(self, ctx: ToolContext, url: str, key: str | None, p: Params) -> list[dict[str, Any]]:
        d = await self._json(ctx, "GET", url, p, params={"q": p.input, "count": p.max_results,
                                                         "safesearch": "strict" if p.safe_search else "off"},
                             headers={"X-Subscription-Token": key or "", "Accept": "application/json"})
        return [{"title": r.get("title"), "url": r.get("url"), "snippet": r.get("description", "")}
                for r in (d.get("web") or {}).get("results", [])]

    async def _tavily(self, ctx: ToolContext, url: str, key: str | None, p: Params) -> list[dict[str, Any]]:
        d = await self._json(ctx, "POST", url, p, json_body={"api_key": key, "query": p.input,
                                                             "max_results": p.max_results,
                                                             "topic": "news" if p.search_type == "news" else "general"})
        return [{"title": r.get("title"), "url": r.get("url"), "snippet": r.get("content", "")}
                for r in d.get("results", [])]

    async def _serpapi(self, ctx: ToolContext, url: str, key: str | None, p: Params) -> list[dict[str, Any]]:
        d = await self._json(ctx, "GET", url, p, params={"q": p.input, "api_key": key, "num": p.max_results,
                                                         "engine": "google"})
        return [{"title": r.get("title"), "url": r.get("link"), "snippet": r.get("snippet", "")}
                for r in d.get("organic_results", [])]

    async def _serperdev(self, ctx: ToolContext, url: str, key: str | None, p: Params) -> list[dict[str, Any]]:
        d = await self._json(ctx, "POST", url, p, json_body={"q": p.input, "num": p.max_results},
                             headers={"X-API-KEY": key or ""})
        return [{"title": r.get("title"), "url": r.get("link"), "snippet": r.get("snippet", "")}
                for r in d.get("organic", [])]

    async def _google(self, ctx: ToolContext, url: str, key: str | None, p: Params) -> list[dict[str, Any]]:
        cx = tool_env(ctx, "GOOGLE_SEARCH_ENGINE_ID")
        if not cx:
            raise ToolError("web-searcher: provider google needs GOOGLE_SEARCH_ENGINE_ID (the custom search engine id)")
        d = await self._json(ctx, "GET", url, p, params={"q": p.input, "key": key, "cx": cx,
                                                         "num": min(p.max_results, 10),
                                                         "safe": "active" if p.safe_search else "off"})
        return [{"title": r.get("title"), "url": r.get("link"), "snippet": r.get("snippet", "")}
                for r in d.get("items", [])]

    async def _bing(self, ctx: ToolContext, url: str, key: str | None, p: Params) -> list[dict[str, Any]]:
        d = await self._json(ctx, "GET", url, p, params={"q": p.input, "count": p.max_results},
                             headers={"Ocp-Apim-Subscription-Key": key or ""})
        return [{"title": r.get("name"), "url": r.get("url"), "snippet": r.get("snippet", "")}
                for r in (d.get("webPages") or {}).get("value", [])]


TOOLS = [WebSearcherTool]
