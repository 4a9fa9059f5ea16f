"""``Utils``: small helpers (ids, time, hashing, encoding, tables, strings).

rs-llmspell 0.14 registers ``Utils`` as an empty table (``globals/core.rs``: "TODO"); its API
reference documents ``Utils.uuid()``, ``Utils.timestamp()``, ``Utils.hash(data)`` and
``Utils.sleep(seconds)``, which this implements, plus a few helpers every spell ends up writing.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import hashlib
import time
import uuid
from typing import Any

from llmspell.api.decl import ApiGlobal, api_global, expose
from llmspell.core.errors import ValidationError

_HASHES = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "blake2b", "blake2s", "sha3_256", "sha3_512")


def _what(v: Any) -> str:
    return "nil" if v is None else ("boolean" if isinstance(v, bool) else type(v).__name__)


def _text(v: Any, fn: str, param: str) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bytes):
        return v.decode("utf-8", "surrogateescape")
    raise ValidationError(f"Utils.{fn}: '{param}' must be a string, got {_what(v)}")


def _data(v: Any, fn: str) -> bytes:
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode("utf-8", "surrogateescape")
    raise ValidationError(f"Utils.{fn}: 'data' must be a string, got {_what(v)}")


def hash_name(algorithm: Any, fn: str = "hash") -> str:
    """``"SHA-256"``, ``"sha-256"``, ``"sha256"`` -> ``"sha256"``; unknown names are a clear error."""
    if not isinstance(algorithm, str):
        raise ValidationError(f"Utils.{fn}: 'algorithm' must be a string such as \"sha256\", got {_what(algorithm)}")
    n = algorithm.strip().lower().replace("-", "").replace("_", "")
    for name in _HASHES:
        if name.replace("_", "") == n:
            return name
    raise ValidationError(f"Utils.{fn}: unknown hash algorithm {algorithm!r}: expected one of {', '.join(_HASHES)}")


def _deep_merge(a: dict[Any, Any], b: dict[Any, Any]) -> dict[Any, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@api_global("Utils")
class UtilsGlobal(ApiGlobal):
    """Helpers: ``uuid``, ``timestamp``, ``hash``, ``sleep`` (rs-llmspell's documented four), and
    ``base64_encode/decode``, ``deep_copy``, ``merge``, ``split``, ``trim``."""

    @expose
    def uuid(self) -> str:
        """A random UUID (version 4).

        Returns:
            e.g. ``"0b6c1a8e-6f1c-4f0e-9a52-8d3f6c1e2b7a"``.
        """
        return str(uuid.uuid4())

    @expose
    def timestamp(self) -> float:
        """The current time in seconds since the Unix epoch (with a fraction).

        Returns:
            A number.
        """
        return time.time()

    @expose
    def hash(self, data: str, algorithm: str = "sha256") -> str:
        """The hex digest of a string.

        Args:
            data: The text (or bytes, in Lua).
            algorithm: md5, sha1, sha224, sha256 (default), sha384, sha512, blake2b, blake2s,
                sha3_256 or sha3_512; ``"SHA-256"`` style names work too.

        Returns:
            Lower-case hex digits.
        """
        return hashlib.new(hash_name(algorithm), _data(data, "hash")).hexdigest()

    @expose
    async def sleep(self, seconds: float) -> None:
        """Wait (the run's wall-time limit still applies; cancelling the run ends the wait).

        Args:
            seconds: How long, at most ``limits.wall_time_s``.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds != seconds or seconds < 0:
            raise ValidationError(f"Utils.sleep: 'seconds' must be a number >= 0, got {seconds!r}")
        cap = float(self.ctx.runtime.config.limits.wall_time_s)
        if seconds > cap:
            raise ValidationError(f"Utils.sleep: {seconds} seconds is longer than the run may last "
                                  f"(limits.wall_time_s = {cap:g})")
        await asyncio.sleep(float(seconds))

    @expose
    def base64_encode(self, data: str) -> str:
        """Base64 of a string's bytes (UTF-8 for text).

        Args:
            data: The string.

        Returns:
            The standard base64 text.
        """
        return base64.b64encode(_data(data, "base64_encode")).decode("ascii")

    @expose
    def base64_decode(self, text: str) -> str:
        """Decode base64. The result is text when the bytes are UTF-8; in Lua a binary result is a
        byte string, in JS it shows replacement characters (keep binary base64 there).

        Args:
            text: Standard base64 (padding optional, whitespace ignored).

        Returns:
            The decoded string.
        """
        s = "".join(_text(text, "base64_decode", "text").split())
        try:
            raw = base64.b64decode(s + "=" * (-len(s) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("Utils.base64_decode: 'text' is not valid base64") from None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw  # type: ignore[return-value]

    @expose
    def deep_copy(self, value: Any) -> Any:
        """An independent copy of a table (nested tables copied too).

        Args:
            value: Any plain value.

        Returns:
            The copy.
        """
        return copy.deepcopy(value)

    @expose
    def merge(self, base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
        """Merge two tables into a new one: keys of ``override`` win; nested tables merge.

        Args:
            base: The defaults.
            override: The values that take precedence.

        Returns:
            The merged table (the arguments are not changed).
        """
        for name, v in (("base", base), ("override", override)):
            if not isinstance(v, dict):
                raise ValidationError(f"Utils.merge: '{name}' must be a table with keys, got {_what(v)}")
        return _deep_merge(base, override)

    @expose
    def split(self, text: str, separator: str | None = None, max_parts: int | None = None) -> list[str]:
        """Split a string on a plain (not pattern) separator.

        Args:
            text: The string.
            separator: The separator; nil splits on runs of whitespace.
            max_parts: At most this many parts (the last keeps the rest).

        Returns:
            The parts.
        """
        s = _text(text, "split", "text")
        if separator is not None and (not isinstance(separator, str) or separator == ""):
            raise ValidationError("Utils.split: 'separator' must be a non-empty string (or nil for whitespace)")
        n = -1
        if max_parts is not None:
            if isinstance(max_parts, bool) or not isinstance(max_parts, (int, float)) or max_parts < 1:
                raise ValidationError(f"Utils.split: 'max_parts' must be a positive integer, got {max_parts!r}")
            n = int(max_parts) - 1
        return s.split(separator, n)

    @expose
    def trim(self, text: str) -> str:
        """A string without leading and trailing whitespace.

        Args:
            text: The string.

        Returns:
            The trimmed string.
        """
        return _text(text, "trim", "text").strip()
