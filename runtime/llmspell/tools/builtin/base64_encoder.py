"""base64-encoder: standard and URL-safe Base64, for text, hex-encoded binary, or files."""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any, Literal

from pydantic import Field

from llmspell.core.errors import ToolError, ValidationError
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams
from llmspell.tools.builtin._support import read_file, write_file


class Base64EncoderParams(ToolParams):
    operation: Literal["encode", "decode"] = Field(description="encode or decode")
    input: str | None = Field(None, description="Text to encode, or Base64 text to decode")
    input_file: str | None = Field(None, description="Read the input from this file instead")
    output_file: str | None = Field(None, description="Also write the (decoded) output to this file")
    variant: Literal["standard", "url-safe", "url_safe"] = Field("standard", description="standard or url-safe")
    binary_input: bool = Field(False, description="encode: `input` is hex-encoded binary data")


class Base64EncoderTool(BuiltinTool):
    name = "base64-encoder"
    description = "Encode and decode Base64 (standard and URL-safe) for text, binary (hex) data or files"
    category = "utility"
    tags = ("base64", "encoding")
    Params = Base64EncoderParams

    async def run(self, p: Base64EncoderParams, ctx: ToolContext) -> dict[str, Any]:
        url = p.variant in ("url-safe", "url_safe")
        variant = "url-safe" if url else "standard"
        if p.input_file:
            data = await asyncio.to_thread(read_file, ctx, p.input_file)
        elif p.input is not None:
            if p.operation == "encode" and p.binary_input:
                try:
                    data = bytes.fromhex(p.input)
                except ValueError as e:
                    raise ValidationError(f"{self.name}: parameter 'input': expected hex data "
                                          f"(binary_input=true), {e}") from None
            else:
                data = p.input.encode("utf-8")
        else:
            raise ValidationError(f"{self.name}: parameter 'input' (or 'input_file') is required")

        if p.operation == "encode":
            out_bytes = base64.urlsafe_b64encode(data) if url else base64.b64encode(data)
            output = out_bytes.decode("ascii")
            binary = p.binary_input
        else:
            text = data.decode("ascii", errors="replace").strip()
            text += "=" * (-len(text) % 4)
            try:
                out_bytes = (base64.urlsafe_b64decode(text) if url
                             else base64.b64decode(text, validate=True))
            except (binascii.Error, ValueError) as e:
                raise ToolError(f"{self.name}: input is not valid {variant} Base64: {e}") from None
            try:
                output = out_bytes.decode("utf-8")
                binary = False
            except UnicodeDecodeError:
                output = out_bytes.hex()  # binary data is returned hex-encoded
                binary = True
        if p.output_file:
            await asyncio.to_thread(write_file, ctx, p.output_file, out_bytes)
        return {"output": output, "variant": variant, "binary": binary}
