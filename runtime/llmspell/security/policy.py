"""The security policy every tool consults before touching files, the network, processes or the
environment.

Defaults are closed where it matters: files only under the workspace (plus the spell's directory and
``security.allowed_paths``), network only to public addresses over http(s), no processes unless
allow-listed, environment variables hidden unless ``security.env_allow`` names them. Every refusal raises
:class:`SecurityViolationError` naming what was refused and how to allow it, and calls
``on_violation(operation, reason, details)`` (the runtime publishes ``security.violation`` and runs
SecurityViolation hooks from it).
"""

from __future__ import annotations

import asyncio
import fnmatch
import ipaddress
import logging
import os
import re
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from llmspell.core.errors import SecurityViolationError
from llmspell.security.fs import PathGate

if TYPE_CHECKING:
    from llmspell.config import SecurityConfig

log = logging.getLogger("llmspell.security")

_SHELL_CHARS = re.compile(r"[\s;&|`$<>(){}\[\]*?!~'\"\\]")

ViolationCallback = Callable[[str, str, dict[str, Any]], Any]


TEMP_DIR_MODES = ("private", "system", "none")


def system_temp_dirs() -> list[str]:
    """The system temp directories spells may name: ``/tmp`` and ``$TMPDIR`` (never ``/``)."""
    import tempfile

    out: list[str] = []
    for t in ("/tmp", os.environ.get("TMPDIR") or "", tempfile.gettempdir()):
        if t and os.path.isabs(t):
            n = os.path.normpath(t)
            if n != os.sep and n not in out:
                out.append(n)
    return out


def _resolve(p: Path) -> Path:
    return Path(os.path.realpath(p))


def _blocked_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address is not public, or None."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for attr, why in (
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_unspecified", "unspecified"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
    ):
        if getattr(ip, attr):
            return why
    if not ip.is_global:  # e.g. 100.64.0.0/10 (shared address space)
        return "non-public"
    return None


class SecurityPolicy:
    """File, network, process and environment rules for one runtime (see the module docstring)."""

    def __init__(
        self,
        *,
        workspace: Path,
        allowed_paths: list[str] | None = None,
        network_allow: list[str] | None = None,
        allow_private_network: bool = False,
        process_allow: list[str] | None = None,
        process_allow_interpreters: list[str] | None = None,
        env_allow: list[str] | None = None,
        max_response_bytes: int = 10 * 1024 * 1024,
        network_timeout_s: float = 30.0,
        max_database_bytes: int = 256 * 1024 * 1024,
        max_result_rows: int = 100_000,
        refuse_hardlinks: bool = True,
        temp_dir: str = "private",
    ):
        self.workspace = _resolve(Path(workspace))
        self._roots: list[Path] = [self.workspace]
        for p in allowed_paths or []:
            self.allow_path(p)
        self.network_allow = [h.lower() for h in (network_allow or [])]
        self.allow_private_network = allow_private_network
        self.process_allow = list(process_allow or [])
        self.process_allow_interpreters = list(process_allow_interpreters or [])
        self.env_allow = list(env_allow or [])
        self.max_response_bytes = max_response_bytes
        self.network_timeout_s = network_timeout_s
        self.on_violation: ViolationCallback | None = None
        self.violations = 0
        self.refuse_hardlinks = refuse_hardlinks
        self.max_database_bytes = max_database_bytes
        self.max_result_rows = max_result_rows
        self._gate: PathGate | None = None
        if temp_dir not in TEMP_DIR_MODES:
            raise ValueError(f"security.temp_dir must be one of {', '.join(TEMP_DIR_MODES)}, got {temp_dir!r}")
        self.temp_dir = temp_dir
        if temp_dir == "system":
            for t in system_temp_dirs():
                self.allow_path(t)

    @classmethod
    def from_config(cls, cfg: SecurityConfig, *, workspace: Path) -> SecurityPolicy:
        return cls(
            workspace=workspace,
            allowed_paths=cfg.allowed_paths,
            network_allow=cfg.network_allow,
            allow_private_network=cfg.allow_private_network,
            process_allow=cfg.process_allow,
            process_allow_interpreters=getattr(cfg, "process_allow_interpreters", None),
            env_allow=cfg.env_allow,
            max_response_bytes=cfg.max_response_bytes,
            network_timeout_s=cfg.network_timeout_s,
            max_database_bytes=cfg.max_database_bytes,
            max_result_rows=cfg.max_result_rows,
            refuse_hardlinks=cfg.refuse_hardlinks,
            temp_dir=getattr(cfg, "temp_dir", "private"),
        )

    # ------------------------------------------------------------------------------------ refusals

    def _refuse(self, operation: str, reason: str, **details: Any) -> SecurityViolationError:
        self.violations += 1
        details = {"operation": operation, **details}
        cb = self.on_violation
        if cb is not None:
            try:
                cb(operation, reason, details)
            except Exception:  # reporting must never turn a refusal into a different error
                log.exception("security on_violation callback failed")
        return SecurityViolationError(reason, details=details)

    # ------------------------------------------------------------------------------------ files

    @property
    def allowed_roots(self) -> list[Path]:
        return list(self._roots)

    def allow_path(self, p: str | Path) -> Path:
        """Add a directory (e.g. the spell's own) under which file access is allowed."""
        path = Path(p).expanduser()
        if not path.is_absolute():
            path = self.workspace / path
        root = _resolve(path)
        if root not in self._roots:
            self._roots.append(root)
            self._gate = None
        return root

    @property
    def protected_files(self) -> list[Path]:
        """Files no spell may write, remove or rename: the workspace configuration (the policy and
        limits the next run starts with)."""
        return [self.workspace / "llmspell.toml"]

    @property
    def gate(self) -> PathGate:
        """The path gate over the allowed roots: every file touch opens through it (security/fs.py)."""
        g = self._gate
        if g is None:
            g = self._gate = PathGate(self._roots, self.workspace, refuse=self._refuse,
                                      refuse_hardlinks=self.refuse_hardlinks, protected=self.protected_files,
                                      **self._temp_mapping())
        return g

    @property
    def private_temp(self) -> Path:
        """The workspace's private temp folder (``security.temp_dir = "private"``)."""
        return self.workspace / ".llmspell" / "tmp"

    def _temp_mapping(self) -> dict[str, Any]:
        """Gate settings beyond the roots: the private /tmp mapping and the read fallback from the
        current directory (rs-llmspell's spells name files relative to where they are run from)."""
        if self.temp_dir != "private":
            return {"cwd_fallback": True}
        return {"temp_dirs": system_temp_dirs(), "temp_private": self.private_temp, "cwd_fallback": True}

    def gate_with(self, *extra_roots: str | Path | None) -> PathGate:
        """A gate over the allowed roots plus ``extra_roots`` (the Lua engine adds the spell's folder)."""
        extra = [Path(r) for r in extra_roots if r is not None]
        if not extra:
            return self.gate
        return PathGate([*self._roots, *extra], self.workspace, refuse=self._refuse,
                        refuse_hardlinks=self.refuse_hardlinks, protected=self.protected_files,
                        **self._temp_mapping())

    def check_path(self, path: str | Path, *, write: bool = False) -> Path:
        """The physical path of ``path`` if it lies beneath an allowed root; refusals raise.

        Relative paths are taken from the workspace. This is the gate's own resolution (symlinks are
        followed only while they stay inside, ``..`` cannot climb out, NUL bytes are refused), so its
        answer and its messages are the gate's; but a checked *name* must not be opened again by
        name: open, list, create or remove through :attr:`gate` instead.
        """
        return self.gate.resolve(path, write=write)

    # ------------------------------------------------------------------------------------ network

    def host_allowed(self, host: str) -> bool:
        if not self.network_allow:
            return True
        h = host.lower().rstrip(".")
        return any(h == pat or fnmatch.fnmatchcase(h, pat) for pat in self.network_allow)

    async def check_url(self, url: str) -> None:
        """Refuse non-http(s) URLs, hosts outside ``network_allow``, and (unless
        ``allow_private_network``) hosts that resolve to loopback/private/link-local/multicast/reserved
        addresses. A host that does not resolve is left to the HTTP client to report.
        """
        if not isinstance(url, str):
            raise self._refuse("network", f"a URL must be a string, got {type(url).__name__}", url=str(url))
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as e:
            raise self._refuse("network", f"invalid URL '{url}': {e}", url=url) from e
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise self._refuse(
                "network", f"URL scheme '{scheme or '(none)'}' is not allowed in '{url}': only http and https",
                url=url, scheme=scheme,
            )
        host = parts.hostname
        if not host:
            raise self._refuse("network", f"URL '{url}' has no host", url=url)
        if not self.host_allowed(host):
            raise self._refuse(
                "network",
                f"host '{host}' is not in security.network_allow ({', '.join(self.network_allow)}); "
                "add it (or a pattern like '*.example.com') to allow it",
                url=url, host=host, allowed=list(self.network_allow),
            )
        if self.allow_private_network:
            return
        addrs: list[str]
        try:
            addrs = [str(ipaddress.ip_address(host))]
        except ValueError:
            try:
                loop = asyncio.get_running_loop()
                infos = await loop.getaddrinfo(host, port or (443 if scheme == "https" else 80),
                                               type=socket.SOCK_STREAM)
            except OSError:
                return
            addrs = sorted({str(i[4][0]) for i in infos})
        for a in addrs:
            why = _blocked_address(ipaddress.ip_address(a.split("%", 1)[0]))
            if why is not None:
                raise self._refuse(
                    "network",
                    f"host '{host}' resolves to a {why} address ({a}); requests to non-public addresses "
                    "are refused unless security.allow_private_network = true",
                    url=url, host=host, address=a, category=why,
                )

    # ------------------------------------------------------------------------------------ processes

    def check_executable(self, name: str) -> str:
        """The absolute path of an allow-listed program (never run through a shell).

        A name with a directory in it is accepted only when ``process_allow`` lists that very path
        (absolute); a program that runs code it is given (shell, interpreter, launcher, see
        ``llmspell.security.process``) also needs ``process_allow_interpreters``.
        """
        if not isinstance(name, str) or not name or _SHELL_CHARS.search(name):
            raise self._refuse(
                "process", f"invalid program name {name!r}: give a plain executable name, no shell syntax",
                program=str(name),
            )
        if not self.process_allow:
            raise self._refuse(
                "process",
                f"running programs is disabled ('{name}' refused); list it in security.process_allow to allow it",
                program=name, allowed=[],
            )
        qualified = os.sep in name or (os.altsep is not None and os.altsep in name)
        if qualified:
            listed = [e for e in self.process_allow if os.sep in e]
            if not os.path.isabs(name) or not any(os.path.realpath(e) == os.path.realpath(name) for e in listed):
                raise self._refuse(
                    "process",
                    f"program path '{name}' is not in security.process_allow (a path runs only when the allow-list "
                    "names that exact absolute path; give the plain name of an allowed program instead)",
                    program=name, allowed=list(self.process_allow))
            found = name if os.access(name, os.X_OK) and os.path.isfile(name) else None
        else:
            if name not in self.process_allow:
                raise self._refuse(
                    "process",
                    f"program '{name}' is not in security.process_allow ({', '.join(self.process_allow)})",
                    program=name, allowed=list(self.process_allow),
                )
            from llmspell.security.process import safe_search_path

            found = shutil.which(name, path=safe_search_path(self._roots))
        if found is None:
            raise self._refuse("process", f"program '{name}' is allowed but was not found"
                               + ("" if qualified else " on PATH"), program=name, allowed=list(self.process_allow))
        from llmspell.security.process import is_code_runner

        real = os.path.realpath(found)
        if is_code_runner(name, real) or is_code_runner(found):
            marked = any(e == name or (os.sep in e and os.path.realpath(e) == real)
                         for e in self.process_allow_interpreters)
            if not marked:
                raise self._refuse(
                    "process",
                    f"program '{name}' runs code it is given (a shell, interpreter or launcher such as env, xargs, "
                    "find -exec, awk, make): allowing it allows any program, so it also needs "
                    "security.process_allow_interpreters",
                    program=name, resolved=real)
        return found

    def process_plan(self, program: str, resolved: str, args: list[str], cwd: Path) -> Any:
        """Check ``args`` for ``program`` (per-program rules, paths inside the allowed roots) and return
        the :class:`llmspell.security.process.Plan` (arguments and environment the rules add)."""
        from llmspell.security.process import check_arguments

        cwd_real = _resolve(cwd)
        roots = sorted((r for r in self._roots if r == cwd_real or r in cwd_real.parents),
                       key=lambda r: len(str(r)), reverse=True)
        if not roots:
            raise self._refuse("process", f"working directory {cwd} is outside the allowed paths",
                               program=program, cwd=str(cwd))

        def inside(p: str) -> bool:
            real = _resolve(Path(p))
            return any(real == r or r in real.parents for r in self._roots)

        plan, why = check_arguments(program, resolved, list(args), cwd_real, roots[0], inside)
        if why:
            raise self._refuse("process", f"process-executor: {why}", program=program, arguments=list(args))
        return plan

    # ------------------------------------------------------------------------------------ environment

    def env_visible(self, name: str) -> bool:
        """True only for names ``security.env_allow`` lists (names or glob patterns): an allow-list.

        There is no name-based guess at what is secret (``DATABASE_URL`` and ``DB_PASS`` look
        harmless to any such guess) and no built-in visible set; see ``llmspell.security.secrets``.
        """
        from llmspell.security.secrets import spell_visible

        return spell_visible(name, self.env_allow)

    def check_env(self, name: str) -> None:
        """Raise (and report) unless ``name`` is visible; for tools that read one variable on request."""
        if not self.env_visible(name):
            raise self._refuse(
                "env",
                f"environment variable '{name}' is not visible to spells; list it in security.env_allow "
                "to allow it",
                name=str(name),
            )

    def spell_environ(self) -> dict[str, str]:
        """The process environment as a spell may see it (only ``env_allow`` names)."""
        from llmspell.security.secrets import spell_environ

        return spell_environ(self.env_allow)


def report_violations_to(policy: SecurityPolicy, events: Any, hooks: Any) -> None:
    """Wire ``policy.on_violation`` to publish ``security.violation`` and run SecurityViolation hooks.

    Hooks are notification-only here: the refusal stands whatever they return. They run as a task
    when a loop is running (a refusal is raised synchronously, so they cannot be awaited inline).
    """

    def on_violation(operation: str, reason: str, details: dict[str, Any]) -> None:
        data = {**details, "operation": operation, "reason": reason}
        events.publish_nowait("security.violation", data, source="security")
        if details.get("check") == "max_response_bytes" and hooks is not None:
            # a size cap is a resource limit as much as a policy refusal: ResourceLimitExceeded too
            from llmspell.core.types import ComponentId as _Cid
            from llmspell.hooks.system import fire_resource_limit_soon

            fire_resource_limit_soon(SimpleNamespace(hooks=hooks), _Cid(type="System", name="security"),
                                     limit="max_response_bytes", value=details.get("limit"),
                                     url=details.get("url"), reason=reason)
        if hooks is not None and hooks.has_hooks("SecurityViolation"):
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            from llmspell.core.types import ComponentId, HookContext

            ctx = HookContext(point="SecurityViolation", component_id=ComponentId(type="System", name="security"),
                              data=data, operation=operation)
            task = loop.create_task(hooks.execute(ctx))
            hooks._tasks.add(task)
            task.add_done_callback(hooks._tasks.discard)

    policy.on_violation = on_violation
