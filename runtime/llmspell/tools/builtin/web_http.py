"""HTTP tools: http-requester, api-tester, webhook-caller, graphql-query (httpx under the policy).

All requests go through :func:`http_request`: the URL and every redirect hop are checked against
the policy (private addresses refused unless allowed, ``network_allow``), the timeout is capped by
the policy and the body stops at ``max_response_bytes``.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any, Literal

from pydantic import BaseModel, Field

from llmspell.core.errors import SecurityViolationError, ToolError
from llmspell.core.types import ToolOutput
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams, envelope_output
from llmspell.tools.builtin._support import HttpResult, http_request, parse_body

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class AuthSpec(BaseModel):
    type: Literal["basic", "bearer", "api_key"] = Field(description="basic, bearer or api_key")
    username: str | None = None
    password: str | None = None
    token: str | None = None
    key: str | None = None
    header: str = "X-API-Key"


class RetrySpec(BaseModel):
    max_attempts: int = Field(3, ge=1, le=10)
    backoff_ms: int = Field(200, ge=0, le=60000)
    retry_on: list[int] = Field(default_factory=lambda: [429, 500, 502, 503, 504])


def _headers_with_auth(headers: dict[str, str] | None, auth: AuthSpec | None) -> dict[str, str]:
    h = dict(headers or {})
    if auth is None:
        return h
    if auth.type == "basic":
        raw = f"{auth.username or ''}:{auth.password or ''}".encode()
        h["Authorization"] = "Basic " + base64.b64encode(raw).decode()
    elif auth.type == "bearer":
        if not auth.token:
            raise ToolError("parameter 'auth.token' is required for bearer auth")
        h["Authorization"] = f"Bearer {auth.token}"
    else:
        if not auth.key:
            raise ToolError("parameter 'auth.key' is required for api_key auth")
        h[auth.header] = auth.key
    return h


def _body_kwargs(body: Any, headers: dict[str, str]) -> dict[str, Any]:
    if body is None:
        return {}
    if isinstance(body, (dict, list)):
        return {"json_body": body}
    return {"content": str(body)}


async def send_with_retry(ctx: ToolContext, method: str, url: str, *, retry: RetrySpec | None,
                          retry_unreachable: bool = True, **kw: Any) -> tuple[HttpResult, int]:
    """Send, retrying on the listed statuses and transport errors with exponential backoff
    (``retry_unreachable=False``: a host that does not resolve is not tried again)."""
    attempts = retry.max_attempts if retry else 1
    last_err: ToolError | None = None
    for i in range(attempts):
        try:
            res = await http_request(ctx, method, url, **kw)
        except SecurityViolationError:
            raise
        except ToolError as e:
            last_err = e
            if not retry_unreachable and "could not resolve" in e.message:
                attempts = i + 1
                break
        else:
            if retry is None or res.status not in retry.retry_on or i == attempts - 1:
                return res, i + 1
        if retry and i < attempts - 1:
            await asyncio.sleep(min(retry.backoff_ms * (2**i), 10_000) / 1000)
    assert last_err is not None
    if attempts == 1:
        raise last_err
    raise ToolError(f"{last_err.message} (after {attempts} attempts)", details=last_err.details)


def _response(res: HttpResult) -> dict[str, Any]:
    return {"status_code": res.status, "ok": 200 <= res.status < 300, "url": res.url, "headers": res.headers,
            "body": parse_body(res), "content_type": res.content_type, "size": len(res.body),
            "elapsed_ms": round(res.elapsed_ms, 3), "redirects": res.history}


class HttpRequesterTool(BuiltinTool):
    name = "http-requester"
    description = "Send HTTP requests (any method, headers, JSON or text body, auth, retries)"
    category = "web"
    security_level = "restricted"
    tags = ("http", "request", "rest", "api")

    class Params(ToolParams):
        input: str = Field(description="The URL")
        method: Method = "GET"
        headers: dict[str, str] = Field(default_factory=dict)
        body: Any = Field(None, description="A table is sent as JSON, a string as is")
        query: dict[str, Any] | None = Field(None, description="Query-string parameters")
        auth: AuthSpec | None = None
        retry: RetrySpec | None = None
        timeout: float | None = Field(None, gt=0, description="Seconds (capped by the policy)")

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        headers = _headers_with_auth(params.headers, params.auth)
        res, attempts = await send_with_retry(
            ctx, params.method, params.input, retry=params.retry, headers=headers, params=params.query,
            timeout=params.timeout, **_body_kwargs(params.body, headers))
        return {**_response(res), "method": params.method, "attempts": attempts}


class ApiTesterTool(BuiltinTool):
    name = "api-tester"
    description = "Call an API endpoint and check the status, timing, headers and body against expectations"
    category = "web"
    security_level = "restricted"
    tags = ("api", "test", "http", "assert")

    class Params(ToolParams):
        input: str = Field(description="The URL")
        method: Method = "GET"
        headers: dict[str, str] = Field(default_factory=dict)
        body: Any = None
        timeout: float = Field(30, gt=0)
        expected_status: int | list[int] | None = Field(None, description="Status code(s) that pass")
        expected_body_contains: str | None = None
        expected_json: dict[str, Any] | None = Field(None, description="Keys/values the JSON body must contain")
        expected_headers: dict[str, str] | None = None
        max_response_time_ms: float | None = Field(None, gt=0)

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        res = await http_request(ctx, params.method, params.input, headers=params.headers, timeout=params.timeout,
                                 **_body_kwargs(params.body, params.headers))
        body = parse_body(res)
        checks: list[dict[str, Any]] = []

        def check(name: str, passed: bool, expected: Any, actual: Any) -> None:
            checks.append({"name": name, "passed": passed, "expected": expected, "actual": actual})

        exp = params.expected_status
        if exp is None:
            check("status", 200 <= res.status < 300, "2xx", res.status)
        else:
            allowed = exp if isinstance(exp, list) else [exp]
            check("status", res.status in allowed, allowed, res.status)
        if params.expected_body_contains is not None:
            check("body_contains", params.expected_body_contains in res.text, params.expected_body_contains, None)
        if params.expected_json is not None:
            for k, v in params.expected_json.items():
                actual = body.get(k) if isinstance(body, dict) else None
                check(f"json.{k}", actual == v, v, actual)
        for k, v in (params.expected_headers or {}).items():
            actual = res.headers.get(k.lower())
            check(f"header.{k}", actual == v, v, actual)
        if params.max_response_time_ms is not None:
            check("response_time", res.elapsed_ms <= params.max_response_time_ms, params.max_response_time_ms,
                  round(res.elapsed_ms, 3))
        return {
            "request": {"method": params.method, "url": params.input},
            "response": {"status_code": res.status, "headers": res.headers, "body": body, "size": len(res.body)},
            "timing": {"elapsed_ms": round(res.elapsed_ms, 3)},
            "assertions": checks, "passed": all(c["passed"] for c in checks),
            "failed_count": sum(not c["passed"] for c in checks),
        }


class WebhookCallerTool(BuiltinTool):
    name = "webhook-caller"
    description = "Send a JSON payload to a webhook URL, retrying on failures with backoff"
    category = "communication"
    security_level = "restricted"
    tags = ("webhook", "notify", "http")

    class Params(ToolParams):
        input: str = Field(description="The webhook URL")
        payload: Any = Field(default_factory=dict, description="Sent as JSON")
        headers: dict[str, str] | None = None
        max_retries: int = Field(3, ge=0, le=10)
        timeout: float = Field(30, gt=0)
        method: Literal["POST", "PUT", "PATCH"] = "POST"
        backoff_ms: int = Field(200, ge=0, le=60000)

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any] | ToolOutput:
        retry = RetrySpec(max_attempts=params.max_retries + 1, backoff_ms=params.backoff_ms,
                          retry_on=[408, 425, 429, 500, 502, 503, 504])
        try:
            res, attempts = await send_with_retry(ctx, params.method, params.input, retry=retry,
                                                  headers=params.headers, json_body=params.payload,
                                                  timeout=params.timeout, retry_unreachable=False)
        except ToolError as e:
            # as rs-llmspell's webhook-caller: a call that never got a response (unresolvable host,
            # refused connection, timeout) is a soft failure the spell reads as r.success == false
            msg = e.message
            result = {"success": False, "webhook_url": params.input, "error": e.message,
                      "max_retries": params.max_retries}
            # a workflow step carries on with this output, as rs-llmspell's does (the tool returned)
            return envelope_output("call", result, success=False, error=msg, metadata={"soft_failure": True})
        return {"url": params.input, "method": params.method, "status_code": res.status,
                "success": 200 <= res.status < 300, "attempts": attempts, "response_body": parse_body(res),
                "elapsed_ms": round(res.elapsed_ms, 3)}


INTROSPECTION_QUERY = """query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { kind name description fields(includeDeprecated: true) { name description
      args { name type { kind name ofType { kind name } } }
      type { kind name ofType { kind name ofType { kind name } } } } }
  }
}"""


class GraphQLQueryTool(BuiltinTool):
    name = "graphql-query"
    description = "Run GraphQL queries and mutations (or introspect a schema) over HTTP"
    category = "web"
    security_level = "restricted"
    tags = ("graphql", "api", "query")

    class Params(ToolParams):
        operation: Literal["query", "mutation", "subscription", "introspection"] = "query"
        endpoint: str = Field(description="The GraphQL endpoint URL")
        input: str | None = Field(None, description="The GraphQL document")
        variables: dict[str, Any] | None = None
        operation_name: str | None = None
        headers: dict[str, str] | None = None
        timeout: float = Field(30, gt=0)

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        if params.operation == "subscription":
            raise ToolError("graphql-query: subscriptions need a websocket transport; only query, mutation and "
                            "introspection are supported over HTTP")
        doc = INTROSPECTION_QUERY if params.operation == "introspection" else params.input
        if not doc:
            raise ToolError(f"graphql-query: parameter 'input' (the GraphQL document) is required for "
                            f"{params.operation}")
        body: dict[str, Any] = {"query": doc}
        if params.variables:
            body["variables"] = params.variables
        if params.operation_name:
            body["operationName"] = params.operation_name
        headers = {"Accept": "application/json", **(params.headers or {})}
        res = await http_request(ctx, "POST", params.endpoint, headers=headers, json_body=body,
                                 timeout=params.timeout)
        try:
            data = json.loads(res.body)
        except ValueError as e:
            raise ToolError(f"graphql-query: the endpoint answered HTTP {res.status} with non-JSON content") from e
        if not isinstance(data, dict):
            raise ToolError("graphql-query: expected a JSON object with 'data'/'errors'")
        out = {"data": data.get("data"), "errors": data.get("errors") or [], "status_code": res.status,
               "has_errors": bool(data.get("errors"))}
        if params.operation == "introspection" and isinstance(data.get("data"), dict):
            schema = data["data"].get("__schema") or {}
            out["types"] = [t.get("name") for t in schema.get("types") or [] if not str(t.get("name")).startswith("__")]
        return out


TOOLS = [HttpRequesterTool, ApiTesterTool, WebhookCallerTool, GraphQLQueryTool]
