"""Network tools against an HTTP server the test starts on 127.0.0.1, and the network refusals
(private addresses, allow-list, redirects to refused hosts, oversized responses, timeouts)."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
from typing import Any

import pytest
from aiohttp import web
from tool_helpers import call, make_runtime, result

from fakes.servers import FakeHttpServer
from llmspell.core.errors import SecurityViolationError, ToolError

# ----------------------------------------------------------------------------------- http-requester


async def test_http_get_json_and_post_body(rt: Any, http: FakeHttpServer) -> None:
    http.json("/data", {"hello": "world"})
    http.echo()
    r = await result(rt, "http-requester", {"input": http.url("/data")})
    assert r["status_code"] == 200 and r["body"] == {"hello": "world"} and r["ok"]
    p = await result(rt, "http-requester", {"input": http.url("/echo"), "method": "POST", "body": {"a": [1, 2]},
                                            "headers": {"X-Test": "yes"}, "query": {"q": "1"}})
    assert p["body"]["method"] == "POST" and p["body"]["body"] == {"a": [1, 2]}
    assert p["body"]["headers"]["X-Test"] == "yes" and p["body"]["query"] == {"q": "1"}


async def test_http_auth_modes(rt: Any, http: FakeHttpServer) -> None:
    http.echo()
    b = await result(rt, "http-requester", {"input": http.url("/echo"), "auth": {"type": "bearer", "token": "t0k"}})
    assert b["body"]["headers"]["Authorization"] == "Bearer t0k"
    basic = await result(rt, "http-requester", {"input": http.url("/echo"),
                                                "auth": {"type": "basic", "username": "u", "password": "p"}})
    assert basic["body"]["headers"]["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    k = await result(rt, "http-requester", {"input": http.url("/echo"),
                                            "auth": {"type": "api_key", "key": "K", "header": "X-Key"}})
    assert k["body"]["headers"]["X-Key"] == "K"


async def test_http_retry_until_success(rt: Any, http: FakeHttpServer) -> None:
    http.statuses("/flaky", [503, 503, 200], final={"ok": True})
    r = await result(rt, "http-requester", {"input": http.url("/flaky"),
                                            "retry": {"max_attempts": 3, "backoff_ms": 1}})
    assert r["attempts"] == 3 and r["body"] == {"ok": True} and len(http.requests_to("/flaky")) == 3


async def test_private_address_refused_by_default(closed_rt: Any, http: FakeHttpServer) -> None:
    seen: list[Any] = []
    closed_rt.events.subscribe("security.violation", seen.append)
    http.json("/data", {})
    with pytest.raises(SecurityViolationError, match="loopback"):
        await call(closed_rt, "http-requester", {"input": http.url("/data")})
    with pytest.raises(SecurityViolationError, match="private"):
        await call(closed_rt, "http-requester", {"input": "http://10.0.0.1/"})
    with pytest.raises(SecurityViolationError, match="link-local"):
        await call(closed_rt, "webhook-caller", {"input": "http://169.254.169.254/latest/meta-data"})
    await asyncio.sleep(0)
    assert len(seen) == 3 and not http.requests  # nothing was sent


async def test_non_http_scheme_refused(rt: Any) -> None:
    with pytest.raises((ToolError, SecurityViolationError), match="http"):
        await call(rt, "http-requester", {"input": "file:///etc/passwd"})


async def test_network_allow_list_and_redirect_hops(runtime_factory: Any, http: FakeHttpServer) -> None:
    rt = runtime_factory(allow_private_network=True, network_allow=["127.0.0.1"])
    http.json("/ok", {"v": 1})
    assert (await result(rt, "http-requester", {"input": http.url("/ok")}))["body"] == {"v": 1}
    with pytest.raises(SecurityViolationError, match="network_allow"):
        await call(rt, "http-requester", {"input": f"http://localhost:{http.port}/ok"})
    # a redirect to a host outside the allow-list is refused at the hop
    http.redirect("/jump", f"http://localhost:{http.port}/ok")
    with pytest.raises(SecurityViolationError, match="network_allow"):
        await call(rt, "http-requester", {"input": http.url("/jump")})
    assert len(http.requests_to("/ok")) == 1


async def test_redirect_to_private_address_refused(runtime_factory: Any) -> None:
    """A public page cannot bounce a spell to loopback: the hop is checked, not just the first URL."""
    from llmspell.tools.base import ToolContext
    from llmspell.tools.builtin import _support

    rt = runtime_factory()
    ctx = ToolContext(rt, "http-requester")
    checked: list[str] = []
    real = rt.policy.check_url

    async def spy(url: str) -> None:
        checked.append(url)
        if "public.test" in url:
            return None
        return await real(url)

    rt.policy.check_url = spy
    # the helpers resolve each hop once more to pin the connection: answer for the made-up host
    loop = asyncio.get_running_loop()
    real_gai = loop.getaddrinfo

    async def gai(host: Any, port: Any, *a: Any, **kw: Any) -> Any:
        if host == "public.test":
            return [(2, 1, 6, "", ("93.184.216.34", port))]
        return await real_gai(host, port, *a, **kw)

    loop.getaddrinfo = gai  # type: ignore[method-assign]
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": "http://127.0.0.1:9/secret"})

    orig = httpx.AsyncClient.__init__

    def patched(self: Any, *a: Any, **kw: Any) -> None:
        kw["transport"] = httpx.MockTransport(handler)
        orig(self, *a, **kw)

    httpx.AsyncClient.__init__ = patched  # type: ignore[method-assign]
    try:
        with pytest.raises(SecurityViolationError, match="loopback"):
            await _support.http_request(ctx, "GET", "http://public.test/start")
    finally:
        httpx.AsyncClient.__init__ = orig  # type: ignore[method-assign]
        loop.getaddrinfo = real_gai  # type: ignore[method-assign]
    assert checked == ["http://public.test/start", "http://127.0.0.1:9/secret"]


async def test_oversized_response_refused(runtime_factory: Any, http: FakeHttpServer) -> None:
    rt = runtime_factory(allow_private_network=True, max_response_bytes=1000)
    seen: list[Any] = []
    rt.events.subscribe("security.violation", seen.append)
    http.text("/big", "x" * 5000)

    async def chunked(req: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(req)
        for _ in range(10):
            await resp.write(b"y" * 500)
        await resp.write_eof()
        return resp

    http.route("GET", "/stream", chunked)
    with pytest.raises(SecurityViolationError, match="max_response_bytes"):
        await call(rt, "http-requester", {"input": http.url("/big")})
    with pytest.raises(SecurityViolationError, match="max_response_bytes"):
        await call(rt, "web-scraper", {"input": http.url("/stream")})
    http.text("/small", "z" * 900)
    assert (await result(rt, "http-requester", {"input": http.url("/small")}))["size"] == 900
    await asyncio.sleep(0)
    assert len(seen) == 2


async def test_timeout_is_capped_by_policy(runtime_factory: Any, http: FakeHttpServer) -> None:
    rt = runtime_factory(allow_private_network=True, network_timeout_s=0.3)
    http.slow("/slow", 1.0)
    with pytest.raises(ToolError, match=r"timed out after 0\.3s"):
        await call(rt, "http-requester", {"input": http.url("/slow"), "timeout": 60})


# ----------------------------------------------------------------------------------- api-tester, webhooks, graphql


async def test_api_tester_assertions(rt: Any, http: FakeHttpServer) -> None:
    http.json("/api", {"status": "up", "n": 3}, headers={"X-Version": "2"})
    ok = await result(rt, "api-tester", {"input": http.url("/api"), "expected_status": 200,
                                         "expected_json": {"status": "up"}, "expected_headers": {"X-Version": "2"},
                                         "expected_body_contains": "up"})
    assert ok["passed"] and ok["failed_count"] == 0 and ok["response"]["body"]["n"] == 3
    bad = await result(rt, "api-tester", {"input": http.url("/missing"), "expected_json": {"status": "up"}})
    assert not bad["passed"]
    failed = {a["name"] for a in bad["assertions"] if not a["passed"]}
    assert failed == {"status", "json.status"}


async def test_webhook_caller_retries(rt: Any, http: FakeHttpServer) -> None:
    http.statuses("/hook", [500, 502, 200], final={"received": True})
    r = await result(rt, "webhook-caller", {"input": http.url("/hook"), "payload": {"event": "done", "n": 1},
                                            "max_retries": 3, "backoff_ms": 1})
    assert r["success"] and r["attempts"] == 3 and r["response_body"] == {"received": True}
    reqs = http.requests_to("/hook")
    assert len(reqs) == 3 and all(q.json() == {"event": "done", "n": 1} for q in reqs)
    http.statuses("/down", [503])
    r2 = await result(rt, "webhook-caller", {"input": http.url("/down"), "max_retries": 1, "backoff_ms": 1})
    assert not r2["success"] and r2["attempts"] == 2 and r2["status_code"] == 503


async def test_graphql_query_and_introspection(rt: Any, http: FakeHttpServer) -> None:
    async def gql(req: web.Request) -> web.StreamResponse:
        body = await req.json()
        if "__schema" in body["query"]:
            return web.json_response({"data": {"__schema": {"types": [{"name": "Query"}, {"name": "__Type"},
                                                                      {"name": "User"}]}}})
        if "boom" in body["query"]:
            return web.json_response({"data": None, "errors": [{"message": "Cannot query field boom"}]})
        uid = body.get("variables", {}).get("id")
        return web.json_response({"data": {"user": {"id": uid, "name": f"user-{uid}"}},
                                  "echo_op": body.get("operationName")})

    http.route("POST", "/graphql", gql)
    r = await result(rt, "graphql-query", {"endpoint": http.url("/graphql"), "operation_name": "Get",
                                           "input": "query Get($id: ID!) { user(id: $id) { id name } }",
                                           "variables": {"id": "7"}})
    assert r["data"] == {"user": {"id": "7", "name": "user-7"}} and not r["has_errors"]
    assert http.requests_to("/graphql")[0].json()["operationName"] == "Get"
    e = await result(rt, "graphql-query", {"endpoint": http.url("/graphql"), "input": "{ boom }"})
    assert e["has_errors"] and "boom" in e["errors"][0]["message"]
    i = await result(rt, "graphql-query", {"endpoint": http.url("/graphql"), "operation": "introspection"})
    assert i["types"] == ["Query", "User"]
    with pytest.raises(ToolError, match="websocket"):
        await call(rt, "graphql-query", {"endpoint": http.url("/graphql"), "operation": "subscription", "input": "x"})


# ----------------------------------------------------------------------------------- pages


PAGE = """<html><head><title>Test Page</title><meta name="description" content="A page">
<meta property="og:title" content="OG"></head><body>
<h1>Heading</h1><p class="intro">Hello <b>world</b></p><p class="intro">Second</p>
<a href="/about">About us</a><a href="https://example.org/x">Ext</a><img src="/logo.png" alt="Logo">
<script>var hidden = 1;</script><div id="price">42 EUR</div></body></html>"""


async def test_web_scraper(rt: Any, http: FakeHttpServer) -> None:
    http.html("/page", PAGE)
    r = await result(rt, "web-scraper", {"input": http.url("/page"), "selectors": {"intro": "p.intro", "h": "h1"},
                                         "extract_links": True, "extract_images": True, "extract_meta": True})
    assert r["title"] == "Test Page" and r["selected"] == {"intro": ["Hello world", "Second"], "h": ["Heading"]}
    assert {"text": "About us", "href": http.url("/about")} in r["links"]
    assert r["images"] == [{"src": http.url("/logo.png"), "alt": "Logo"}]
    assert r["meta"]["description"] == "A page" and r["meta"]["og:title"] == "OG"
    assert "var hidden" not in r["content"] and "42 EUR" in r["content"]
    one = await result(rt, "web-scraper", {"input": http.url("/page"), "selector": "#price"})
    assert one["content"] == "42 EUR" and one["matches"] == 1


async def test_webpage_monitor_detects_change(rt: Any, http: FakeHttpServer) -> None:
    state = {"price": "42"}

    async def page(_: web.Request) -> web.StreamResponse:
        return web.Response(text=f"<html><body><div id='p'>{state['price']} EUR</div><p>ads {state['price']}</p>"
                                 "</body></html>", content_type="text/html")

    http.route("GET", "/shop", page)
    first = await result(rt, "webpage-monitor", {"input": http.url("/shop"), "selector": "#p"})
    assert first["first_check"] and not first["changed"] and first["current_content"] == "42 EUR"
    same = await result(rt, "webpage-monitor", {"input": http.url("/shop"), "selector": "#p",
                                                "previous_content": "42   EUR"})
    assert not same["changed"]
    state["price"] = "39"
    changed = await result(rt, "webpage-monitor", {"input": http.url("/shop"), "selector": "#p",
                                                   "previous_content": first["current_content"]})
    assert changed["changed"] and "+39 EUR" in changed["diff"]


async def test_sitemap_crawler_follows_index_and_gzip(rt: Any, http: FakeHttpServer) -> None:
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    http.text("/sitemap.xml", f'<?xml version="1.0"?><sitemapindex {ns}><sitemap><loc>{http.url("/a.xml")}</loc>'
                              f'</sitemap><sitemap><loc>/b.xml.gz</loc></sitemap></sitemapindex>',
              content_type="application/xml")
    http.text("/a.xml", f'<urlset {ns}><url><loc>https://s.test/1</loc><lastmod>2024-01-01</lastmod>'
                        f'<priority>0.8</priority></url><url><loc>https://s.test/2</loc></url></urlset>',
              content_type="application/xml")
    http.text("/b.xml.gz", gzip.compress(f'<urlset {ns}><url><loc>https://s.test/3</loc></url></urlset>'.encode()),
              content_type="application/octet-stream")
    r = await result(rt, "sitemap-crawler", {"input": http.url("/sitemap.xml")})
    assert [u["loc"] for u in r["urls"]] == ["https://s.test/1", "https://s.test/2", "https://s.test/3"]
    assert r["urls"][0]["priority"] == 0.8 and r["sitemaps_processed"] == 3
    t = await result(rt, "sitemap-crawler", {"input": http.url("/sitemap.xml"), "max_urls": 2})
    assert t["count"] == 2 and t["truncated"]
    nf = await result(rt, "sitemap-crawler", {"input": http.url("/sitemap.xml"), "follow_sitemaps": False})
    assert nf["count"] == 0


async def test_url_analyzer(rt: Any, http: FakeHttpServer) -> None:
    r = await result(rt, "url-analyzer", {"input": "https://user@api.sub.example.co.uk:8443/a%20b/c?x=1&y=2&y=3#frag"})
    assert r["valid"] and r["host"] == "api.sub.example.co.uk" and r["port"] == 8443
    assert r["path"] == "/a b/c" and r["query"] == {"x": "1", "y": ["2", "3"]} and r["fragment"] == "frag"
    assert r["username"] == "user" and r["is_secure"] and r["tld"] == "uk"
    assert not (await result(rt, "url-analyzer", {"input": "not a url"}))["valid"]
    http.html("/page", PAGE)
    m = await result(rt, "url-analyzer", {"input": http.url("/page"), "fetch_metadata": True})
    assert m["is_ip"] and m["ip_type"] == "loopback"
    assert m["metadata"]["title"] == "Test Page" and m["metadata"]["description"] == "A page"


RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>News</title><link>https://n.test/</link>
<description>Daily</description><item><title>First</title><link>https://n.test/1</link>
<pubDate>Mon, 01 Jan 2024 10:00:00 GMT</pubDate><description>One</description><category>tech</category></item>
<item><title>Second</title><link>https://n.test/2</link></item></channel></rss>"""
ATOM = """<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Blog</title>
<link href="https://b.test/"/><updated>2024-01-02T00:00:00Z</updated><id>urn:b</id>
<entry><title>Post</title><link href="https://b.test/p"/><id>urn:p</id><updated>2024-01-02T00:00:00Z</updated>
<summary>Sum</summary><author><name>Ada</name></author></entry></feed>"""


async def test_feed_reader_rss_and_atom(rt: Any, http: FakeHttpServer) -> None:
    http.text("/rss", RSS, content_type="application/rss+xml")
    r = await result(rt, "feed-reader", {"input": http.url("/rss"), "max_items": 5})
    assert r["title"] == "News" and r["feed_type"] == "rss20" and r["count"] == 2
    assert r["items"][0]["title"] == "First" and r["items"][0]["categories"] == ["tech"]
    a = await result(rt, "feed-reader", {"content": ATOM})
    assert a["feed_type"] == "atom10" and a["items"][0]["author"] == "Ada" and a["items"][0]["link"] == "https://b.test/p"
    with pytest.raises(ToolError, match="not a valid"):
        await call(rt, "feed-reader", {"content": "this is not xml <<<"})


# ----------------------------------------------------------------------------------- search


DDG = """<html><body><div class="result"><a class="result__a" href="//duckduckgo.com/l/?uddg=https%3A%2F%2Flua.org%2F">
The <b>Lua</b> language</a><a class="result__snippet">Lua is a powerful scripting language.</a></div>
<div class="result"><a class="result__a" href="https://www.lua.org/manual/">Manual</a>
<div class="result__snippet">Reference manual</div></div></body></html>"""


async def test_web_searcher_duckduckgo_html(rt: Any, http: FakeHttpServer) -> None:
    http.html("/html/", DDG, method="POST")
    r = await result(rt, "web-searcher", {"input": "lua language", "provider": "duckduckgo",
                                          "base_url": http.url("/html/"), "max_results": 5})
    assert r["count"] == 2 and r["results"][0] == {"title": "The Lua language", "url": "https://lua.org/",
                                                   "snippet": "Lua is a powerful scripting language.", "rank": 1}
    form = http.requests_to("/html/")[0].text
    assert "q=lua+language" in form


async def test_web_searcher_api_providers(rt: Any, http: FakeHttpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    http.json("/brave", {"web": {"results": [{"title": "T", "url": "https://t.test", "description": "D"}]}})
    r = await result(rt, "web-searcher", {"input": "q", "provider": "brave", "base_url": http.url("/brave"),
                                          "api_key": "bk"})
    assert r["results"] == [{"title": "T", "url": "https://t.test", "snippet": "D", "rank": 1}]
    assert http.requests_to("/brave")[0].headers["X-Subscription-Token"] == "bk"
    http.json("/tavily", {"results": [{"title": "A", "url": "https://a.test", "content": "C"}]})
    monkeypatch.setenv("TAVILY_API_KEY", "tk")
    monkeypatch.setenv("LLMSPELL_SEARCH_TAVILY_URL", http.url("/tavily"))  # operator-configured endpoint
    rt = make_runtime(rt.workspace, allow_private_network=True)  # the vault copies them at build time
    t = await result(rt, "web-searcher", {"input": "q", "provider": "tavily"})
    assert t["results"][0]["snippet"] == "C" and http.requests_to("/tavily")[0].json()["api_key"] == "tk"
    with pytest.raises(SecurityViolationError, match="TAVILY_API_KEY"):
        await call(rt, "web-searcher", {"input": "q", "provider": "tavily", "base_url": http.url("/tavily")})
    monkeypatch.delenv("SERPER_API_KEY", raising=False)
    with pytest.raises(ToolError, match="SERPER_API_KEY"):
        await call(rt, "web-searcher", {"input": "q", "provider": "serperdev"})


async def test_service_checker(rt: Any, closed_rt: Any, http: FakeHttpServer) -> None:
    http.text("/health", "ok")
    tcp = await result(rt, "service-checker", {"target": f"127.0.0.1:{http.port}", "check_type": "tcp"})
    assert tcp["available"] and tcp["response_time_ms"] >= 0
    from fakes.servers import free_port

    closed = await result(rt, "service-checker", {"target": f"127.0.0.1:{free_port()}", "check_type": "tcp",
                                                  "timeout_seconds": 2})
    assert closed["available"] is False and closed["error"]
    h = await result(rt, "service-checker", {"target": http.url("/health"), "check_type": "http"})
    assert h["available"] and h["status_code"] == 200
    d = await result(rt, "service-checker", {"target": "localhost", "check_type": "dns"})
    assert d["available"] and any(a in ("127.0.0.1", "::1") for a in d["addresses"])
    with pytest.raises(SecurityViolationError):
        await call(closed_rt, "service-checker", {"target": f"127.0.0.1:{http.port}", "check_type": "tcp"})
    with pytest.raises(SecurityViolationError, match="loopback"):
        await call(closed_rt, "service-checker", {"target": "localhost", "check_type": "dns"})


def test_json_dumps_of_results_are_plain() -> None:
    # the fake server's JSON helper is what the tests above rely on
    assert json.loads(json.dumps({"a": 1})) == {"a": 1}
