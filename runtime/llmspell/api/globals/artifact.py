"""``Artifact``: content with metadata stored per session, persisted in the workspace (rs-llmspell §Artifact)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import builtins
import json
from typing import Any

from llmspell.api.decl import ApiGlobal, api_global, expose
from llmspell.artifacts.store import ArtifactQuery, ArtifactStore, parse_artifact_type, parse_time
from llmspell.core.errors import SecurityViolationError, ValidationError
from llmspell.sessions import SESSION_KEY, SESSION_STORE_SCOPE

_ID_KEYS = ("content_hash", "session_id", "sequence")


def artifact_store(runtime: Any) -> ArtifactStore:
    """The runtime's one artifact store (made on first use, closed at shutdown)."""
    return runtime.service("artifacts", lambda rt: ArtifactStore(rt.workspace, rt.config.artifacts))  # type: ignore[no-any-return]


def _what(v: Any) -> str:
    return "nil" if v is None else ("boolean" if isinstance(v, bool) else type(v).__name__)


def _artifact_id(v: Any, fn: str, param: str = "artifact_id") -> dict[str, Any]:
    """``{content_hash, session_id, sequence}`` (what ``store`` returned); a metadata table from
    ``list``/``query`` works too (its ``id`` field)."""
    if isinstance(v, dict) and isinstance(v.get("id"), dict) and "content_hash" not in v:
        v = v["id"]
    if not isinstance(v, dict):
        raise ValidationError(f"Artifact.{fn}: '{param}' must be the id table Artifact.store returned "
                              f"({{content_hash, session_id, sequence}}), got {_what(v)}")
    missing = [k for k in _ID_KEYS if v.get(k) is None]
    if missing:
        raise ValidationError(f"Artifact.{fn}: '{param}' is missing {', '.join(missing)} (expected the id table "
                              "Artifact.store returned: {content_hash, session_id, sequence})")
    h, sid, seq = v["content_hash"], v["session_id"], v["sequence"]
    if not isinstance(h, str) or not isinstance(sid, str):
        raise ValidationError(f"Artifact.{fn}: '{param}.content_hash' and '{param}.session_id' must be strings")
    if isinstance(seq, bool) or not isinstance(seq, (int, float)) or int(seq) != seq or seq < 1:
        raise ValidationError(f"Artifact.{fn}: '{param}.sequence' must be a positive integer, got {seq!r}")
    return {"content_hash": h, "session_id": sid, "sequence": int(seq)}


def _content(v: Any, fn: str) -> bytes:
    if isinstance(v, str):
        return v.encode("utf-8", "surrogateescape")
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    raise ValidationError(f"Artifact.{fn}: 'content' must be a string (text or binary), got {_what(v)}")


def _metadata(v: Any, fn: str) -> dict[str, Any] | None:
    if v is None:
        return None
    if not isinstance(v, dict):
        raise ValidationError(f"Artifact.{fn}: 'metadata' must be a table, got {_what(v)}")
    tags = v.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        raise ValidationError(f"Artifact.{fn}: 'metadata.tags' must be a list of strings")
    mime = v.get("mime_type")
    if mime is not None and not isinstance(mime, str):
        raise ValidationError(f"Artifact.{fn}: 'metadata.mime_type' must be a string such as \"text/plain\"")
    return {str(k): x for k, x in v.items()}


@api_global("Artifact")
class ArtifactGlobal(ApiGlobal):
    """Artifacts: content (text or binary) with metadata, stored per session and kept across runs.

    Content lives in ``.llmspell/artifacts`` in the workspace (blobs named by their SHA-256, an
    SQLite index), capped by ``[artifacts] max_artifact_bytes``, ``max_session_bytes`` and
    ``max_total_bytes``. Isolation follows rs-llmspell: an artifact belongs to the session that stored
    it; ``get``/``delete`` by another session are refused ("does not have read permission") and
    ``list(session_id)`` shows only that session's artifacts, while ``query`` searches every session
    unless its ``session_id`` filter is given. ``Session.get_current()`` is the run's session; a
    session of an earlier run is still valid for reading when it stored artifacts or was saved.
    """

    @property
    def _store(self) -> ArtifactStore:
        return artifact_store(self.ctx.runtime)

    async def _session(self, sid: Any, fn: str, *, write: bool = False) -> str:
        if sid is None or sid == "":
            cur = self.ctx.extra.get(SESSION_KEY)
            if isinstance(cur, str) and cur:
                return cur
            raise ValidationError(f"Artifact.{fn}: no current session set (pass a session id: Session.get_current() "
                                  "or Session.create())")
        if not isinstance(sid, str):
            raise ValidationError(f"Artifact.{fn}: 'session_id' must be a session id string "
                                  f"(Session.get_current()), got {_what(sid)}")
        mgr = self.ctx.runtime.sessions
        rec = mgr.get(sid)
        if write:
            if rec is None:
                raise ValidationError(f"Artifact.{fn}: Invalid session ID: {sid!r} (no such session in this runtime; "
                                      "use Session.get_current(), Session.create() or Session.load(id))")
            if rec.ended or rec.status != "active":
                raise ValidationError(f"Artifact.{fn}: cannot store artifacts in session {sid!r}: it is "
                                      f"{rec.status}, not active")
            return sid
        if rec is not None:
            return sid
        if await asyncio.to_thread(self._store.has_session, sid):
            return sid
        if isinstance(await self.ctx.runtime.state.get(SESSION_STORE_SCOPE, sid), dict):
            return sid
        raise ValidationError(f"Artifact.{fn}: Invalid session ID: {sid!r} (no such session: not in this runtime, "
                              "not saved, and it never stored an artifact)")

    def _publish(self, event: str, data: dict[str, Any]) -> None:
        events = getattr(self.ctx.runtime, "events", None)
        if events is not None:
            events.publish_nowait(event, data, source="artifacts", correlation_id=data.get("session_id"))

    @expose
    async def store(self, session_id: str, type: str, name: str, content: str,
                    metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """Store content as an artifact of a session.

        Args:
            session_id: The session (``Session.get_current()``); it must be active in this runtime.
            type: ``"agent_output"``, ``"tool_result"``, ``"user_input"``, ``"system_generated"`` or a
                custom type name.
            name: The artifact's name, e.g. ``"report.md"``.
            content: Text or binary content (a Lua string may hold any bytes).
            metadata: Optional table: ``mime_type`` and ``tags`` set those fields, every other key is
                kept in ``custom``; ``content_encoding = "base64"`` stores the decoded bytes of a
                base64 ``content`` (binary from JS).

        Returns:
            The artifact id ``{content_hash, session_id, sequence}`` for ``get``/``delete``.
        """
        atype = parse_artifact_type(type, "Artifact.store")
        if not isinstance(name, str) or not name.strip():
            raise ValidationError(f"Artifact.store: 'name' must be a non-empty string, got {_what(name)}")
        if len(name) > 255:
            raise ValidationError("Artifact.store: 'name' is longer than 255 characters")
        meta = _metadata(metadata, "store")
        data = _content(content, "store")
        if meta and meta.get("content_encoding") is not None:
            enc = meta.pop("content_encoding")
            if enc != "base64":
                raise ValidationError(f"Artifact.store: 'metadata.content_encoding' must be \"base64\", got {enc!r}")
            try:
                data = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise ValidationError("Artifact.store: content is not valid base64 "
                                      "(metadata.content_encoding = \"base64\")") from None
        sid = await self._session(session_id, "store", write=True)
        aid = await asyncio.to_thread(self._store.store, sid, atype, name, data, meta)
        self._publish("session.artifact_stored", {"session_id": sid, "name": name, "size": len(data),
                                                  "artifact_type": atype, "sequence": aid["sequence"]})
        return aid

    @expose
    async def store_file(self, session_id: str, path: str, type: str,
                         metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """Store a file's content as an artifact named after the file.

        The file is read through the security policy's path gate, like the file tools: a path outside
        the workspace and ``security.allowed_paths`` is refused.

        Args:
            session_id: The session (``Session.get_current()``).
            path: The file (relative paths start at the workspace).
            type: The artifact type (as for ``store``).
            metadata: Optional metadata (as for ``store``).

        Returns:
            The artifact id ``{content_hash, session_id, sequence}``.
        """
        if not isinstance(path, str) or not path:
            raise ValidationError(f"Artifact.store_file: 'path' must be a file path string, got {_what(path)}")
        atype = parse_artifact_type(type, "Artifact.store_file")
        meta = _metadata(metadata, "store_file")
        sid = await self._session(session_id, "store_file", write=True)
        limit = self.ctx.runtime.config.artifacts.max_artifact_bytes
        gate = self.ctx.runtime.policy.gate
        try:
            data = await asyncio.to_thread(gate.read_bytes, path, max_bytes=limit)
        except SecurityViolationError as e:
            raise SecurityViolationError(f"Artifact.store_file: {e.message}", details=e.details) from None
        except (FileNotFoundError, NotADirectoryError):
            raise ValidationError(f"Artifact.store_file: no such file: {path}") from None
        except IsADirectoryError:
            raise ValidationError(f"Artifact.store_file: {path} is a directory, not a file") from None
        except OSError as e:
            if e.errno == 27:  # EFBIG from read_bytes' cap
                from llmspell.core.errors import ResourceLimitError

                raise ResourceLimitError(f"Artifact.store_file: {path} is larger than {limit} bytes "
                                         "([artifacts] max_artifact_bytes in llmspell.toml)") from None
            raise ValidationError(f"Artifact.store_file: cannot read {path}: {e.strerror or e}") from None
        name = path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or "unnamed"
        aid = await asyncio.to_thread(self._store.store, sid, atype, name, data, meta)
        self._publish("session.artifact_stored", {"session_id": sid, "name": name, "size": len(data),
                                                  "artifact_type": atype, "sequence": aid["sequence"]})
        return aid

    @expose
    async def get(self, session_id: str, artifact_id: dict[str, Any]) -> dict[str, Any]:
        """An artifact's content and metadata.

        Args:
            session_id: The session asking; it must be the one that stored the artifact.
            artifact_id: The id ``store`` returned (or an entry of ``list``/``query``).

        Returns:
            ``{content, metadata}``: ``content`` is the stored string (``content_base64`` is added
            when the content is not UTF-8 text); ``metadata`` is ``{name, artifact_type, type,
            mime_type, size, tags, custom, version, created_at, id, ...}``.
        """
        aid = _artifact_id(artifact_id, "get")
        sid = await self._session(session_id, "get")
        if aid["session_id"] != sid:
            raise SecurityViolationError(
                f"Artifact.get: Session {sid} does not have read permission for artifact "
                f"{aid['session_id']}:{aid['sequence']} (it belongs to session {aid['session_id']})",
                details={"operation": "artifact.read", "session_id": sid})
        got = await asyncio.to_thread(self._store.get, aid)
        if got is None:
            raise ValidationError(f"Artifact.get: Artifact not found: {aid['session_id']}:{aid['sequence']}:"
                                  f"{aid['content_hash'][:12]}")
        meta, data = got
        out: dict[str, Any] = {"metadata": meta}
        try:
            out["content"] = data.decode("utf-8")
        except UnicodeDecodeError:
            out["content"] = data
            out["content_base64"] = base64.b64encode(data).decode("ascii")
        return out

    @expose
    async def list(self, session_id: str | None = None) -> list[dict[str, Any]]:
        """The artifacts of one session, in the order they were stored.

        Args:
            session_id: The session ("" or nil: the current one).

        Returns:
            A list of metadata tables (as in ``get``), each with its ``id``.
        """
        sid = await self._session(session_id, "list")
        return await asyncio.to_thread(self._store.list_session, sid)

    @expose
    async def delete(self, session_id: str, artifact_id: dict[str, Any]) -> None:
        """Delete an artifact (its content is removed when no other artifact shares it).

        Args:
            session_id: The session asking; it must be the one that stored the artifact.
            artifact_id: The id ``store`` returned.
        """
        aid = _artifact_id(artifact_id, "delete")
        sid = await self._session(session_id, "delete")
        if aid["session_id"] != sid:
            raise SecurityViolationError(
                f"Artifact.delete: Session {sid} does not have delete permission for artifact "
                f"{aid['session_id']}:{aid['sequence']}", details={"operation": "artifact.delete", "session_id": sid})
        if not await asyncio.to_thread(self._store.delete, aid):
            raise ValidationError(f"Artifact.delete: Artifact not found: {aid['session_id']}:{aid['sequence']}")
        self._publish("session.artifact_deleted", {"session_id": sid, "sequence": aid["sequence"]})

    @expose
    async def query(self, query: dict[str, Any] | None = None) -> builtins.list[dict[str, Any]]:
        """Search artifacts across sessions, newest first.

        Args:
            query: ``{session_id?, type?, name_pattern?, tags?, created_after?, created_before?,
                min_size?, max_size?, limit?}``. ``name_pattern`` matches a part of the name, case
                insensitive (``*``/``?`` make it a glob); every tag listed must be present; times are
                RFC 3339 strings or epoch seconds.

        Returns:
            A list of metadata tables (as in ``list``).
        """
        q = query or {}
        if not isinstance(q, dict):
            raise ValidationError(f"Artifact.query: 'query' must be a table, got {_what(q)}")
        known = {"session_id", "type", "artifact_type", "name_pattern", "tags", "created_after", "created_before",
                 "min_size", "max_size", "limit"}
        unknown = sorted(str(k) for k in q if k not in known)
        if unknown:
            raise ValidationError(f"Artifact.query: unknown filter {', '.join(unknown)} (expected "
                                  f"{', '.join(sorted(known - {'artifact_type'}))})")
        aq = ArtifactQuery()
        if q.get("session_id") is not None:
            if not isinstance(q["session_id"], str):
                raise ValidationError("Artifact.query: 'session_id' must be a string")
            aq.session_id = q["session_id"]
        t = q.get("type", q.get("artifact_type"))
        if t is not None:
            aq.artifact_type = parse_artifact_type(t, "Artifact.query")
        if q.get("name_pattern") is not None:
            if not isinstance(q["name_pattern"], str):
                raise ValidationError("Artifact.query: 'name_pattern' must be a string")
            aq.name_pattern = q["name_pattern"]
        tags = q.get("tags")
        if tags is not None:
            if isinstance(tags, dict) and not tags:
                tags = []
            if not isinstance(tags, list) or not all(isinstance(x, str) for x in tags):
                raise ValidationError("Artifact.query: 'tags' must be a list of strings")
            aq.tags = tags
        for key in ("created_after", "created_before"):
            if q.get(key) is not None:
                setattr(aq, key, parse_time(q[key], "Artifact.query", key))
        for key in ("min_size", "max_size", "limit"):
            v = q.get(key)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v or v < 0:
                raise ValidationError(f"Artifact.query: '{key}' must be a non-negative integer, got {json.dumps(v)}")
            setattr(aq, key, int(v))
        return await asyncio.to_thread(self._store.query, aq)
