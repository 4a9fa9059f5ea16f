"""Media tools on files the tests make: PDF (hand-built, with text), PNG (Pillow), WAV (wave), MP4 (boxes)."""

from __future__ import annotations

import struct
import sys
import wave
from pathlib import Path
from typing import Any

import pytest
from tool_helpers import call, result

from llmspell.core.errors import SecurityViolationError, ToolError, ValidationError


def make_pdf(text: str) -> bytes:
    """A minimal one-page PDF whose content stream draws ``text`` in Helvetica."""
    stream = f"BT /F1 18 Tf 20 100 Td ({text}) Tj ET".encode()
    objs: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 144] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>", b"<< /Title (Test Doc) /Author (Ada) >>"]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objs):
        offsets.append(len(out))
        out += f"{i + 1} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def make_mp4(width: int, height: int, duration_ms: int) -> bytes:
    """ftyp + moov(mvhd, trak(tkhd)): enough for a metadata reader."""
    def box(t: bytes, payload: bytes) -> bytes:
        return struct.pack(">I4s", 8 + len(payload), t) + payload

    def full(t: bytes, flags: int, payload: bytes) -> bytes:
        return box(t, struct.pack(">I", flags) + payload)

    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = full(b"mvhd", 0, struct.pack(">IIII", 0, 0, 1000, duration_ms) + struct.pack(">IH", 0x10000, 0x100)
                + b"\0" * 10 + matrix + b"\0" * 24 + struct.pack(">I", 2))
    tkhd = full(b"tkhd", 3, struct.pack(">IIIII", 0, 0, 1, 0, duration_ms) + b"\0" * 8 + b"\0" * 8 + matrix
                + struct.pack(">II", width << 16, height << 16))
    return box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2mp41") + box(b"moov", mvhd + box(b"trak", tkhd))


def make_wav(path: Path, *, channels: int = 2, rate: int = 8000, seconds: float = 0.5) -> None:
    n = int(rate * seconds)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = b"".join(struct.pack("<" + "h" * channels, *([1000] * channels)) for _ in range(n))
        w.writeframes(frames)


async def test_pdf_processor(rt: Any, ws: Path) -> None:
    pytest.importorskip("pypdf")
    import pypdf

    (ws / "one.pdf").write_bytes(make_pdf("Hello PDF world"))
    t = await result(rt, "pdf-processor", {"input": "one.pdf"})
    assert t["text"].strip() == "Hello PDF world" and t["page_count"] == 1
    m = await result(rt, "pdf-processor", {"operation": "extract_metadata", "input": "one.pdf"})
    assert m["title"] == "Test Doc" and m["author"] == "Ada" and m["metadata"]["Title"] == "Test Doc"
    (ws / "two.pdf").write_bytes(make_pdf("Second page"))
    writer = pypdf.PdfWriter()
    writer.append(str(ws / "one.pdf"))
    writer.append(str(ws / "two.pdf"))
    writer.write(str(ws / "both.pdf"))
    p = await result(rt, "pdf-processor", {"operation": "extract_pages", "input": "both.pdf", "start_page": 2})
    assert [x["page"] for x in p["pages"]] == [2] and p["pages"][0]["text"].strip() == "Second page"
    (ws / "junk.pdf").write_bytes(b"not a pdf")
    with pytest.raises(ToolError, match="PDF"):
        await call(rt, "pdf-processor", {"input": "junk.pdf"})


async def test_image_processor(rt: Any, ws: Path) -> None:
    Image = pytest.importorskip("PIL.Image")
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    img.putpixel((0, 0), (0, 0, 255))
    img.save(ws / "in.png")
    d = await result(rt, "image-processor", {"operation": "detect", "file_path": "in.png"})
    assert d["format"] == "PNG" and d["mime_type"] == "image/png"
    m = await result(rt, "image-processor", {"file_path": "in.png"})
    assert (m["width"], m["height"], m["mode"]) == (40, 20, "RGB")
    r = await result(rt, "image-processor", {"operation": "resize", "source_path": "in.png", "target_path": "r.png",
                                             "width": 10})
    assert (r["width"], r["height"]) == (10, 5)
    r2 = await result(rt, "image-processor", {"operation": "resize", "file_path": "in.png", "target_path": "s.png",
                                              "width": 10, "height": 10, "maintain_aspect_ratio": False})
    assert (r2["width"], r2["height"]) == (10, 10)
    c = await result(rt, "image-processor", {"operation": "crop", "file_path": "in.png", "target_path": "c.png",
                                             "x": 0, "y": 0, "width": 5, "height": 5})
    assert Image.open(ws / "c.png").getpixel((0, 0)) == (0, 0, 255) and c["width"] == 5
    rot = await result(rt, "image-processor", {"operation": "rotate", "file_path": "in.png", "target_path": "rot.png"})
    assert (rot["width"], rot["height"]) == (20, 40)
    th = await result(rt, "image-processor", {"operation": "thumbnail", "file_path": "in.png", "target_path": "t.png",
                                              "max_width": 8, "max_height": 8})
    assert th["width"] == 8 and th["height"] == 4
    cv = await result(rt, "image-processor", {"operation": "convert", "file_path": "in.png", "target_path": "o.jpg"})
    assert cv["format"] == "JPEG" and Image.open(ws / "o.jpg").format == "JPEG"
    with pytest.raises(ToolError, match="outside"):
        await call(rt, "image-processor", {"operation": "crop", "file_path": "in.png", "target_path": "x.png",
                                           "x": 30, "y": 0, "width": 20, "height": 5})
    (ws / "bad.png").write_bytes(b"nope")
    with pytest.raises(ToolError, match="cannot read"):
        await call(rt, "image-processor", {"file_path": "bad.png"})


async def test_image_target_outside_refused(rt: Any, ws: Path, tmp_path: Path) -> None:
    Image = pytest.importorskip("PIL.Image")
    Image.new("RGB", (4, 4)).save(ws / "in.png")
    with pytest.raises(SecurityViolationError):
        await call(rt, "image-processor", {"operation": "convert", "file_path": "in.png",
                                           "target_path": str(tmp_path / "out.png")})


async def test_audio_processor_wav(rt: Any, ws: Path) -> None:
    make_wav(ws / "a.wav", channels=2, rate=8000, seconds=0.5)
    d = await result(rt, "audio-processor", {"operation": "detect", "file_path": "a.wav"})
    assert d == {"file": str(ws / "a.wav"), "format": "wav", "is_audio": True}
    m = await result(rt, "audio-processor", {"file_path": "a.wav"})
    assert m["channels"] == 2 and m["sample_rate"] == 8000 and m["duration_seconds"] == 0.5
    c = await result(rt, "audio-processor", {"operation": "convert", "source_path": "a.wav", "target_path": "m.wav",
                                             "channels": 1})
    assert c["metadata"]["channels"] == 1 and c["metadata"]["duration_seconds"] == 0.5
    (ws / "x.txt").write_text("hello")
    assert (await result(rt, "audio-processor", {"operation": "detect", "file_path": "x.txt"}))["is_audio"] is False


async def test_audio_conversion_needing_ffmpeg_is_refused_unless_allowed(rt: Any, ws: Path) -> None:
    make_wav(ws / "a.wav")
    with pytest.raises(SecurityViolationError, match="ffmpeg"):
        await call(rt, "audio-processor", {"operation": "convert", "file_path": "a.wav", "target_path": "a.mp3"})


async def test_audio_metadata_and_tags_via_mutagen(rt: Any, ws: Path) -> None:
    """AIFF (written with the standard library) with ID3 tags added by mutagen."""
    pytest.importorskip("mutagen")
    import warnings

    from mutagen.aiff import AIFF
    from mutagen.id3 import TIT2, TPE1

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import aifc

        with aifc.open(str(ws / "s.aiff"), "wb") as a:
            a.setnchannels(1)
            a.setsampwidth(2)
            a.setframerate(16000)
            a.writeframes(b"\x00\x10" * 16000)
    f = AIFF(str(ws / "s.aiff"))
    f.add_tags()
    f.tags.add(TIT2(encoding=3, text="Song"))
    f.tags.add(TPE1(encoding=3, text="Ada"))
    f.save()
    m = await result(rt, "audio-processor", {"file_path": "s.aiff"})
    assert m["format"] == "aiff" and m["sample_rate"] == 16000 and m["channels"] == 1
    assert abs(m["duration_seconds"] - 1.0) < 0.01 and m["tags"]["TIT2"] == "Song" and m["tags"]["TPE1"] == "Ada"
    (ws / "odd.bin").write_bytes(b"\x00" * 32)
    with pytest.raises(ToolError, match="not a recognised audio file"):
        await call(rt, "audio-processor", {"file_path": "odd.bin"})


async def test_video_processor_metadata(rt: Any, ws: Path) -> None:
    pytest.importorskip("hachoir")
    (ws / "v.mp4").write_bytes(make_mp4(320, 240, 2500))
    m = await result(rt, "video-processor", {"file_path": "v.mp4"})
    assert m["mime_type"] == "video/mp4" and m["duration_seconds"] == 2.5
    assert (m["width"], m["height"]) == (320, 240)
    d = await result(rt, "video-processor", {"operation": "detect", "file_path": "v.mp4"})
    assert d["is_video"] is True
    (ws / "n.bin").write_bytes(b"\x00" * 64)
    assert (await result(rt, "video-processor", {"operation": "detect", "file_path": "n.bin"}))["is_video"] is False
    with pytest.raises(SecurityViolationError, match="ffmpeg"):
        await call(rt, "video-processor", {"operation": "thumbnail", "file_path": "v.mp4", "target_path": "t.png"})


async def test_media_extra_missing_is_named(rt: Any, ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    (ws / "x.png").write_bytes(b"")
    with pytest.raises(ToolError, match=r"llmspell-ls\[media\]"):
        await call(rt, "image-processor", {"file_path": "x.png"})


@pytest.fixture
def ffmpeg_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real ffmpeg (the static binary PyPI's imageio-ffmpeg ships) on PATH as ``ffmpeg``."""
    iio = pytest.importorskip("imageio_ffmpeg")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "ffmpeg").symlink_to(iio.get_ffmpeg_exe())
    monkeypatch.setenv("PATH", f"{bindir}:{__import__('os').environ.get('PATH', '')}")
    return bindir / "ffmpeg"


def _gen(ffmpeg: Path, *args: str) -> None:
    import subprocess

    subprocess.run([str(ffmpeg), "-loglevel", "error", "-y", *args], check=True, timeout=60)


async def test_ffmpeg_conversions_run_on_descriptors_the_gate_opened(ws: Path, ffmpeg_on_path: Path,
                                                                    runtime_factory: Any) -> None:
    """ffmpeg never receives a path name: the input and the output are gate-opened descriptors. A real
    conversion, a real frame, and the same calls through a link that leaves the workspace refused."""
    _gen(ffmpeg_on_path, "-f", "lavfi", "-i", "sine=frequency=440:duration=1", str(ws / "in.wav"))
    _gen(ffmpeg_on_path, "-f", "lavfi", "-i", "testsrc=duration=2:size=160x120:rate=10", "-pix_fmt", "yuv420p",
         str(ws / "v.mp4"))
    rt = runtime_factory(process_allow=["ffmpeg"])
    await result(rt, "audio-processor", {"operation": "convert", "file_path": "in.wav",
                                         "target_path": "out/o.mp3", "target_format": "mp3"})
    assert (ws / "out" / "o.mp3").read_bytes()[:3] in (b"ID3", b"\xff\xfb", b"\xff\xf3")
    await result(rt, "video-processor", {"operation": "thumbnail", "file_path": "v.mp4", "target_path": "t.png",
                                         "timestamp_seconds": 1})
    assert (ws / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    outside = ws.parent / "outside"
    outside.mkdir()
    (ws / "evil").symlink_to(outside)
    with pytest.raises(SecurityViolationError, match="outside the allowed paths"):
        await call(rt, "video-processor", {"operation": "thumbnail", "file_path": "v.mp4",
                                           "target_path": "evil/t.png"})
    with pytest.raises(ValidationError, match="target_format"):  # no muxer that writes elsewhere
        await call(rt, "audio-processor", {"operation": "convert", "file_path": "in.wav",
                                           "target_path": "x.out", "target_format": "tee"})
    assert list(outside.iterdir()) == []
