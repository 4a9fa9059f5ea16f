"""Shared plumbing for the catalogue's tools: the security policy, optional packages, HTTP.

Every tool module imports only this and the base class at import time; the libraries a tool uses
(httpx, selectolax, pyarrow, ...) are imported inside ``run`` so that building the registry and
``import llmspell`` stay cheap, and a missing optional package is reported when that tool is used,
naming the pip extra that provides it.
"""

from __future__ import annotations

import importlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from llmspell.core.errors import SecurityViolationError, ToolError

if TYPE_CHECKING:
    from llmspell.security.fs import PathGate
    from llmspell.tools.base import ToolContext


# ----------------------------------------------------------------------------------- optional packages


def need(module: str, extra: str, *, package: str | None = None, tool: str = "") -> ModuleType:
    """Import an optional dependency or fail with the pip extra that installs it.

    Heavy libraries (pyarrow, torch, Pillow...) are optional so the runtime installs fast; a spell
    that uses such a tool must learn what to install, not see a bare ImportError.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        who = f"{tool}: " if tool else ""
        pkg = package or module.split(".")[0]
        raise ToolError(
            f"{who}this tool needs the optional package '{pkg}', which is not installed; "
            f"install it with: pip install 'llmspell-ls[{extra}]'",
            details={"package": pkg, "extra": extra},
        ) from e


# ----------------------------------------------------------------------------------- the policy


_DEFAULT_POLICIES: dict[str, Any] = {}


def policy_of(ctx: ToolContext) -> Any:
    """The runtime's policy, or (for a tool used outside a runtime) the default closed policy.

    A bare tool must never be *more* permissive than one inside a runtime, so we build the policy
    from the default SecurityConfig rather than skipping the checks.
    """
    pol = ctx.policy
    if pol is not None:
        return pol
    key = str(ctx.workspace)
    pol = _DEFAULT_POLICIES.get(key)
    if pol is None:
        from llmspell.config import SecurityConfig
        from llmspell.security.policy import SecurityPolicy

        pol = SecurityPolicy.from_config(SecurityConfig(), workspace=ctx.workspace)
        _DEFAULT_POLICIES[key] = pol
    return pol


def check_path(ctx: ToolContext, path: str | Path, *, write: bool = False) -> Path:
    """A path through the policy (workspace-relative when relative); refusals raise."""
    if ctx.policy is None:
        p = Path(path).expanduser()
        if not p.is_absolute():
            p = ctx.workspace / p
        return Path(policy_of(ctx).check_path(p, write=write))
    return ctx.check_path(path, write=write)


def gate_of(ctx: ToolContext) -> PathGate:
    """The policy's path gate (security/fs.py): open, list, create and remove files only through it."""
    pol = policy_of(ctx)
    g = getattr(pol, "gate", None)
    if g is not None:
        return g  # type: ignore[no-any-return]
    from llmspell.security.fs import PathGate

    roots = getattr(pol, "allowed_roots", None) or [ctx.workspace]
    return PathGate(roots, getattr(pol, "workspace", ctx.workspace))


MAX_FILE_BYTES = 256 * 1024 * 1024


def read_file(ctx: ToolContext, path: str | Path, *, max_bytes: int | None = None) -> bytes:
    """A file's bytes through the path gate; a missing file or a directory is a ToolError naming it."""
    who = ctx.tool_name or "tool"
    try:
        return gate_of(ctx).read_bytes(path, max_bytes=max_bytes or int(
            getattr(policy_of(ctx), "max_file_bytes", MAX_FILE_BYTES)))
    except (FileNotFoundError, NotADirectoryError):
        raise ToolError(f"{who}: no such file: {path}") from None
    except IsADirectoryError:
        raise ToolError(f"{who}: {path} is a directory, not a file") from None
    except OSError as e:
        raise ToolError(f"{who}: cannot read {path}: {e.strerror or e}") from None


def write_file(ctx: ToolContext, path: str | Path, data: bytes) -> Path:
    """Write (create or replace) a file through the path gate, creating its directories; its path."""
    who = ctx.tool_name or "tool"
    gate = gate_of(ctx)
    try:
        gate.write_bytes(path, data, parents=True)
    except IsADirectoryError:
        raise ToolError(f"{who}: {path} is a directory, not a file") from None
    except OSError as e:
        raise ToolError(f"{who}: cannot write {path}: {e.strerror or e}") from None
    return gate.resolve(path, write=True)


def quiet_gate(ctx: ToolContext) -> PathGate:
    """The same gate, but refusals are not reported (a walk skipping a link it met is not a violation)."""
    return gate_of(ctx).derive(refuse=None)


async def check_url(ctx: ToolContext, url: str) -> str:
    """Check a URL against the policy (scheme, allow-list, private addresses)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ToolError(f"{ctx.tool_name or 'tool'}: expected an http(s) URL, got {url!r}")
    res = await policy_of(ctx).check_url(url)
    return str(res) if isinstance(res, str) else url


async def check_host(ctx: ToolContext, host: str, port: int | None = None) -> None:
    """Check a bare host (SMTP, TCP probes) with the same rules as URLs."""
    h = f"[{host}]" if ":" in host and not host.startswith("[") else host
    await policy_of(ctx).check_url(f"http://{h}{f':{port}' if port else ''}/")


def refuse(ctx: ToolContext, message: str, *, operation: str = "network", **details: Any) -> SecurityViolationError:
    """Build a refusal (reported through the policy: SecurityViolation hook and event) to raise.

    The policy owns the reporting; refusals that tools decide themselves (a response larger than
    the cap, an archive member escaping its directory) go through the same path so they look like
    the policy's own.
    """
    pol = policy_of(ctx)
    fn = getattr(pol, "_refuse", None)
    if callable(fn):
        err = fn(operation, message, **details)
        if isinstance(err, SecurityViolationError):
            return err
    return SecurityViolationError(message, details={"operation": operation, **details})


def max_response_bytes(ctx: ToolContext) -> int:
    return int(getattr(policy_of(ctx), "max_response_bytes", 10 * 1024 * 1024))


def network_timeout(ctx: ToolContext, requested: float | None = None) -> float:
    """The smaller of what the spell asked for and the policy's ceiling."""
    cap = float(getattr(policy_of(ctx), "network_timeout_s", 30.0))
    if requested is None or requested <= 0:
        return cap
    return min(float(requested), cap)


def tool_env(ctx: ToolContext, name: str) -> str | None:
    """A setting or credential a builtin tool reads from the environment (``SMTP_HOST``,
    ``SLACK_BOT_TOKEN``...): only names the configuration gives tools (``security.tool_env``), taken
    from the runtime's secret vault (copied when the runtime was built), never from ``os.environ``."""
    from llmspell.security.secrets import vault_of

    return vault_of(ctx.runtime).get(name)


def credential(ctx: ToolContext, explicit: str | None, env_name: str | None, *,
               spell_destination: str | None) -> str | None:
    """A credential given explicitly, or the configured one (``env_name``, from the secret vault).

    A configured credential is only sent to endpoints the operator configured (defaults, the
    vault's ``*_URL`` settings): when the spell chose the destination (``spell_destination``: a
    ``base_url``/``smtp_host`` parameter), sending it there would let a spell exfiltrate it, so that
    is refused unless the variable is one the spell may read anyway (``security.env_allow``).
    """
    if explicit:
        return explicit
    if not env_name:
        return None
    value = tool_env(ctx, env_name)
    if value is None and policy_of(ctx).env_visible(env_name):
        value = os.environ.get(env_name)
    if value and spell_destination and not policy_of(ctx).env_visible(env_name):
        raise refuse(ctx, f"{ctx.tool_name}: will not send the secret {env_name} to {spell_destination}, an "
                          "endpoint chosen by the spell; pass the credential explicitly, configure the endpoint "
                          f"in the environment, or add {env_name} to security.env_allow",
                     operation="env", name=env_name, destination=spell_destination)
    return value


# ----------------------------------------------------------------------------------- address pinning
#
# ``SecurityPolicy.check_url`` resolves a host name and refuses it when an address is not public, but it
# does not hand back what it resolved. If the HTTP client then resolved the name again, a host whose DNS
# answers a public address to the check and 127.0.0.1 to the connection (DNS rebinding) would reach a
# refused address. So each hop is resolved once more *here*, every address is put through the policy's
# own rule, and the connection is made to exactly those addresses (``_PinnedBackend``); the client never
# resolves names itself. The URL (Host header, TLS SNI and certificate check) keeps the host name.


def _refusal_reason(address: str) -> str | None:
    """Why the policy would refuse this address (loopback, private, ...), or None for a public one."""
    import ipaddress

    from llmspell.security.policy import _blocked_address

    return _blocked_address(ipaddress.ip_address(address.split("%", 1)[0]))


def _is_ip_literal(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


async def resolve_checked(ctx: ToolContext, host: str, port: int) -> list[str]:
    """Resolve ``host`` once and return its addresses after the policy's address rule.

    For callers that open their own connections (SMTP, TCP probes): connect to these addresses, never
    to the name, so that a second DNS answer cannot differ from the checked one. An IP literal is
    returned as is (the policy already checked it); with ``allow_private_network`` nothing is refused.
    Raises SecurityViolationError (reported like the policy's own refusals) or ToolError (no answer).
    """
    import asyncio
    import socket

    h = host.strip("[]")
    if _is_ip_literal(h):
        return [h]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(h, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise ToolError(f"{ctx.tool_name or 'tool'}: could not resolve '{h}': {e}",
                        details={"host": h}) from e
    addrs = list(dict.fromkeys(str(i[4][0]) for i in infos))
    if not addrs:
        raise ToolError(f"{ctx.tool_name or 'tool'}: could not resolve '{h}': no addresses", details={"host": h})
    if not getattr(policy_of(ctx), "allow_private_network", False):
        for a in addrs:
            why = _refusal_reason(a)
            if why is not None:
                raise refuse(ctx, f"host '{h}' resolves to a {why} address ({a}); requests to non-public "
                                  "addresses are refused unless security.allow_private_network = true",
                             host=h, address=a, category=why, check="pinned_resolution")
    return addrs


def _host_key(host: str) -> str:
    return host.strip("[]").lower().rstrip(".")


def _pinned_backend(pins: dict[tuple[str, int], list[str]]) -> Any:
    """An httpcore network backend that connects to the pinned addresses of ``(host, port)``.

    httpcore passes the origin's host name to ``connect_tcp`` and uses it (not the address) for TLS
    SNI and certificate verification, so only the TCP target changes. A name without a pin is refused
    (fail closed): every hop is pinned by the request hook before httpx opens its connection.
    """
    import httpcore

    class _PinnedBackend(httpcore.AsyncNetworkBackend):
        def __init__(self) -> None:
            self._inner = httpcore.AnyIOBackend()

        async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                              local_address: str | None = None, socket_options: Any = None) -> Any:
            addrs = pins.get((_host_key(host), port))
            if addrs is None:
                if not _is_ip_literal(host):
                    raise httpcore.ConnectError(f"no checked address for {host}:{port} (refusing to resolve it)")
                addrs = [host.strip("[]")]
            last: Exception | None = None
            for a in addrs:
                try:
                    return await self._inner.connect_tcp(a, port, timeout=timeout, local_address=local_address,
                                                         socket_options=socket_options)
                except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                    last = e
            assert last is not None
            raise last

        async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                      socket_options: Any = None) -> Any:
            raise httpcore.ConnectError("unix sockets are not used by the tools")

        async def sleep(self, seconds: float) -> None:
            await self._inner.sleep(seconds)

    return _PinnedBackend()


def _pinned_transport(pins: dict[tuple[str, int], list[str]]) -> Any:
    """httpx's own transport (request/response mapping, error translation) over a pinned connection pool.

    httpx 0.28 has no public hook for the network backend, so the transport's pool is replaced by an
    equivalent one built with ``_pinned_backend``; if that attribute ever disappears this fails loudly
    rather than silently resolving names again.
    """
    import httpcore
    import httpx

    transport = httpx.AsyncHTTPTransport(verify=_ssl_context(), trust_env=False)
    if not isinstance(getattr(transport, "_pool", None), httpcore.AsyncConnectionPool):
        raise ToolError("this httpx version does not allow pinning resolved addresses; the tools need httpx 0.28")
    transport._pool = httpcore.AsyncConnectionPool(ssl_context=_ssl_context(), http1=True, http2=False,
                                                   network_backend=_pinned_backend(pins))
    return transport


# ----------------------------------------------------------------------------------- HTTP


_SSL_CONTEXT: Any = None


def _ssl_context() -> Any:
    """One verified TLS context for all tool requests: building one costs ~20-40 ms (CA bundle load)."""
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        import httpx

        _SSL_CONTEXT = httpx.create_ssl_context()
    return _SSL_CONTEXT


@dataclass
class HttpResult:
    status: int
    url: str
    headers: dict[str, str]
    body: bytes
    elapsed_ms: float
    encoding: str | None = None
    history: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.body.decode(self.encoding or "utf-8", errors="replace")

    def json(self) -> Any:
        import json

        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


async def http_request(
    ctx: ToolContext,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    content: bytes | str | None = None,
    json_body: Any = None,
    form: dict[str, Any] | None = None,
    auth: tuple[str, str] | None = None,
    timeout: float | None = None,
    follow_redirects: bool = True,
) -> HttpResult:
    """One HTTP exchange under the policy: every hop checked and pinned, time-limited, size-capped.

    Redirects are followed by httpx but each new request goes through the policy in a request
    hook, so a public page cannot bounce a spell to 127.0.0.1. Each hop's host is resolved once
    and the connection goes to the checked addresses (see ``_pinned_backend``), so DNS rebinding
    cannot swap in a refused address between the check and the connection. The body is streamed
    and the transfer stops as soon as it passes the policy's ``max_response_bytes``.
    """
    import httpx

    await check_url(ctx, url)
    limit = max_response_bytes(ctx)
    t = network_timeout(ctx, timeout)
    pin = not getattr(policy_of(ctx), "allow_private_network", False)
    pins: dict[tuple[str, int], list[str]] = {}

    async def _pin(u: httpx.URL) -> None:
        host = u.raw_host.decode("ascii")
        port = u.port or (443 if u.scheme == "https" else 80)
        if not _is_ip_literal(host) and (_host_key(host), port) not in pins:
            pins[(_host_key(host), port)] = await resolve_checked(ctx, host, port)

    async def _check_hop(request: httpx.Request) -> None:
        if str(request.url) != url:
            await check_url(ctx, str(request.url))
        if pin:
            await _pin(request.url)

    start = time.perf_counter()
    try:
        async with httpx.AsyncClient(
            timeout=t, follow_redirects=follow_redirects, trust_env=False, verify=_ssl_context(),
            event_hooks={"request": [_check_hop]}, max_redirects=10,
            transport=_pinned_transport(pins) if pin else None,
        ) as client:
            kwargs: dict[str, Any] = {"headers": headers or None, "params": params or None}
            if json_body is not None:
                kwargs["json"] = json_body
            elif form is not None:
                kwargs["data"] = form
            elif content is not None:
                kwargs["content"] = content
            if auth is not None:
                kwargs["auth"] = auth
            async with client.stream(method.upper(), url, **kwargs) as resp:
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > limit:
                    raise refuse(ctx, f"{ctx.tool_name}: response from {url} is {declared} bytes, larger than "
                                      f"the policy's max_response_bytes ({limit})",
                                 check="max_response_bytes", url=url, limit=limit)
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise refuse(ctx, f"{ctx.tool_name}: response from {url} exceeds the policy's "
                                          f"max_response_bytes ({limit})",
                                     check="max_response_bytes", url=url, limit=limit)
                    chunks.append(chunk)
                return HttpResult(
                    status=resp.status_code, url=str(resp.url),
                    headers={k.lower(): v for k, v in resp.headers.items()},
                    body=b"".join(chunks), elapsed_ms=(time.perf_counter() - start) * 1000,
                    encoding=resp.charset_encoding, history=[str(h.url) for h in resp.history],
                )
    except httpx.TimeoutException as e:
        raise ToolError(f"{ctx.tool_name}: {method.upper()} {url} timed out after {t:g}s",
                        details={"url": url, "timeout_s": t}) from e
    except httpx.TooManyRedirects as e:
        raise ToolError(f"{ctx.tool_name}: too many redirects from {url}") from e
    except httpx.HTTPError as e:
        raise ToolError(f"{ctx.tool_name}: {method.upper()} {url} failed: {e}", details={"url": url}) from e


def parse_body(res: HttpResult) -> Any:
    """JSON when the server says so (or it parses), else text."""
    if "json" in res.content_type:
        try:
            return res.json()
        except ValueError:
            return res.text
    return res.text


# ----------------------------------------------------------------------------------- LLM provider


async def llm_complete(ctx: ToolContext, prompt: str, *, system: str | None = None, model: str | None = None,
                       temperature: float | None = 0.0, max_tokens: int | None = None) -> tuple[str, str]:
    """Ask the runtime's configured provider; returns (text, model id).

    AI tools (sentiment, translation, image description) go through the same provider registry as
    agents, so they honour the spell's model configuration, recording and replay.
    """
    from llmspell.providers.base import ChatMessage, CompletionRequest

    rt = ctx.runtime
    if rt is None or getattr(rt, "providers", None) is None:
        raise ToolError(f"{ctx.tool_name}: needs a runtime with a configured LLM provider")
    cfg = getattr(rt, "config", None)
    model_id = model or getattr(cfg, "default_model", None) or "offline/scripted"
    messages = []
    if system:
        messages.append(ChatMessage(role="system", content=system))
    messages.append(ChatMessage(role="user", content=prompt))
    req = CompletionRequest(model=model_id, messages=messages, temperature=temperature, max_tokens=max_tokens)
    comp = await rt.providers.get(model_id).complete(req)
    return comp.text, comp.model or model_id
