"""``Config``: read the effective configuration; narrow it for this run; never see secrets.

rs-llmspell's ``Config`` (llmspell-bridge ``lua/globals/config.rs`` + ``config_bridge.rs``) reads the
configuration through a permission set. Here the permissions are fixed: a spell may read everything
except secrets, and may only *narrow* its own sandbox (drop allowed paths or programs, restrict
hosts, lower byte limits...). Anything that widens it (``addAllowedPath`` outside the current roots,
``setProvider``, a wider ``setSecurity``) is refused with a security error naming the
``llmspell.toml`` key that permits it: the workspace configuration is a protected file no spell can
write, so the policy a run starts with is the most it ever gets.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import time
from typing import Any

from llmspell.api.decl import ApiGlobal, api_global, expose
from llmspell.core.errors import ConfigurationError, SecurityViolationError, ValidationError

REDACTED = "<REDACTED>"
_SECRET_KEY = re.compile(r"(api[_-]?key|secret|password|passwd|token|credential|private[_-]?key)", re.I)
_SECRET_VALUE = re.compile(r"^(sk-|sk_|xox[abpr]-|ghp_|gho_|github_pat_|AKIA|AIza|glpat-|Bearer\s)", re.I)
_URL_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)([^/@\s]+)@", re.I)

_LEVELS = {"safe": 0, "restricted": 1, "privileged": 2}


def redact(value: Any, key: str = "") -> Any:
    """A copy of ``value`` with secrets replaced by ``<REDACTED>``: values under secret-looking keys
    (``api_key``, ``token``, ``password``...; names of environment variables such as ``api_key_env``
    are kept), secret-looking strings (``sk-...``) and passwords inside URLs."""
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if isinstance(value, str):
        is_name = key.endswith(("_env", "_envs")) or key in ("tool_env", "env_allow")
        if value and not is_name and _SECRET_KEY.search(key):
            return REDACTED
        if _SECRET_VALUE.match(value) and not is_name:
            return REDACTED
        m = _URL_USERINFO.match(value)
        if m:
            return m.group(1) + REDACTED + "@" + value[m.end():]
    return value


def _what(v: Any) -> str:
    return "nil" if v is None else ("boolean" if isinstance(v, bool) else type(v).__name__)


def _snapshots(runtime: Any) -> list[tuple[int, dict[str, Any]]]:
    return runtime.service("config_snapshots", lambda rt: _SnapshotList())  # type: ignore[no-any-return]


class _SnapshotList(list[tuple[int, dict[str, Any]]]):
    max_snapshots = 10


@api_global("Config")
class ConfigGlobal(ApiGlobal):
    """The effective configuration (``llmspell.toml``, ``LLMSPELL_*`` variables, editor settings), read
    only, secrets redacted; changes may only narrow this run's sandbox.

    ``Config.get()`` is the whole configuration plus rs-llmspell's views ``default_engine`` and
    ``tools`` (``file_operations.allowed_paths``, ``http_request.allowed_hosts``,
    ``system.allow_process_execution``...); ``Config.get("security.network_allow")`` reads one value.
    """

    # ------------------------------------------------------------------------------------ views

    @property
    def _rt(self) -> Any:
        return self.ctx.runtime

    def _toml(self) -> str:
        return str(self._rt.workspace / "llmspell.toml")

    def _tools_view(self) -> dict[str, Any]:
        sec = self._rt.config.security
        pol = self._rt.policy
        return {
            "file_operations": {"allowed_paths": [str(p) for p in pol.allowed_roots],
                                "max_file_size": int(getattr(sec, "max_database_bytes", 0)) or None},
            "http_request": {"allowed_hosts": list(sec.network_allow) or ["*"],
                             "allow_private_network": bool(sec.allow_private_network),
                             "max_response_bytes": sec.max_response_bytes,
                             "timeout_seconds": sec.network_timeout_s},
            "system": {"allow_process_execution": bool(sec.process_allow),
                       "allowed_commands": list(sec.process_allow),
                       "allowed_interpreters": list(sec.process_allow_interpreters),
                       "allowed_env_vars": list(sec.env_allow)},
            "max_tool_security_level": sec.max_tool_security_level,
        }

    def _view(self) -> dict[str, Any]:
        data: dict[str, Any] = self._rt.config.model_dump(mode="json")
        data["default_engine"] = "lua"
        data["tools"] = self._tools_view()
        return redact(data)  # type: ignore[no-any-return]

    def _security_view(self) -> dict[str, Any]:
        sec = self._rt.config.security
        limits = self._rt.config.limits
        out = redact(sec.model_dump(mode="json"))
        out.update({
            "allow_file_access": True,
            "allow_network_access": self.is_network_access_allowed(),
            "allow_process_spawn": bool(sec.process_allow),
            "max_memory_bytes": int(limits.max_memory_mb) << 20,
            "max_execution_time_ms": int(limits.wall_time_s * 1000),
            "allowed_roots": [str(p) for p in self._rt.policy.allowed_roots],
        })
        return out  # type: ignore[no-any-return]

    # ------------------------------------------------------------------------------------ reading

    @expose
    def get(self, path: str | None = None) -> Any:
        """The effective configuration, secrets redacted.

        Args:
            path: Optional dotted path (``"limits.wall_time_s"``, ``"providers.openai"``,
                ``"tools.system.allow_process_execution"``); nil for everything.

        Returns:
            The table (or the value at ``path``; nil when there is none).
        """
        view = self._view()
        if path is None:
            return view
        if not isinstance(path, str):
            raise ValidationError(f"Config.get: 'path' must be a dotted key string such as \"limits.wall_time_s\", "
                                  f"got {_what(path)}")
        cur: Any = view
        for part in [p for p in path.split(".") if p]:
            if isinstance(cur, dict) and part in cur:
                cur = cur[part]
            elif isinstance(cur, list) and part.isdigit() and 0 < int(part) <= len(cur):
                cur = cur[int(part) - 1]
            else:
                return None
        return cur

    @expose(lua="getDefaultEngine")
    def get_default_engine(self) -> str:
        """The default script engine (``"lua"``, as in rs-llmspell).

        Returns:
            ``"lua"``.
        """
        return "lua"

    @expose(lua="getProvider")
    def get_provider(self, name: str) -> dict[str, Any] | None:
        """One provider's settings (``base_url``, ``api_key_env``, ``timeout_s``, ``max_retries``), never its key.

        Args:
            name: The provider name (``"openai"``); ``Config.listProviders()`` lists them.

        Returns:
            ``{name, base_url, api_key_env, timeout_s, max_retries, default_model?}``, or nil when the
            provider is not configured.
        """
        if not isinstance(name, str) or not name:
            raise ValidationError(f"Config.getProvider: 'name' must be a provider name string, got {_what(name)}")
        cfg = self._rt.config
        settings = cfg.providers.get(name)
        default_provider = cfg.default_model.split("/", 1)[0] if "/" in cfg.default_model else None
        if settings is None and name != default_provider:
            return None
        out: dict[str, Any] = {"name": name, **(settings.model_dump(mode="json") if settings is not None else {})}
        if name == default_provider:
            out["default_model"] = cfg.default_model
        return redact(out)  # type: ignore[no-any-return]

    @expose(lua="listProviders")
    def list_providers(self) -> list[str]:
        """The configured providers (``[providers.*]``) and the default model's provider.

        Returns:
            Provider names, sorted.
        """
        cfg = self._rt.config
        names = set(cfg.providers)
        if "/" in cfg.default_model:
            names.add(cfg.default_model.split("/", 1)[0])
        return sorted(names)

    @expose(lua="getSecurity")
    def get_security(self) -> dict[str, Any]:
        """The security settings in effect.

        Returns:
            ``[security]`` as configured plus rs-llmspell's summary: ``allow_file_access``,
            ``allow_network_access``, ``allow_process_spawn``, ``max_memory_bytes``,
            ``max_execution_time_ms`` and ``allowed_roots`` (the folders file access may reach).
        """
        return self._security_view()

    @expose(lua="getTools")
    def get_tools(self) -> dict[str, Any]:
        """The tool settings in rs-llmspell's shape (``file_operations``, ``http_request``, ``system``).

        Returns:
            ``{file_operations={allowed_paths}, http_request={allowed_hosts,...}, system=
            {allow_process_execution, allowed_commands,...}, max_tool_security_level}``.
        """
        return redact(self._tools_view())  # type: ignore[no-any-return]

    @expose(lua="isFileAccessAllowed")
    def is_file_access_allowed(self, path: str | None = None) -> bool:
        """Whether file tools may reach a path (answered by the real path policy, without touching it).

        Args:
            path: A file or folder (relative paths start at the workspace); nil asks whether file
                access is allowed at all (it is: the workspace always is).

        Returns:
            true or false.
        """
        if path is None:
            return True
        if not isinstance(path, str) or not path:
            raise ValidationError(f"Config.isFileAccessAllowed: 'path' must be a path string, got {_what(path)}")
        from llmspell.security import fs

        gate = copy.copy(self._rt.policy.gate)
        gate._refuse = fs._default_refuse  # asking is not a violation: no security event, no count
        try:
            gate.resolve(path)
        except SecurityViolationError:
            return False
        except (OSError, ValueError):
            return False
        return True

    @expose(lua="isNetworkAccessAllowed")
    def is_network_access_allowed(self, host: str | None = None) -> bool:
        """Whether network tools may reach a host (``security.network_allow``, private addresses).

        Args:
            host: A host name, address or URL; nil asks whether any network access is allowed.

        Returns:
            true or false. Host names are not resolved here: a public name that resolves to a
            private address is still refused when a request is made.
        """
        sec = self._rt.config.security
        if host is None:
            return True
        if not isinstance(host, str) or not host:
            raise ValidationError(f"Config.isNetworkAccessAllowed: 'host' must be a host name or URL string, "
                                  f"got {_what(host)}")
        h = host
        if "://" in h:
            from urllib.parse import urlsplit

            try:
                h = urlsplit(h).hostname or ""
            except ValueError:
                return False
        h = h.strip("[]").lower().rstrip(".")
        if not h:
            return False
        if not self._rt.policy.host_allowed(h):
            return False
        if sec.allow_private_network:
            return True
        if h == "localhost" or h.endswith(".localhost"):
            return False
        try:
            ip = ipaddress.ip_address(h)
        except ValueError:
            return True
        from llmspell.security.policy import _blocked_address

        return _blocked_address(ip) is None

    @expose(lua="getSection")
    def get_section(self, name: str) -> Any:
        """One section of the configuration.

        Args:
            name: ``security``, ``limits``, ``state``, ``providers``, ``rag``, ``memory``, ``artifacts``,
                ``local_llm``, ``scripted_rules``, or rs-llmspell's ``tools``, ``runtime`` (= limits)
                and ``engines``.

        Returns:
            The section's table (secrets redacted).
        """
        view = self._view()
        aliases = {"runtime": "limits"}
        if name == "engines":
            return {"default": "lua", "lua": {"enabled": True}, "javascript": {"enabled": True}}
        if name == "security":
            return self._security_view()
        key = aliases.get(name, name) if isinstance(name, str) else None
        sections = sorted(k for k, v in view.items() if isinstance(v, (dict, list)))
        if key is None or key not in view or not isinstance(view[key], (dict, list)):
            raise ConfigurationError(f"Config.getSection: Unknown configuration section: {name!r} (expected one of "
                                     f"{', '.join(sorted({*sections, 'runtime', 'engines'}))})")
        return view[key]

    @expose(lua="getPermissions")
    def get_permissions(self) -> dict[str, Any]:
        """What this spell may do with the configuration.

        Returns:
            ``{read=true, modify_providers=false, modify_tools=false, modify_runtime=true,
            modify_security=false, access_secrets=false, narrowing_only=true, config_file}``:
            security and tool settings can only be narrowed (``setSecurity`` with stricter values,
            ``restoreSnapshot``); widening them needs ``config_file`` (llmspell.toml) edited by a person.
        """
        return {"read": True, "modify_providers": False, "modify_tools": False, "modify_runtime": True,
                "modify_security": False, "access_secrets": False, "narrowing_only": True,
                "config_file": self._toml()}

    @expose(lua="toJson")
    def to_json(self) -> str:
        """The whole configuration as JSON text (secrets redacted).

        Returns:
            A JSON string.
        """
        return json.dumps(self._view(), indent=2, sort_keys=True)

    # ------------------------------------------------------------------------------------ changes

    def _refuse(self, fn: str, message: str, key: str) -> SecurityViolationError:
        return self._rt.policy._refuse(  # type: ignore[no-any-return]
            "config.change", f"Config.{fn}: {message}; a spell cannot widen its own sandbox: set {key} in "
            f"{self._toml()} (a person edits it; spells cannot write it)", key=key)

    @expose(lua="addAllowedPath")
    async def add_allowed_path(self, path: str) -> None:
        """rs-llmspell's way to let file tools reach a folder. Here a spell cannot widen its sandbox:
        a path already inside the allowed folders is accepted (nothing changes); any other path is
        refused with a security error naming ``security.allowed_paths`` in llmspell.toml.

        Args:
            path: A folder.
        """
        if not isinstance(path, str) or not path:
            raise ValidationError(f"Config.addAllowedPath: 'path' must be a folder path string, got {_what(path)}")
        if self.is_file_access_allowed(path):
            return
        raise self._refuse("addAllowedPath", f"{path} is outside the allowed folders "
                           f"({', '.join(str(p) for p in self._rt.policy.allowed_roots)})", "security.allowed_paths")

    @expose(lua="setProvider")
    async def set_provider(self, name: str, config: dict[str, Any]) -> None:
        """rs-llmspell's provider setter: refused here (a spell that could point a provider at another
        endpoint could send the configured key there). Providers are set in ``[providers.<name>]``.

        Args:
            name: The provider name.
            config: Its settings.
        """
        if not isinstance(name, str) or not name:
            raise ValidationError(f"Config.setProvider: 'name' must be a provider name string, got {_what(name)}")
        if not isinstance(config, dict):
            raise ValidationError(f"Config.setProvider: 'config' must be a table, got {_what(config)}")
        raise self._refuse("setProvider", f"provider {name!r} cannot be changed from a spell",
                           f"[providers.{name}]")

    @expose(lua="setSecurity")
    async def set_security(self, config: dict[str, Any]) -> None:
        """Narrow the security settings for the rest of this run (every run under process isolation
        has its own runtime; the next run starts from llmspell.toml again).

        Allowed: fewer ``allowed_paths``/``process_allow``/``process_allow_interpreters``/
        ``env_allow``/``tool_env`` entries, a ``network_allow`` list that only restricts (a subset, or
        any list when it was empty = any public host), ``allow_private_network=false``, lower
        ``max_*`` byte/row limits and ``network_timeout_s``, ``refuse_hardlinks=true``, a lower
        ``max_tool_security_level``; rs-llmspell's ``allow_process_spawn=false`` empties
        ``process_allow``. Anything wider is refused naming the llmspell.toml key.

        Args:
            config: The settings to change (others keep their values).
        """
        if not isinstance(config, dict):
            raise ValidationError(f"Config.setSecurity: 'config' must be a table, got {_what(config)}")
        cur = self._rt.config.security
        current: dict[str, Any] = cur.model_dump(mode="json")
        new = dict(current)
        changes = dict(config)
        for flag in ("allow_file_access", "allow_network_access"):
            if flag in changes:
                v = changes.pop(flag)
                if v is not True:
                    raise ValidationError(f"Config.setSecurity: '{flag}' = {json.dumps(v)} cannot be expressed here "
                                          "(file access to the workspace and public network access are always on; "
                                          "restrict them with allowed_paths / network_allow)")
        if "allow_process_spawn" in changes:
            v = changes.pop("allow_process_spawn")
            if v is False:
                changes["process_allow"] = []
            elif v is True and not cur.process_allow:
                raise self._refuse("setSecurity", "process execution is not enabled", "security.process_allow")
        for key, value in changes.items():
            if key not in current:
                raise ValidationError(f"Config.setSecurity: unknown security key {key!r} (expected one of "
                                      f"{', '.join(sorted(current))}, allow_process_spawn)")
            if isinstance(current[key], list) and isinstance(value, dict) and not value:
                value = []  # an empty Lua table
            self._check_narrower(key, current[key], value)
            new[key] = value
        from llmspell.config import SecurityConfig

        try:
            SecurityConfig.model_validate(new)
        except Exception as e:
            raise ValidationError(f"Config.setSecurity: invalid security settings: {e}") from None
        await self._rt.update_config({"security": new})

    def _check_narrower(self, key: str, old: Any, new: Any) -> None:
        fk = f"security.{key}"
        if isinstance(old, list):
            if not isinstance(new, list) or not all(isinstance(x, str) for x in new):
                raise ValidationError(f"Config.setSecurity: '{key}' must be a list of strings, got {_what(new)}")
            if key == "allowed_paths":
                from pathlib import Path

                ws = self._rt.workspace
                old_r = {str((ws / Path(p).expanduser()).resolve()) for p in old}
                extra = [p for p in new if str((ws / Path(p).expanduser()).resolve()) not in old_r
                         and not self.is_file_access_allowed(p)]
            elif key == "network_allow":
                extra = [] if not old else [h for h in new if h.lower() not in {o.lower() for o in old}]
            else:
                extra = [x for x in new if x not in old]
            if extra:
                raise self._refuse("setSecurity", f"{key} would gain {', '.join(extra)}", fk)
            return
        if isinstance(old, bool):
            if not isinstance(new, bool):
                raise ValidationError(f"Config.setSecurity: '{key}' must be true or false, got {_what(new)}")
            safe = False if key.startswith("allow") else True  # allow_* off and refuse_* on are narrower
            if new != old and new != safe:
                raise self._refuse("setSecurity", f"{key} = {json.dumps(new)} would widen the policy", fk)
            return
        if isinstance(old, (int, float)):
            if isinstance(new, bool) or not isinstance(new, (int, float)):
                raise ValidationError(f"Config.setSecurity: '{key}' must be a number, got {_what(new)}")
            if new > old:
                raise self._refuse("setSecurity", f"{key} = {new} is above the configured {old}", fk)
            return
        if key == "max_tool_security_level":
            if new not in _LEVELS:
                raise ValidationError(f"Config.setSecurity: 'max_tool_security_level' must be safe, restricted or "
                                      f"privileged, got {json.dumps(new)}")
            if _LEVELS[new] > _LEVELS.get(old, 2):
                raise self._refuse("setSecurity", f"max_tool_security_level {new} is above {old}", fk)
            return
        if new != old:
            raise self._refuse("setSecurity", f"{key} cannot be changed from a spell", fk)

    @expose
    def snapshot(self) -> int:
        """Remember the current configuration (the last 10 are kept).

        Returns:
            The snapshot's timestamp (seconds) for ``restoreSnapshot``.
        """
        snaps = _snapshots(self._rt)
        ts = int(time.time())
        snaps.append((ts, self._rt.config.model_dump(mode="json")))
        del snaps[: max(0, len(snaps) - _SnapshotList.max_snapshots)]
        return ts

    @expose(lua="restoreSnapshot")
    async def restore_snapshot(self, timestamp: int) -> None:
        """Go back to a configuration remembered by ``snapshot`` in this runtime (security, default
        model; never wider than what the run started with, since a snapshot is one it had).

        Args:
            timestamp: What ``snapshot`` returned.
        """
        if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)):
            raise ValidationError(f"Config.restoreSnapshot: 'timestamp' must be a number from Config.snapshot(), "
                                  f"got {_what(timestamp)}")
        for ts, data in reversed(_snapshots(self._rt)):
            if ts == int(timestamp):
                await self._rt.update_config({"security": data["security"], "default_model": data["default_model"]})
                return
        raise ConfigurationError(f"Config.restoreSnapshot: Snapshot not found: {int(timestamp)} "
                                 "(Config.snapshot() returns the timestamp to pass)")
