"""Media tools: pdf-processor (pypdf), image-processor (Pillow), audio-processor (mutagen, wave),
video-processor (hachoir). These libraries are the ``media`` extra.

Conversions that need a codec (mp3 encoding, video frames) use ffmpeg, and only when the security
policy allows the ``ffmpeg`` executable (it runs without a shell, like process-executor); otherwise
the error says how to enable it.
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import wave
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from llmspell.core.errors import ToolError
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams
from llmspell.tools.builtin._support import check_path, gate_of, need, policy_of, read_file, write_file


class _Src(type(Path())):  # type: ignore[misc]
    """A media file read once through the path gate: libraries parse ``data``, never the name."""

    data: bytes
    size: int

    def read_bytes(self) -> bytes:
        return self.data

    def open_data(self) -> io.BytesIO:
        return io.BytesIO(self.data)


def _load(ctx: ToolContext, name: str) -> _Src:
    data = read_file(ctx, name)
    p = _Src(gate_of(ctx).resolve(name))
    p.data, p.size = data, len(data)
    return p


def _src(ctx: ToolContext, *candidates: str | None) -> _Src:
    for c in candidates:
        if c:
            return _load(ctx, c)
    raise ToolError(f"{ctx.tool_name}: parameter 'file_path' (or 'source_path') is required")


AUDIO_FORMATS = frozenset({"wav", "mp3", "flac", "ogg", "opus", "aac", "adts", "m4a", "ipod", "aiff", "au"})
"""ffmpeg muxers a spell may name (``-f``): plain audio containers, never ``tee``/``hls``/``segment``
or anything else that reads its output name as more places to write."""


async def _ffmpeg(ctx: ToolContext, before_input: list[str], src: str, args: list[str], dst: str,
                  timeout: float = 120) -> None:
    """Run ffmpeg if the policy allows it (the refusal is a SecurityViolation like any other).

    ffmpeg never opens a path name the spell gave: the input and the output are opened through the
    path gate here and handed over as inherited descriptors (``/proc/self/fd/N`` in ffmpeg's own
    process is that very open file, and stays seekable), so no check-then-open race remains."""
    exe = policy_of(ctx).check_executable("ffmpeg")
    gate = gate_of(ctx)
    in_fd = gate.open_fd(src)
    try:
        out_fd = gate.open_fd(dst, write=True, read=True, truncate=True, parents=True)
    except BaseException:
        os.close(in_fd)
        raise
    try:
        os.set_inheritable(in_fd, True)
        os.set_inheritable(out_fd, True)
        proc = await asyncio.create_subprocess_exec(
            exe, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *before_input,
            "-i", f"/proc/self/fd/{in_fd}", *args, f"/proc/self/fd/{out_fd}",
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            pass_fds=(in_fd, out_fd), start_new_session=True)
    finally:
        os.close(in_fd)
        os.close(out_fd)
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError as e:
        proc.kill()
        raise ToolError(f"{ctx.tool_name}: ffmpeg timed out after {timeout:g}s") from e
    if proc.returncode != 0:
        raise ToolError(f"{ctx.tool_name}: ffmpeg failed: {err.decode(errors='replace').strip()[:500]}")


# ----------------------------------------------------------------------------------- pdf


class PdfProcessorTool(BuiltinTool):
    name = "pdf-processor"
    description = "Extract text, metadata or page ranges from PDF files (needs the 'media' extra: pypdf)"
    category = "media"
    tags = ("pdf", "text extraction", "document")

    class Params(ToolParams):
        operation: Literal["extract_text", "extract_metadata", "extract_pages"] = "extract_text"
        input: str = Field(description="Path of the PDF file")
        start_page: int = Field(1, ge=1, description="First page (1-based) for extract_pages")
        end_page: int | None = Field(None, ge=1, description="Last page (inclusive) for extract_pages")
        password: str | None = None

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        pypdf = need("pypdf", "media", tool=self.name)
        path = _src(ctx, params.input)
        return await asyncio.to_thread(self._run, pypdf, path, params)

    def _run(self, pypdf: Any, path: _Src, params: Params) -> dict[str, Any]:
        try:
            reader = pypdf.PdfReader(path.open_data())
            if reader.is_encrypted:
                if not params.password or not reader.decrypt(params.password):
                    raise ToolError("pdf-processor: the PDF is encrypted; give the right 'password'")
        except pypdf.errors.PdfReadError as e:
            raise ToolError(f"pdf-processor: not a readable PDF: {e}") from e
        n = len(reader.pages)
        if params.operation == "extract_metadata":
            md = reader.metadata or {}
            return {"file": str(path), "page_count": n, "encrypted": reader.is_encrypted,
                    "metadata": {str(k).lstrip("/"): str(v) for k, v in md.items()},
                    "title": getattr(md, "title", None), "author": getattr(md, "author", None)}
        if params.operation == "extract_text":
            text = "\n\n".join((p.extract_text() or "") for p in reader.pages)
            return {"file": str(path), "text": text, "page_count": n, "length": len(text)}
        first = params.start_page
        last = min(params.end_page or n, n)
        if first > n:
            raise ToolError(f"pdf-processor: start_page {first} is past the last page ({n})")
        pages = [{"page": i + 1, "text": reader.pages[i].extract_text() or ""} for i in range(first - 1, last)]
        return {"file": str(path), "pages": pages, "page_count": n, "start_page": first, "end_page": last}


# ----------------------------------------------------------------------------------- image


class ImageProcessorTool(BuiltinTool):
    name = "image-processor"
    description = "Image metadata, format detection, resize, convert, crop, rotate and thumbnails (Pillow)"
    category = "media"
    tags = ("image", "resize", "thumbnail", "png", "jpeg")

    class Params(ToolParams):
        operation: Literal["detect", "metadata", "resize", "convert", "crop", "rotate", "thumbnail"] = "metadata"
        file_path: str | None = None
        source_path: str | None = None
        target_path: str | None = None
        width: int | None = Field(None, gt=0)
        height: int | None = Field(None, gt=0)
        x: int = Field(0, ge=0)
        y: int = Field(0, ge=0)
        degrees: float = 90
        maintain_aspect_ratio: bool = True
        target_format: str | None = Field(None, description="png, jpeg, gif, webp, bmp, tiff")
        max_width: int = Field(200, gt=0)
        max_height: int = Field(200, gt=0)

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        Image = need("PIL.Image", "media", package="pillow", tool=self.name)
        src = _src(ctx, params.file_path, params.source_path)
        dst = None
        if params.operation not in ("detect", "metadata"):
            if not params.target_path:
                raise ToolError(f"image-processor: parameter 'target_path' is required for {params.operation}")
            dst = check_path(ctx, params.target_path, write=True)
        return await asyncio.to_thread(self._run, Image, src, dst, params, ctx)

    def _run(self, Image: Any, src: _Src, dst: Path | None, p: Params, ctx: ToolContext) -> dict[str, Any]:
        try:
            img = Image.open(src.open_data())
        except Exception as e:  # PIL.UnidentifiedImageError and decompression-bomb errors
            raise ToolError(f"image-processor: cannot read {src.name} as an image: {e}") from e
        with img:
            info = {"format": img.format, "width": img.width, "height": img.height, "mode": img.mode,
                    "file_size": src.size}
            if p.operation == "detect":
                return {"file": str(src), "format": img.format, "mime_type": Image.MIME.get(img.format or "")}
            if p.operation == "metadata":
                exif = {}
                try:
                    from PIL.ExifTags import TAGS

                    exif = {TAGS.get(k, str(k)): str(v) for k, v in img.getexif().items()}
                except Exception:
                    exif = {}
                return {"file": str(src), **info, "color_space": img.mode,
                        "animated": getattr(img, "is_animated", False),
                        "frames": getattr(img, "n_frames", 1), "exif": exif}
            assert dst is not None
            img.load()
            out = img
            if p.operation == "resize":
                if not p.width and not p.height:
                    raise ToolError("image-processor: resize needs 'width' and/or 'height'")
                w, h = p.width, p.height
                if p.maintain_aspect_ratio or not (w and h):
                    ratio = min((w or 10**9) / img.width, (h or 10**9) / img.height)
                    w, h = max(1, round(img.width * ratio)), max(1, round(img.height * ratio))
                out = img.resize((w, h))
            elif p.operation == "crop":
                if not p.width or not p.height:
                    raise ToolError("image-processor: crop needs 'width' and 'height'")
                if p.x + p.width > img.width or p.y + p.height > img.height:
                    raise ToolError(f"image-processor: crop box ({p.x},{p.y},{p.width}x{p.height}) is outside "
                                    f"the {img.width}x{img.height} image")
                out = img.crop((p.x, p.y, p.x + p.width, p.y + p.height))
            elif p.operation == "rotate":
                out = img.rotate(-p.degrees, expand=True)  # clockwise, as rs-llmspell documents
            elif p.operation == "thumbnail":
                out = img.copy()
                out.thumbnail((p.max_width, p.max_height))
            fmt = (p.target_format or dst.suffix.lstrip(".") or img.format or "png").upper()
            fmt = {"JPG": "JPEG", "TIF": "TIFF"}.get(fmt, fmt)
            if fmt == "JPEG" and out.mode not in ("RGB", "L"):
                out = out.convert("RGB")
            buf = io.BytesIO()
            try:
                out.save(buf, format=fmt)
            except (KeyError, ValueError, OSError) as e:
                raise ToolError(f"image-processor: cannot write {fmt}: {e}") from e
            write_file(ctx, p.target_path or "", buf.getvalue())
            return {"source": str(src), "target": str(dst), "operation": p.operation, "format": fmt,
                    "width": out.width, "height": out.height, "original_width": img.width,
                    "original_height": img.height}


# ----------------------------------------------------------------------------------- audio


_AUDIO_MAGIC = [(b"RIFF", "wav"), (b"ID3", "mp3"), (b"\xff\xfb", "mp3"), (b"\xff\xf3", "mp3"), (b"fLaC", "flac"),
                (b"OggS", "ogg")]


def _detect_audio(path: _Src) -> str | None:
    head = path.read_bytes()[:12]
    for magic, fmt in _AUDIO_MAGIC:
        if head.startswith(magic):
            return "wav" if fmt == "wav" and head[8:12] == b"WAVE" else (fmt if fmt != "wav" else None)
    if head[4:8] == b"ftyp":
        return "m4a"
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    return None


class AudioProcessorTool(BuiltinTool):
    name = "audio-processor"
    description = "Detect audio formats, read metadata (duration, bitrate, tags) and convert audio"
    category = "media"
    tags = ("audio", "wav", "mp3", "metadata")

    class Params(ToolParams):
        operation: Literal["detect", "metadata", "convert"] = "metadata"
        file_path: str | None = None
        source_path: str | None = None
        target_path: str | None = None
        target_format: Literal["wav", "mp3", "flac", "ogg"] | None = None
        sample_rate: int | None = Field(None, gt=0, description="Resample to this rate (convert)")
        channels: int | None = Field(None, ge=1, le=8)

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        src = _src(ctx, params.file_path, params.source_path)
        fmt = _detect_audio(src)
        if params.operation == "detect":
            return {"file": str(src), "format": fmt, "is_audio": fmt is not None}
        if params.operation == "metadata":
            return await asyncio.to_thread(self._metadata, src, fmt)
        if not params.target_path:
            raise ToolError("audio-processor: parameter 'target_path' is required for convert")
        dst = check_path(ctx, params.target_path, write=True)
        target = params.target_format or dst.suffix.lstrip(".").lower() or "wav"
        if fmt == "wav" and target == "wav" and params.sample_rate is None:
            data = await asyncio.to_thread(self._wav_copy, src, params.channels)
            await asyncio.to_thread(write_file, ctx, params.target_path, data)
        else:
            if target not in AUDIO_FORMATS:
                raise ToolError(f"audio-processor: target_format {target!r} is not one of "
                                f"{', '.join(sorted(AUDIO_FORMATS))}")
            args: list[str] = []
            if params.sample_rate:
                args += ["-ar", str(int(params.sample_rate))]
            if params.channels:
                args += ["-ac", str(int(params.channels))]
            await _ffmpeg(ctx, [], str(params.file_path or params.source_path), [*args, "-f", target],
                          params.target_path)
        written = await asyncio.to_thread(_load, ctx, params.target_path)
        meta = await asyncio.to_thread(self._metadata, written, _detect_audio(written))
        return {"source": str(src), "target": str(dst), "format": target, "metadata": meta}

    @staticmethod
    def _wav_copy(src: _Src, channels: int | None) -> bytes:
        with wave.open(src.open_data(), "rb") as r:
            frames = r.readframes(r.getnframes())
            nch, width, rate = r.getnchannels(), r.getsampwidth(), r.getframerate()
        if channels and channels != nch:
            if not (nch == 2 and channels == 1):
                raise ToolError("audio-processor: only stereo->mono channel changes work without ffmpeg")
            import array

            codes = {1: "b", 2: "h", 4: "i"}
            if width not in codes:
                raise ToolError(f"audio-processor: {width * 8}-bit samples need ffmpeg to remix")
            a = array.array(codes[width], frames)
            frames = array.array(codes[width], ((a[i] + a[i + 1]) // 2 for i in range(0, len(a) - 1, 2))).tobytes()
            nch = 1
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(nch)
            w.setsampwidth(width)
            w.setframerate(rate)
            w.writeframes(frames)
        return buf.getvalue()

    @staticmethod
    def _metadata(path: _Src, fmt: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"file": str(path), "format": fmt, "file_size": path.size}
        if fmt == "wav":
            try:
                with wave.open(path.open_data(), "rb") as w:
                    out.update(channels=w.getnchannels(), sample_rate=w.getframerate(),
                               bits_per_sample=w.getsampwidth() * 8,
                               duration_seconds=w.getnframes() / w.getframerate() if w.getframerate() else 0.0)
                    return out
            except (wave.Error, EOFError):
                pass
        mutagen = need("mutagen", "media", tool="audio-processor")
        try:
            f = mutagen.File(path.open_data())
        except mutagen.MutagenError as e:
            raise ToolError(f"audio-processor: cannot read {path.name}: {e}") from e
        if f is None:
            raise ToolError(f"audio-processor: {path.name} is not a recognised audio file")
        info = f.info
        out.update(duration_seconds=getattr(info, "length", None), sample_rate=getattr(info, "sample_rate", None),
                   channels=getattr(info, "channels", None), bitrate=getattr(info, "bitrate", None),
                   bits_per_sample=getattr(info, "bits_per_sample", None))
        tags = {}
        if f.tags:
            for k, v in f.tags.items():
                tags[str(k)] = str(v[0] if isinstance(v, list) and v else v)
        out["tags"] = tags
        return out


# ----------------------------------------------------------------------------------- video


class VideoProcessorTool(BuiltinTool):
    name = "video-processor"
    description = "Video format detection and metadata (duration, size, codecs); frames via an allowed ffmpeg"
    category = "media"
    tags = ("video", "mp4", "metadata", "thumbnail")

    class Params(ToolParams):
        operation: Literal["detect", "metadata", "thumbnail", "extract_frame"] = "metadata"
        file_path: str = Field(description="The video file")
        target_path: str | None = None
        timestamp_seconds: float = Field(0.0, ge=0)

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        src = _src(ctx, params.file_path)
        if params.operation in ("detect", "metadata"):
            return await asyncio.to_thread(self._metadata, src, params.operation == "detect")
        if not params.target_path:
            raise ToolError(f"video-processor: parameter 'target_path' is required for {params.operation}")
        dst = check_path(ctx, params.target_path, write=True)
        codec = "mjpeg" if dst.suffix.lower() in (".jpg", ".jpeg") else "png"
        args = ["-frames:v", "1"]
        if params.operation == "thumbnail":
            args += ["-vf", "scale=320:-1"]
        await _ffmpeg(ctx, ["-ss", str(float(params.timestamp_seconds))], params.file_path,
                      [*args, "-c:v", codec, "-f", "image2", "-update", "1"], params.target_path)
        return {"source": str(src), "target": str(dst), "timestamp_seconds": params.timestamp_seconds}

    @staticmethod
    def _metadata(path: _Src, detect_only: bool) -> dict[str, Any]:
        need("hachoir", "media", tool="video-processor")
        from hachoir.core import config as hconfig
        from hachoir.metadata import extractMetadata
        from hachoir.parser import guessParser
        from hachoir.stream import InputIOStream

        hconfig.quiet = True
        parser = guessParser(InputIOStream(path.open_data(), filename=str(path)))
        if parser is None:
            if detect_only:
                return {"file": str(path), "format": None, "is_video": False}
            raise ToolError(f"video-processor: {path.name} is not a recognised media file")
        with parser:
            mime = str(parser.mime_type) if parser.mime_type else None
            if detect_only:
                return {"file": str(path), "format": parser.PARSER_TAGS.get("id"), "mime_type": mime,
                        "is_video": bool(mime and mime.startswith("video/"))}
            try:
                md = extractMetadata(parser)
            except Exception as e:  # hachoir raises assorted parser errors on damaged files
                raise ToolError(f"video-processor: cannot read metadata from {path.name}: {e}") from e
        values: dict[str, Any] = {}
        if md is not None:
            for item in md:
                if item.values:
                    values[item.key] = item.values[0].value
        dur: Any = values.get("duration")
        return {"file": str(path), "mime_type": mime, "format": mime.split("/")[-1] if mime else None,
                "duration_seconds": dur.total_seconds() if hasattr(dur, "total_seconds") else None,
                "width": values.get("width"), "height": values.get("height"),
                "frame_rate": values.get("frame_rate"), "file_size": path.size,
                "metadata": {k: str(v) for k, v in values.items()}}


TOOLS = [PdfProcessorTool, ImageProcessorTool, AudioProcessorTool, VideoProcessorTool]
