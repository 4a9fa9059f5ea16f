"""Web-page tools: web-scraper (selectolax), webpage-monitor, sitemap-crawler (lxml), url-analyzer,
feed-reader (feedparser, RSS and Atom).

Pages are fetched with :func:`http_request` (policy-checked, capped, time-limited); parsing uses the
field's libraries. JavaScript is never executed: ``wait_for_js`` is accepted for compatibility and
reported as not applied.
"""

from __future__ import annotations

import difflib
import gzip
import hashlib
import ipaddress
import re
import time
from typing import Any
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

from pydantic import Field

from llmspell.core.errors import ToolError
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams
from llmspell.tools.builtin._support import http_request


def _parse_html(html: str) -> Any:
    from selectolax.lexbor import LexborHTMLParser

    return LexborHTMLParser(html)


def _text(node: Any) -> str:
    return re.sub(r"\s+", " ", node.text(separator=" ") or "").strip() if node is not None else ""


def _page_text(tree: Any) -> str:
    for bad in tree.css("script, style, noscript, template"):
        bad.decompose()
    return _text(tree.body or tree.root)


def _meta(tree: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in tree.css("meta"):
        key = m.attributes.get("name") or m.attributes.get("property") or m.attributes.get("http-equiv")
        if key and m.attributes.get("content") is not None:
            out[key] = m.attributes.get("content") or ""
    return out


def _select(ctx: ToolContext, tree: Any, selector: str) -> list[Any]:
    try:
        return list(tree.css(selector))
    except Exception as e:  # selectolax raises on invalid CSS selectors
        raise ToolError(f"{ctx.tool_name}: invalid CSS selector {selector!r}: {e}") from e


class WebScraperTool(BuiltinTool):
    name = "web-scraper"
    description = "Fetch a web page and extract text by CSS selectors, links, images and meta tags"
    category = "web"
    security_level = "restricted"
    tags = ("scrape", "html", "css selector", "extract")

    class Params(ToolParams):
        input: str = Field(description="The page URL")
        selectors: dict[str, str] | None = Field(None, description="Name -> CSS selector; texts of every match")
        selector: str | None = Field(None, description="One CSS selector for the main content")
        wait_for_js: bool = Field(False, description="Accepted for compatibility; JavaScript is not executed")
        extract_links: bool = False
        extract_images: bool = False
        extract_meta: bool = False
        timeout: float = Field(30, gt=0)

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        res = await http_request(ctx, "GET", params.input, timeout=params.timeout,
                                 headers={"User-Agent": "llmspell-web-scraper/1.0"})
        tree = _parse_html(res.text)
        base = res.url
        title = _text(tree.css_first("title"))
        out: dict[str, Any] = {"url": base, "status_code": res.status, "title": title}
        if params.extract_links:
            out["links"] = [{"text": _text(a), "href": urljoin(base, a.attributes.get("href") or "")}
                            for a in tree.css("a[href]")]
        if params.extract_images:
            out["images"] = [{"src": urljoin(base, i.attributes.get("src") or ""), "alt": i.attributes.get("alt") or ""}
                             for i in tree.css("img[src]")]
        if params.extract_meta:
            out["meta"] = _meta(tree)
        if params.selectors:
            out["selected"] = {k: [_text(n) for n in _select(ctx, tree, sel)] for k, sel in params.selectors.items()}
        if params.selector:
            nodes = _select(ctx, tree, params.selector)
            out["content"] = "\n".join(_text(n) for n in nodes)
            out["matches"] = len(nodes)
        else:
            out["content"] = _page_text(tree)
        if params.wait_for_js:
            out["javascript_executed"] = False
        return out


class WebpageMonitorTool(BuiltinTool):
    name = "webpage-monitor"
    description = "Fetch a page (or part of it) and report whether it changed since the previous content"
    category = "web"
    security_level = "restricted"
    tags = ("monitor", "change detection", "diff")

    class Params(ToolParams):
        input: str = Field(description="The page URL")
        previous_content: str | None = Field(None, description="Content from the last check")
        selector: str | None = Field(None, description="Watch only what this CSS selector matches")
        ignore_whitespace: bool = True
        timeout: float = Field(30, gt=0)

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        res = await http_request(ctx, "GET", params.input, timeout=params.timeout)
        tree = _parse_html(res.text)
        if params.selector:
            nodes = _select(ctx, tree, params.selector)
            content = "\n".join(_text(n) if params.ignore_whitespace else (n.text() or "") for n in nodes)
        else:
            content = _page_text(tree) if params.ignore_whitespace else (tree.body.text() if tree.body else res.text)

        def norm(s: str) -> str:
            return re.sub(r"\s+", " ", s).strip() if params.ignore_whitespace else s

        out: dict[str, Any] = {"url": res.url, "status_code": res.status, "current_content": content,
                               "content_hash": hashlib.sha256(norm(content).encode()).hexdigest(),
                               "checked_at": time.time(), "first_check": params.previous_content is None}
        if params.previous_content is None:
            return {**out, "changed": False, "diff": ""}
        changed = norm(params.previous_content) != norm(content)
        diff = "".join(difflib.unified_diff(params.previous_content.splitlines(True), content.splitlines(True),
                                            "previous", "current")) if changed else ""
        return {**out, "changed": changed, "diff": diff}


_SM_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


class SitemapCrawlerTool(BuiltinTool):
    name = "sitemap-crawler"
    description = "Read a sitemap.xml (following sitemap indexes) and list its URLs with lastmod/priority"
    category = "web"
    security_level = "restricted"
    tags = ("sitemap", "crawl", "seo")

    class Params(ToolParams):
        input: str = Field(description="The sitemap URL")
        follow_sitemaps: bool = Field(True, description="Follow the child sitemaps of a sitemap index")
        max_urls: int = Field(1000, ge=1)
        max_sitemaps: int = Field(50, ge=1)
        timeout: float = Field(30, gt=0)

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        from lxml import etree

        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        queue: list[str] = [params.input]
        seen: set[str] = set()
        urls: list[dict[str, Any]] = []
        errors: list[dict[str, str]] = []
        truncated = False
        while queue and len(seen) < params.max_sitemaps:
            sm = queue.pop(0)
            if sm in seen:
                continue
            seen.add(sm)
            res = await http_request(ctx, "GET", sm, timeout=params.timeout)
            body = res.body
            if body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)
            try:
                root = etree.fromstring(body, parser)
            except etree.XMLSyntaxError as e:
                if sm == params.input:
                    raise ToolError(f"sitemap-crawler: {sm} is not a valid sitemap: {e}") from e
                errors.append({"sitemap": sm, "error": str(e)})
                continue
            tag = etree.QName(root).localname
            if tag == "sitemapindex":
                if params.follow_sitemaps:
                    queue.extend(urljoin(sm, (loc.text or "").strip())
                                 for loc in root.iter(f"{_SM_NS}loc", "loc"))
                continue
            for u in root.iter(f"{_SM_NS}url", "url"):
                def field(name: str, u: Any = u) -> str | None:
                    el = u.find(f"{_SM_NS}{name}")
                    if el is None:
                        el = u.find(name)
                    return el.text.strip() if el is not None and el.text else None

                loc = field("loc")
                if not loc:
                    continue
                if len(urls) >= params.max_urls:
                    truncated = True
                    break
                pr = field("priority")
                urls.append({"loc": loc, "lastmod": field("lastmod"), "changefreq": field("changefreq"),
                             "priority": float(pr) if pr else None})
            if truncated:
                break
        return {"sitemap": params.input, "urls": urls, "count": len(urls), "sitemaps_processed": len(seen),
                "truncated": truncated, "errors": errors}


class UrlAnalyzerTool(BuiltinTool):
    name = "url-analyzer"
    description = "Parse and validate a URL (parts, query parameters, domain); optionally fetch its title"
    category = "web"
    tags = ("url", "parse", "validate")

    class Params(ToolParams):
        input: str = Field(description="The URL")
        fetch_metadata: bool = Field(False, description="Fetch the page (network) for status, title, description")
        decode_params: bool = True

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        url = params.input.strip()
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as e:
            return {"url": url, "valid": False, "error": str(e)}
        host = parts.hostname or ""
        valid = bool(parts.scheme and host)
        is_ip = False
        ip_kind = None
        try:
            ip = ipaddress.ip_address(host)
            is_ip = True
            ip_kind = ("loopback" if ip.is_loopback else "link-local" if ip.is_link_local
                       else "private" if ip.is_private else "public")
        except ValueError:
            pass
        labels = host.split(".") if host and not is_ip else []
        q = parse_qs(parts.query, keep_blank_values=True)
        query = {k: (v[0] if len(v) == 1 else v) for k, v in q.items()} if params.decode_params else parts.query
        out: dict[str, Any] = {
            "url": url, "valid": valid, "scheme": parts.scheme, "host": host, "port": port,
            "default_port": {"http": 80, "https": 443, "ftp": 21}.get(parts.scheme),
            "path": unquote(parts.path) if params.decode_params else parts.path,
            "path_segments": [s for s in parts.path.split("/") if s], "query": query,
            "fragment": parts.fragment, "username": parts.username, "is_ip": is_ip, "ip_type": ip_kind,
            "domain": ".".join(labels[-2:]) if len(labels) >= 2 else host, "tld": labels[-1] if labels else None,
            "subdomain": ".".join(labels[:-2]) if len(labels) > 2 else None, "is_secure": parts.scheme == "https",
        }
        if params.fetch_metadata and valid:
            res = await http_request(ctx, "GET", url)
            meta: dict[str, Any] = {"status_code": res.status, "content_type": res.content_type,
                                    "final_url": res.url, "size": len(res.body)}
            if "html" in res.content_type:
                tree = _parse_html(res.text)
                m = _meta(tree)
                meta.update(title=_text(tree.css_first("title")), description=m.get("description") or
                            m.get("og:description"))
            out["metadata"] = meta
        return out


class FeedReaderTool(BuiltinTool):
    name = "feed-reader"
    description = "Read RSS and Atom feeds (from a URL or text) into a list of entries (feedparser)"
    category = "web"
    security_level = "restricted"
    tags = ("rss", "atom", "feed", "news")

    class Params(ToolParams):
        input: str | None = Field(None, description="The feed URL")
        content: str | None = Field(None, description="Feed XML to parse instead of fetching")
        max_items: int = Field(50, ge=1)
        timeout: float = Field(30, gt=0)

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        import feedparser

        if params.content is not None:
            raw: bytes = params.content.encode()
        elif params.input:
            raw = (await http_request(ctx, "GET", params.input, timeout=params.timeout)).body
        else:
            raise ToolError("feed-reader: parameter 'input' (feed URL) or 'content' is required")
        d = feedparser.parse(raw)
        if d.bozo and not d.entries and not d.feed:
            raise ToolError(f"feed-reader: not a valid RSS/Atom feed: {d.get('bozo_exception')}")
        f = d.feed
        items = []
        for e in d.entries[: params.max_items]:
            items.append({"title": e.get("title"), "link": e.get("link"), "id": e.get("id"),
                          "published": e.get("published") or e.get("updated"),
                          "summary": e.get("summary"), "author": e.get("author"),
                          "categories": [t.get("term") for t in e.get("tags", [])]})
        return {"title": f.get("title"), "link": f.get("link"), "description": f.get("subtitle") or
                f.get("description"), "feed_type": d.get("version") or None, "items": items,
                "count": len(items), "total_items": len(d.entries)}


TOOLS = [WebScraperTool, WebpageMonitorTool, SitemapCrawlerTool, UrlAnalyzerTool, FeedReaderTool]
