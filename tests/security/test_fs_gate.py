"""Unit tests of the path gate (llmspell.security.fs): every way out of a root, tried on the gate itself.

Each test asserts the refusal and that nothing outside the root changed (the outside file keeps its
content, nothing was created, the secret is not in what came back). Both resolution paths run: the
openat2 fast path (when the kernel has it) and the O_NOFOLLOW walk.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

import pytest

from llmspell.core.errors import SecurityViolationError
from llmspell.security import fs as fsmod
from llmspell.security.fs import PathGate

from .attacks import swapping_symlink

SECRET = "TOP-SECRET-CONTENT-42"


@pytest.fixture(params=["openat2", "walk"])
def mode(request: pytest.FixtureRequest) -> str:
    if request.param == "openat2" and not fsmod._openat2_available():
        pytest.skip("openat2 is not available on this kernel")
    return str(request.param)


@pytest.fixture
def box(tmp_path: Path, mode: str) -> tuple[PathGate, Path, Path]:
    ws = tmp_path / "ws"
    ws.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    return PathGate([ws], ws, use_openat2=(mode == "openat2")), ws, secret


def _unchanged(secret: Path) -> None:
    assert secret.read_text() == SECRET


def test_inside_read_write_roundtrip(box: tuple[PathGate, Path, Path]) -> None:
    g, ws, _ = box
    g.write_text("a/b/c.txt", "hello")
    assert (ws / "a" / "b" / "c.txt").read_text() == "hello"
    assert g.read_text("a/b/c.txt") == "hello"
    assert g.read_text(ws / "a" / "b" / "c.txt") == "hello"
    with g.open("a/b/c.txt", "a") as f:
        f.write("!")
    assert g.read_text("./a/x/../b/c.txt") == "hello!"
    assert g.resolve("a/b/c.txt") == ws / "a" / "b" / "c.txt"
    assert g.resolve("not/yet/there.txt") == ws / "not" / "yet" / "there.txt"


@pytest.mark.parametrize("bad", ["../secret.txt", "a/../../secret.txt", "/etc/passwd", "~/.bashrc", "..",
                                 "/proc/self/environ", "/dev/zero"])
def test_dotdot_and_absolute_outside_are_refused(box: tuple[PathGate, Path, Path], bad: str) -> None:
    g, _ws, secret = box
    with pytest.raises(SecurityViolationError, match="outside the allowed paths"):
        g.read_bytes(bad)
    with pytest.raises(SecurityViolationError, match="outside the allowed paths"):
        g.write_text(bad, "x")
    with pytest.raises(SecurityViolationError):
        g.resolve(bad)
    _unchanged(secret)


def test_prefix_sibling_is_outside(box: tuple[PathGate, Path, Path]) -> None:
    g, ws, _ = box
    sib = ws.parent / (ws.name + "2")
    sib.mkdir()
    (sib / "f").write_text(SECRET)
    with pytest.raises(SecurityViolationError):
        g.read_bytes(sib / "f")


@pytest.mark.parametrize("bad", ["a\x00b", ""])
def test_nul_and_empty_are_refused(box: tuple[PathGate, Path, Path], bad: str) -> None:
    g, _, _ = box
    with pytest.raises(SecurityViolationError, match="invalid file path"):
        g.read_bytes(bad)


def test_percent_encoding_is_a_literal_name(box: tuple[PathGate, Path, Path]) -> None:
    g, ws, secret = box
    with pytest.raises(FileNotFoundError):
        g.read_bytes("%2e%2e/secret.txt")
    g.write_text("%2e%2e/x.txt", "lit")
    assert (ws / "%2e%2e" / "x.txt").read_text() == "lit"
    _unchanged(secret)


def test_symlink_file_escape_read_and_write(box: tuple[PathGate, Path, Path]) -> None:
    g, ws, secret = box
    os.symlink(secret, ws / "link.txt")
    os.symlink("../secret.txt", ws / "rel.txt")
    for name in ("link.txt", "rel.txt"):
        with pytest.raises(SecurityViolationError, match="outside the allowed paths"):
            g.read_bytes(name)
        with pytest.raises(SecurityViolationError, match="outside the allowed paths"):
            g.write_text(name, "pwned")
        with pytest.raises(SecurityViolationError):
            g.open(name, "a")
        with pytest.raises(SecurityViolationError):
            g.stat(name)
    _unchanged(secret)


def test_symlink_dir_escape_and_dangling_create(box: tuple[PathGate, Path, Path], tmp_path: Path) -> None:
    g, ws, secret = box
    os.symlink(tmp_path, ws / "up")
    os.symlink(tmp_path / "created.txt", ws / "dangling")
    with pytest.raises(SecurityViolationError):
        g.read_bytes("up/secret.txt")
    with pytest.raises(SecurityViolationError):
        g.write_text("up/new.txt", "x")
    with pytest.raises(SecurityViolationError):
        g.write_text("dangling", "x")
    with pytest.raises(SecurityViolationError):
        g.mkdir("up/newdir")
    with pytest.raises(SecurityViolationError):
        g.scandir("up")
    assert not (tmp_path / "created.txt").exists() and not (tmp_path / "new.txt").exists()
    assert not (tmp_path / "newdir").exists()
    _unchanged(secret)


def test_symlinks_that_stay_inside_are_followed(box: tuple[PathGate, Path, Path]) -> None:
    g, ws, _ = box
    (ws / "real").mkdir()
    (ws / "real" / "f.txt").write_text("inside")
    os.symlink("real", ws / "alias")
    os.symlink(ws / "real" / "f.txt", ws / "abs.txt")
    os.symlink("alias/../real/f.txt", ws / "chain.txt")
    assert g.read_text("alias/f.txt") == "inside"
    assert g.read_text("abs.txt") == "inside"
    assert g.read_text("chain.txt") == "inside"
    assert g.resolve("alias/f.txt") == ws / "real" / "f.txt"


def test_symlink_loop_is_an_error_not_a_hang(box: tuple[PathGate, Path, Path]) -> None:
    g, ws, _ = box
    os.symlink("b", ws / "a")
    os.symlink("a", ws / "b")
    with pytest.raises(OSError) as ei:
        g.read_bytes("a")
    assert ei.value.errno == errno.ELOOP or isinstance(ei.value, SecurityViolationError)


def test_fifo_is_refused_without_blocking(box: tuple[PathGate, Path, Path]) -> None:
    g, ws, _ = box
    os.mkfifo(ws / "pipe")
    done: list[BaseException] = []

    def attempt() -> None:
        for fn in (lambda: g.read_bytes("pipe"), lambda: g.write_text("pipe", "x")):
            try:
                fn()
            except BaseException as e:
                done.append(e)

    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(5)
    assert not t.is_alive(), "opening a FIFO blocked"
    assert len(done) == 2 and all(isinstance(e, SecurityViolationError) and "FIFO" in str(e) for e in done)


def test_socket_and_device_links_are_refused(box: tuple[PathGate, Path, Path]) -> None:
    import socket

    g, ws, _ = box
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(ws / "sock"))
        with pytest.raises(SecurityViolationError, match="socket"):
            g.read_bytes("sock")
    finally:
        s.close()
    os.symlink("/dev/zero", ws / "zero")
    with pytest.raises(SecurityViolationError):
        g.read_bytes("zero")


def test_device_inside_an_allowed_root_is_refused(tmp_path: Path) -> None:
    g = PathGate(["/dev"], tmp_path)
    with pytest.raises(SecurityViolationError, match="device"):
        g.read_bytes("/dev/zero")
    with pytest.raises(SecurityViolationError, match="device"):
        g.write_text("/dev/null", "x")


def test_hardlink_to_outside_file_is_refused(box: tuple[PathGate, Path, Path]) -> None:
    g, ws, secret = box
    os.link(secret, ws / "hard.txt")
    with pytest.raises(SecurityViolationError, match="hard links"):
        g.read_bytes("hard.txt")
    with pytest.raises(SecurityViolationError, match="hard links"):
        g.write_text("hard.txt", "pwned")
    with pytest.raises(SecurityViolationError, match="hard links"):
        g.open("hard.txt", "w")
    _unchanged(secret)
    # removing the name inside is fine and leaves the outside file alone
    g.remove("hard.txt")
    _unchanged(secret)


def test_truncate_happens_after_the_checks(box: tuple[PathGate, Path, Path]) -> None:
    g, ws, secret = box
    os.link(secret, ws / "hard.txt")
    with pytest.raises(SecurityViolationError):
        g.open("hard.txt", "w")
    _unchanged(secret)


def test_exclusive_create_does_not_follow(box: tuple[PathGate, Path, Path], tmp_path: Path) -> None:
    g, ws, _ = box
    os.symlink("inside-target.txt", ws / "l")
    with pytest.raises(FileExistsError):
        g.open("l", "x")
    assert not (ws / "inside-target.txt").exists()


def test_remove_and_rename_act_on_names_not_targets(box: tuple[PathGate, Path, Path], tmp_path: Path) -> None:
    g, ws, secret = box
    outdir = tmp_path / "outdir"
    outdir.mkdir()
    (outdir / "keep.txt").write_text(SECRET)
    os.symlink(outdir, ws / "dirlink")
    os.symlink(secret, ws / "filelink")
    assert g.remove("dirlink", recursive=True) == "symlink"
    assert g.remove("filelink") == "symlink"
    assert (outdir / "keep.txt").read_text() == SECRET
    _unchanged(secret)
    with pytest.raises(SecurityViolationError):
        g.remove("../secret.txt")
    with pytest.raises(SecurityViolationError):
        g.rename("../secret.txt", "stolen.txt")
    (ws / "mine.txt").write_text("m")
    with pytest.raises(SecurityViolationError):
        g.rename("mine.txt", "../secret.txt")
    _unchanged(secret)
    with pytest.raises(SecurityViolationError, match="allowed root"):
        g.remove(".")
    g.rename("mine.txt", "sub/moved.txt")
    assert (ws / "sub" / "moved.txt").read_text() == "m"


def test_rmtree_does_not_follow_links_inside_the_tree(box: tuple[PathGate, Path, Path], tmp_path: Path) -> None:
    g, ws, secret = box
    (ws / "t" / "d").mkdir(parents=True)
    os.symlink(tmp_path, ws / "t" / "d" / "up")
    g.remove("t", recursive=True)
    assert not (ws / "t").exists()
    _unchanged(secret)


def test_copy_tree_links_inside_kept_as_links_outside_refused(box: tuple[PathGate, Path, Path],
                                                               tmp_path: Path) -> None:
    g, ws, secret = box
    (ws / "src" / "sub").mkdir(parents=True)
    (ws / "src" / "sub" / "a.txt").write_text("a")
    os.symlink("sub/a.txt", ws / "src" / "ln")
    g.copy("src", "dst")
    assert (ws / "dst" / "sub" / "a.txt").read_text() == "a"
    assert os.readlink(ws / "dst" / "ln") == "sub/a.txt"
    os.symlink(secret, ws / "src" / "evil")
    with pytest.raises(SecurityViolationError, match="outside"):
        g.copy("src", "dst2")
    assert not (ws / "dst2").exists()
    # a relative link that is inside at its old place but would leave from the new one
    (ws / "deep" / "er").mkdir(parents=True)
    (ws / "top.txt").write_text("t")
    os.symlink("../../top.txt", ws / "deep" / "er" / "up")
    with pytest.raises(SecurityViolationError):
        g.copy("deep/er/up", "../x")
    _unchanged(secret)


def test_copy_refuses_fifo_in_tree(box: tuple[PathGate, Path, Path]) -> None:
    g, ws, _ = box
    (ws / "src").mkdir()
    os.mkfifo(ws / "src" / "p")
    with pytest.raises(SecurityViolationError, match="FIFO"):
        g.copy("src", "dst")


def test_copy_over_a_destination_link_replaces_the_link(box: tuple[PathGate, Path, Path]) -> None:
    g, ws, secret = box
    (ws / "src").mkdir()
    (ws / "src" / "f").write_text("new")
    (ws / "dst").mkdir()
    os.symlink(secret, ws / "dst" / "f")
    g.copy("src", "dst")
    assert (ws / "dst" / "f").read_text() == "new" and not (ws / "dst" / "f").is_symlink()
    _unchanged(secret)


def test_scandir_lists_links_without_entering(box: tuple[PathGate, Path, Path], tmp_path: Path) -> None:
    g, ws, _ = box
    (ws / "d").mkdir()
    (ws / "d" / "f").write_text("x")
    os.symlink(tmp_path, ws / "d" / "out")
    names = {(e.rel, e.kind) for e in g.scandir(".", recursive=True)}
    assert ("d/out", "symlink") in names and ("d/f", "file") in names
    assert not any(r.startswith("d/out/") for r, _ in names)


def test_symlink_swap_race_never_reads_outside(box: tuple[PathGate, Path, Path], tmp_path: Path) -> None:
    g, ws, secret = box
    (ws / "real").mkdir()
    (ws / "real" / "secret.txt").write_text("harmless")
    with swapping_symlink(ws, tmp_path):
        for _ in range(3000):
            try:
                data = g.read_bytes("real/secret.txt")
            except (OSError, SecurityViolationError):
                continue
            assert SECRET.encode() not in data
            try:
                g.write_text("real/secret.txt", "harmless")
            except (OSError, SecurityViolationError):
                pass
    _unchanged(secret)


def test_multiple_roots_and_links_between_them(tmp_path: Path, mode: str) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (b / "f").write_text("in b")
    os.symlink(b / "f", a / "to_b")
    g = PathGate([a, b], a, use_openat2=(mode == "openat2"))
    assert g.read_text("to_b") == "in b"
    assert g.read_text("../b/f") == "in b"
    g2 = PathGate([a], a, use_openat2=(mode == "openat2"))
    with pytest.raises(SecurityViolationError):
        g2.read_text("to_b")


def test_permissions_preserved_on_copy(box: tuple[PathGate, Path, Path]) -> None:
    g, ws, _ = box
    (ws / "x.sh").write_text("#!/bin/sh\n")
    os.chmod(ws / "x.sh", 0o750)
    g.copy("x.sh", "y.sh")
    assert stat.S_IMODE(os.stat(ws / "y.sh").st_mode) == 0o750


@pytest.mark.parametrize("name", ["llmspell.toml", "./sub/../llmspell.toml", "alias.toml", "hard.toml"])
def test_protected_file_is_refused_for_writing_by_any_name(tmp_path: Path, mode: str, name: str) -> None:
    """The workspace configuration cannot be opened for writing by its name, a lexical detour, an
    inside symlink (which openat2 follows silently) or a hard link; reading it still works."""
    ws = tmp_path / "ws"
    (ws / "sub").mkdir(parents=True)
    cfg = ws / "llmspell.toml"
    cfg.write_text("[limits]\n")
    (ws / "alias.toml").symlink_to("llmspell.toml")
    os.link(cfg, ws / "hard.toml")
    g = PathGate([ws], ws, use_openat2=(mode == "openat2"), refuse_hardlinks=False, protected=[cfg])
    with pytest.raises(SecurityViolationError, match="cannot be changed by a spell"):
        g.open_fd(name, write=True)
    with pytest.raises(SecurityViolationError, match="cannot be changed by a spell"):
        g.write_text(name, "[security]\nenv_allow = ['*']\n")
    assert cfg.read_text() == "[limits]\n"
    assert g.read_text(name) == "[limits]\n"
