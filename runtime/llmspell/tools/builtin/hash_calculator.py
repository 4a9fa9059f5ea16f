"""hash-calculator: md5/sha1/sha256/sha512 of a string or a file, and hash verification."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from typing import Any, Literal

from pydantic import Field, field_validator

from llmspell.core.errors import ToolError, ValidationError
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams
from llmspell.tools.builtin._support import gate_of

Algorithm = Literal["md5", "sha1", "sha256", "sha512"]
ALGORITHMS: tuple[str, ...] = ("md5", "sha1", "sha256", "sha512")


def normalize_algorithm(name: object) -> str:
    """``"SHA-256"``, ``"sha_256"``, ``"Sha256"``, ``"MD5"`` -> the canonical name; unknown names raise
    ``ValueError`` listing the valid ones (rs-llmspell accepts ``sha-256``-style spellings)."""
    if not isinstance(name, str):
        raise ValueError(f"a hash algorithm name: one of {', '.join(ALGORITHMS)}")
    key = name.strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    if key in ALGORITHMS:
        return key
    # the registry words it "parameter 'algorithm': expected <this>, got '<value>'"
    raise ValueError(f"a hash algorithm: one of {', '.join(ALGORITHMS)} (case, '-' and '_' are ignored, "
                     "so 'SHA-256' and 'MD5' work)")


class HashCalculatorParams(ToolParams):
    operation: Literal["hash", "verify"] = Field(description="hash or verify")
    algorithm: Algorithm = Field("sha256", description="md5, sha1, sha256 or sha512 (case and dashes ignored: SHA-256)")
    input_type: Literal["string", "file"] = Field("string", description="Hash `input` as text, or the file at `file`")
    input: str | None = Field(None, description="Text to hash (or a file path when input_type is 'file')")
    data: str | None = Field(None, description="Alias of `input`")
    file: str | None = Field(None, description="Path of a file to hash")
    format: Literal["hex", "base64"] = Field("hex", description="Output encoding: hex or base64")
    expected_hash: str | None = Field(None, description="verify: the expected hash")
    expected_format: Literal["hex", "base64"] = Field("hex", description="verify: encoding of expected_hash")

    @field_validator("algorithm", mode="before")
    @classmethod
    def _algorithm(cls, v: object) -> str:
        return normalize_algorithm(v)


class HashCalculatorTool(BuiltinTool):
    name = "hash-calculator"
    description = "Calculate and verify MD5, SHA-1, SHA-256 and SHA-512 hashes of text or files"
    category = "utility"
    tags = ("hash", "checksum", "crypto")
    Params = HashCalculatorParams

    async def run(self, p: HashCalculatorParams, ctx: ToolContext) -> dict[str, Any]:
        h = hashlib.new(p.algorithm)
        path = p.file or (p.input if p.input_type == "file" else None)
        if path:
            def digest_file() -> None:
                try:
                    f = gate_of(ctx).open(path, "rb")
                except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as e:
                    raise ToolError(f"{self.name}: cannot read {path}: {e.strerror}") from None
                with f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)

            await asyncio.to_thread(digest_file)
        else:
            text = p.input if p.input is not None else p.data
            if text is None:
                raise ValidationError(f"{self.name}: parameter 'input' is required (the text to hash), "
                                      "or 'file' with input_type='file'")
            h.update(text.encode("utf-8"))
        raw = h.digest()
        if p.operation == "hash":
            return {"algorithm": p.algorithm, "hash": _encode(raw, p.format), "format": p.format}
        if not p.expected_hash:
            raise ValidationError(f"{self.name}: operation 'verify' needs parameter 'expected_hash'")
        actual = _encode(raw, p.expected_format)
        expected = p.expected_hash.strip()
        if p.expected_format == "hex":
            expected = expected.lower()
        ok = hmac.compare_digest(actual, expected)
        return {"verified": ok, "algorithm": p.algorithm, "expected": expected, "actual": actual}


def _encode(raw: bytes, fmt: str) -> str:
    return base64.b64encode(raw).decode("ascii") if fmt == "base64" else raw.hex()
