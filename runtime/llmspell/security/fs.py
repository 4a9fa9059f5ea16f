"""The one path gate: every file a spell touches is opened through here, beneath an allowed root.

A path is never checked and then re-opened by name (that is a race: a symlink swapped in between
the check and the open wins). Instead the check IS the open: the path is resolved one component at a
time from an open file descriptor of the allowed root, and what the caller gets back is a file
descriptor (or a file object, or an operation done on ``(parent directory fd, name)``), so nothing
re-resolves the path string afterwards.

Resolution
    * A relative path is taken from the base directory (the workspace); the result is normalised
      lexically (``a/../b`` is ``b``) and must lie inside one of the roots (the outermost root that
      contains it is used). ``..`` that climbs out of every root, absolute paths elsewhere, empty
      paths and NUL bytes are refused.
    * Fast path: ``openat2(root_fd, rest, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`` (Linux >= 5.6,
      syscall 437 through ctypes). The kernel refuses any step that would leave the root, including
      ``..`` through a symlink and magic links such as ``/proc/self/fd/N``.
    * Fallback (openat2 missing or refused, or the kernel reported an escape so we can say exactly
      why): the walk. Every directory component is opened with ``O_NOFOLLOW | O_DIRECTORY`` relative
      to the previous directory fd; the last one with ``O_NOFOLLOW``.
    * Symlinks (decision): a symlink is followed only when its target, taken from the physical
      directory that holds it, lies inside an allowed root; resolution then starts again from that
      root with the target spliced in (at most 40 links per path). A link that leaves the roots -
      absolute, or by ``..`` - is refused. Links are never followed by the kernel outside this walk.
    * Content: only regular files are opened for reading or writing. The final open uses
      ``O_NONBLOCK | O_NOCTTY`` and the result is checked with ``fstat`` (``S_ISREG``), so a FIFO,
      socket or device in the workspace can neither block the run nor be read. Regular files with
      more than one hard link are refused for reading and writing (a hard link may be the very same
      file as one outside the roots and nothing can tell where its other names live); unlinking or
      renaming such a name is allowed (that changes nothing outside).
    * Writes open with ``O_CREAT | O_NOFOLLOW`` (and ``O_EXCL`` when asked); truncation happens by
      ``ftruncate`` after the checks, so a refused file is never truncated.

Directory helpers work the same way: ``scandir``/``walk`` read a directory through its fd and never
descend into symlinks, ``mkdir``/``remove``/``rename``/``copy`` act on ``(parent fd, name)``.

Temporary files (``security.temp_dir``, default ``private``): rs-llmspell's spells write and read
``/tmp/...``. The real temp directory holds other programs' files, so it is not opened to spells;
instead a path a spell names under the system temp dir (``/tmp``, ``$TMPDIR``) that is not inside an
allowed root is mapped, lexically and before anything else, to the same relative path below the
workspace's private ``.llmspell/tmp/`` (created 0700). Every route through the gate (Lua io/os,
file tools, workflow steps...) sees the mapping, since it happens in :meth:`PathGate.absolute`;
symlink targets are never mapped (a link to ``/tmp/x`` leads to the real one, so it is refused), and
the folder that holds the workspace itself when the workspace lives in the temp dir is not mapped
either (naming it is refused as outside, as before). Messages keep the spell's name; results that
show a path use :meth:`PathGate.display`. Programs started by process-executor do not see the mapping.

What is not covered: another process (not the spell) moving a directory that is being walked out of
the root between two steps, and filesystems that ignore ``O_NOFOLLOW``. Spells cannot create symlinks
that leave the roots (archive links and copied links are checked), so only pre-planted links matter.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from llmspell.core.errors import SecurityViolationError

MAX_LINK_HOPS = 40

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_NOCTTY = getattr(os, "O_NOCTTY", 0)
_O_PATH = getattr(os, "O_PATH", 0)
# a directory handle used only as the base of further *at() calls
_DIR_FLAGS = (_O_PATH or os.O_RDONLY) | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC
_LINK_ERRNOS = (errno.ELOOP, errno.ENOTDIR, getattr(errno, "EMLINK", errno.ELOOP), getattr(errno, "EFTYPE", -1))

RefuseFn = Callable[..., Exception]


def _default_refuse(operation: str, reason: str, **details: Any) -> Exception:
    return SecurityViolationError(reason, details={"operation": operation, **details})


# ----------------------------------------------------------------------------------- openat2


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_BENEATH = 0x08
_SYS_OPENAT2 = 437  # the same number on every Linux architecture (unified syscall table)
_openat2_fn: Any = None
_openat2_ok: bool | None = None


def _openat2_available() -> bool:
    global _openat2_fn, _openat2_ok
    if _openat2_ok is None:
        _openat2_ok = False
        if os.name == "posix" and os.uname().sysname == "Linux" and os.environ.get("LLMSPELL_NO_OPENAT2") is None:
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                fn = libc.syscall
                fn.restype = ctypes.c_long
                how = _OpenHow(os.O_RDONLY | _O_CLOEXEC | _O_DIRECTORY, 0, _RESOLVE_BENEATH)
                fd = fn(_SYS_OPENAT2, ctypes.c_int(-100), b".", ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
                if fd >= 0:
                    os.close(fd)
                    _openat2_fn = fn
                    _openat2_ok = True
            except (OSError, AttributeError):
                pass
    return _openat2_ok


def _openat2(dirfd: int, rel: str, flags: int, mode: int) -> int:
    how = _OpenHow(flags, mode if flags & os.O_CREAT else 0, _RESOLVE_BENEATH | _RESOLVE_NO_MAGICLINKS)
    fd = int(_openat2_fn(_SYS_OPENAT2, ctypes.c_int(dirfd), os.fsencode(rel), ctypes.byref(how),
                         ctypes.c_size_t(ctypes.sizeof(how))))
    if fd < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), rel)
    return fd


# ----------------------------------------------------------------------------------- data types


@dataclass
class Loc:
    """A located path: an open fd of the physical parent directory and the final name.

    ``name`` is None when the path is a root itself (then ``dirfd`` is the root). ``dirfd`` is -1
    when a parent directory does not exist (only from :meth:`PathGate.resolve`).
    """

    root: str
    dirfd: int
    name: str | None
    parent: str  # physical absolute path of the parent directory (the root when name is None)

    @property
    def path(self) -> str:
        return self.parent if self.name is None else os.path.join(self.parent, self.name)

    def close(self) -> None:
        if self.dirfd >= 0:
            os.close(self.dirfd)
            self.dirfd = -1


class _Follow(Exception):
    """Raised by a final operation that met a symlink: follow it (when it stays inside) and retry."""


@dataclass
class Entry:
    """One directory entry as read through a directory fd (symlinks are reported, never followed)."""

    name: str
    rel: str  # path relative to the directory listed
    kind: str  # "file", "directory", "symlink" or "other"
    size: int
    mtime: float


# ----------------------------------------------------------------------------------- the gate


class PathGate:
    """Opens and changes files only beneath ``roots``; see the module docstring for the rules."""

    def __init__(self, roots: Sequence[str | Path], base: str | Path, *, refuse: RefuseFn | None = None,
                 refuse_hardlinks: bool = True, use_openat2: bool = True, protected: Sequence[str | Path] = (),
                 temp_dirs: Sequence[str | Path] = (), temp_private: str | Path | None = None,
                 cwd_fallback: bool = False):
        rs: list[str] = []
        for r in roots:
            s = os.path.realpath(os.fspath(r))
            if s not in rs:
                rs.append(s)
        # outermost first, so a path inside nested roots is walked from the widest one
        self.roots: tuple[str, ...] = tuple(sorted(rs, key=lambda s: (s.count(os.sep), s)))
        self.base = os.path.realpath(os.fspath(base))
        self._refuse = refuse or _default_refuse
        self.refuse_hardlinks = refuse_hardlinks
        self.use_openat2 = use_openat2
        self.protected: frozenset[str] = frozenset(os.path.realpath(os.fspath(p)) for p in protected)
        """Files no write, removal or rename (either side) may touch, through links too: the
        workspace's llmspell.toml holds the policy the next run starts with, so a spell that could
        rewrite it would widen its own policy."""
        self.temp_private: str | None = (os.path.normpath(os.path.abspath(os.fspath(temp_private)))
                                         if temp_private is not None else None)
        """The private folder spell paths under the system temp dir map to (None: no mapping)."""
        tds: list[str] = []
        for t in temp_dirs if self.temp_private is not None else ():
            for cand in (os.path.normpath(os.path.abspath(os.fspath(t))), os.path.realpath(os.fspath(t))):
                if cand != os.sep and cand not in tds:
                    tds.append(cand)
        self.temp_dirs: tuple[str, ...] = tuple(tds)
        self._temp_ready = False
        self.cwd_fallback = cwd_fallback
        """Relative names to read that are missing beneath the base are also tried from the process's
        current directory (inside the roots only): see :meth:`_from_cwd`."""

    def derive(self, **changes: Any) -> PathGate:
        """A gate with the same roots, base and settings except ``changes`` (e.g. ``refuse=None``)."""
        kw: dict[str, Any] = {"refuse": self._refuse, "refuse_hardlinks": self.refuse_hardlinks,
                              "use_openat2": self.use_openat2, "protected": sorted(self.protected),
                              "temp_dirs": self.temp_dirs, "temp_private": self.temp_private,
                              "cwd_fallback": self.cwd_fallback}
        roots = changes.pop("roots", self.roots)
        kw.update(changes)
        if kw["refuse"] is None:
            kw["refuse"] = _default_refuse
        return PathGate(roots, self.base, **kw)

    # ------------------------------------------------------------------------- the private temp dir

    def _map_temp(self, s: str, *, create: bool = True) -> str:
        """``s`` (absolute, normalised) mapped into the private temp folder when it names the system
        temp dir and no root holds it; otherwise ``s`` itself."""
        priv = self.temp_private
        if priv is None or not self.temp_dirs or self.root_of(s) is not None:
            return s
        for t in self.temp_dirs:
            if s == t:
                rest = ""
            elif s.startswith(t + os.sep):
                rest = s[len(t) + 1:]
            else:
                continue
            # the workspace lives in the temp dir: its own surroundings are not shadowed
            b = self.base
            if b.startswith(t + os.sep):
                home = b[len(t) + 1:].split(os.sep, 1)[0]
                if rest.split(os.sep, 1)[0] == home:
                    return s
            if create:
                self._ensure_temp()
            return os.path.join(priv, rest) if rest else priv
        return s

    def _ensure_temp(self) -> None:
        """Create the private temp folder (0700) through the gate itself, once."""
        if self._temp_ready or self.temp_private is None:
            return
        priv = self.temp_private
        if self.root_of(priv) is None:  # not beneath a root: the mapped paths are refused as outside
            self._temp_ready = True
            return
        self.mkdir(priv, parents=True, exist_ok=True)
        fd = self.open_dir(priv)
        try:
            os.fchmod(fd, 0o700)
        finally:
            os.close(fd)
        self._temp_ready = True

    def display(self, path: str | os.PathLike[str]) -> str:
        """How to show a physical path to the spell: one in the private temp folder under the name the
        spell uses (``/tmp/a.txt``), any other unchanged."""
        p = os.fspath(path)
        priv = self.temp_private
        if priv is None or not self.temp_dirs:
            return p
        shown = "/tmp" if "/tmp" in self.temp_dirs else self.temp_dirs[0]
        if p == priv:
            return shown
        if p.startswith(priv + os.sep):
            return os.path.join(shown, p[len(priv) + 1:])
        return p

    # ------------------------------------------------------------------------- path arithmetic

    def absolute(self, path: str | os.PathLike[str], *, write: bool = False, create_temp: bool = True) -> str:
        """The lexically normalised absolute form of ``path`` (relative ones from the base), a name under
        the system temp dir mapped into the private temp folder (created unless ``create_temp=False``)."""
        op = "file.write" if write else "file.read"
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if not isinstance(path, str) or path == "" or "\x00" in path:
            raise self._refuse(op, f"invalid file path {path!r}", path=str(path))
        s = os.path.expanduser(path)
        relative = not os.path.isabs(s)
        if relative:
            s = os.path.join(self.base, s)
        s = os.path.normpath(s)
        if s.startswith("//"):
            s = "/" + s.lstrip("/")
        if relative and not write and self.cwd_fallback:
            s = self._from_cwd(path, s)
        return self._map_temp(s, create=create_temp)

    def _from_cwd(self, path: str, primary: str) -> str:
        """A relative name to *read* that does not exist beneath the base but does from the process's
        current directory, inside the allowed roots: that file (rs-llmspell resolves relative names
        from the directory the run started in; a spell run from its project's root names files that
        way). The probe goes through the gate, so a link leaving the roots is never followed."""
        try:
            cwd = os.getcwd()
        except OSError:
            return primary
        if cwd == self.base:
            return primary
        alt = os.path.normpath(os.path.join(cwd, path))
        if alt == primary or self.root_of(alt) is None:
            return primary
        quiet = self.derive(refuse=None, cwd_fallback=False)
        try:
            if quiet.kind(primary) is not None or quiet.kind(alt) is None:
                return primary
        except (OSError, SecurityViolationError):
            return primary
        return alt

    def root_of(self, abspath: str) -> tuple[str, list[str]] | None:
        """(root, components below it) for the outermost root lexically containing ``abspath``."""
        for r in self.roots:
            if abspath == r:
                return r, []
            prefix = r if r.endswith(os.sep) else r + os.sep
            if abspath.startswith(prefix):
                return r, [c for c in abspath[len(prefix):].split(os.sep) if c]
        return None

    def inside(self, path: str | os.PathLike[str]) -> bool:
        """Whether ``path`` is lexically inside a root (no file system access)."""
        try:
            return self.root_of(self.absolute(path, create_temp=False)) is not None
        except SecurityViolationError:
            return False

    def _outside(self, op: str, path: Any, resolved: str, *, via_link: str | None = None) -> Exception:
        roots = ", ".join(self.roots)
        if via_link is not None:
            why = (f"access to '{path}' is outside the allowed paths ({roots}): the symbolic link {via_link} "
                   f"points to {resolved}")
        else:
            why = f"access to '{path}' (resolves to {resolved}) is outside the allowed paths ({roots})"
        return self._refuse(
            op, why + "; add a directory to security.allowed_paths in llmspell.toml to allow it",
            path=str(path), resolved=resolved, allowed=list(self.roots),
        )

    # ------------------------------------------------------------------------- the walk

    def _locate(self, path: Any, abspath: str, op: str, *, create_parents: bool = False,
                missing_ok: bool = False, hops: list[int]) -> Loc:
        """Open the physical parent directory of ``abspath`` beneath a root, following inside links;
        a write whose physical target is a protected file is refused here, for every caller."""
        loc = self._locate_raw(path, abspath, op, create_parents=create_parents, missing_ok=missing_ok, hops=hops)
        if op != "file.read" and self.protected and loc.name is not None \
                and os.path.join(loc.parent, loc.name) in self.protected:
            loc.close()
            raise self._protected(op, path)
        return loc

    def _is_protected(self, st: os.stat_result) -> bool:
        for p in self.protected:
            try:
                pst = os.stat(p)
            except OSError:
                continue
            if (pst.st_dev, pst.st_ino) == (st.st_dev, st.st_ino):
                return True
        return False

    def _protected(self, op: str, path: Any) -> Exception:
        return self._refuse(op, f"'{path}': the workspace's llmspell.toml (its configuration: limits, "
                                "environment and process allow-lists) cannot be changed by a spell",
                            path=str(path), check="protected")

    def _locate_raw(self, path: Any, abspath: str, op: str, *, create_parents: bool = False,
                    missing_ok: bool = False, hops: list[int]) -> Loc:
        link: str | None = None
        while True:
            found = self.root_of(abspath)
            if found is None:
                raise self._outside(op, path, abspath, via_link=link)
            root, parts = found
            fd = os.open(root, _DIR_FLAGS & ~_O_NOFOLLOW)
            if not parts:
                return Loc(root, fd, None, root)
            restart: str | None = None
            try:
                i = 0
                while i < len(parts) - 1:
                    comp = parts[i]
                    try:
                        nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
                    except FileNotFoundError:
                        if create_parents:
                            with contextlib.suppress(FileExistsError):
                                os.mkdir(comp, 0o777, dir_fd=fd)
                            nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
                        elif missing_ok:
                            os.close(fd)
                            fd = -1
                            return Loc(root, -1, parts[-1], os.path.join(root, *parts[:-1]))
                        else:
                            raise
                    except OSError as e:
                        if e.errno not in _LINK_ERRNOS:
                            raise
                        target = _readlink(comp, fd)
                        if target is None:
                            if missing_ok:
                                os.close(fd)
                                fd = -1
                                return Loc(root, -1, parts[-1], os.path.join(root, *parts[:-1]))
                            raise
                        link = os.path.join(root, *parts[: i + 1])
                        restart = _join_target(os.path.join(root, *parts[:i]), target, parts[i + 1:])
                        break
                    os.close(fd)
                    fd = nfd
                    i += 1
            except BaseException:
                if fd >= 0:
                    os.close(fd)
                raise
            if restart is None:
                return Loc(root, fd, parts[-1], os.path.join(root, *parts[:-1]))
            os.close(fd)
            hops[0] += 1
            if hops[0] > MAX_LINK_HOPS:
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path))
            abspath = restart

    def _final(self, path: Any, op: str, fn: Callable[[Loc], Any], *, create_parents: bool = False,
               follow: bool = True) -> Any:
        """Locate ``path`` and run ``fn(loc)``; when ``fn`` meets a symlink (raises _Follow), follow it."""
        abspath = self.absolute(path, write=op != "file.read")
        hops = [0]
        while True:
            loc = self._locate(path, abspath, op, create_parents=create_parents, hops=hops)
            try:
                if loc.name is None or not follow:
                    return fn(loc)
                try:
                    return fn(loc)
                except _Follow:
                    target = _readlink(loc.name, loc.dirfd)
                    if target is None:  # it stopped being a link: try again
                        continue
                    link = loc.path
                    abspath = _join_target(loc.parent, target, [])
                    if self.root_of(abspath) is None:
                        raise self._outside(op, path, abspath, via_link=link) from None
                    hops[0] += 1
                    if hops[0] > MAX_LINK_HOPS:
                        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path)) from None
            finally:
                loc.close()

    # ------------------------------------------------------------------------- checking

    def resolve(self, path: str | os.PathLike[str], *, write: bool = False, follow: bool = True) -> Path:
        """The physical absolute path of ``path`` if it lies beneath a root (it need not exist).

        ``follow=False``: the name itself (a final symlink is not followed, as for remove/rename).

        Only for messages and for handing a directory to a library that takes names (a process's
        working directory, a watcher): to touch content use the opening methods.
        """
        op = "file.write" if write else "file.read"
        abspath = self.absolute(path, write=write)
        hops = [0]
        while True:
            loc = self._locate(path, abspath, op, missing_ok=True, hops=hops)
            try:
                if loc.name is None or loc.dirfd < 0 or not follow:
                    return Path(loc.path)
                target = _readlink(loc.name, loc.dirfd)
                if target is None:
                    return Path(loc.path)
                link = loc.path
                abspath = _join_target(loc.parent, target, [])
                if self.root_of(abspath) is None:
                    raise self._outside(op, path, abspath, via_link=link)
                hops[0] += 1
                if hops[0] > MAX_LINK_HOPS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path))
            finally:
                loc.close()

    # ------------------------------------------------------------------------- files

    def _check_regular(self, fd: int, path: Any, op: str) -> os.stat_result:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
            raise self._not_regular(op, path, st.st_mode)
        if self.refuse_hardlinks and st.st_nlink > 1:
            os.close(fd)
            raise self._refuse(
                op, f"'{path}' has {st.st_nlink} hard links; a file with several names may be the same file as one "
                "outside the allowed paths, so it is not opened (copy it to a new file to use it)",
                path=str(path), nlink=st.st_nlink,
            )
        return st

    def _not_regular(self, op: str, path: Any, mode: int) -> Exception:
        kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")
        return self._refuse(op, f"'{path}' is {kind}; only regular files can be read or written",
                            path=str(path), file_type=kind)

    def open_fd(self, path: str | os.PathLike[str], *, write: bool = False, append: bool = False,
                truncate: bool = False, create: bool | None = None, exclusive: bool = False,
                read: bool | None = None, parents: bool = False) -> int:
        """An fd of the regular file ``path`` beneath a root (O_CLOEXEC, blocking mode restored).

        ``write`` opens for writing (``read`` too unless ``read=False``... default: write-only);
        ``create`` (default: same as ``write``) creates it; ``exclusive`` refuses an existing name;
        ``truncate`` empties it after the checks; ``parents`` creates missing directories.
        """
        op = "file.write" if write else "file.read"
        if create is None:
            create = write
        if write:
            acc = os.O_RDWR if read else os.O_WRONLY
        else:
            acc = os.O_RDONLY
        flags = acc | _O_CLOEXEC | _O_NONBLOCK | _O_NOCTTY
        if append:
            flags |= os.O_APPEND
        if create:
            flags |= os.O_CREAT
            if exclusive:
                flags |= os.O_EXCL

        fd = -1
        if self.use_openat2 and _openat2_available():
            abspath = self.absolute(path, write=write)
            found = self.root_of(abspath)
            if found is None:
                raise self._outside(op, path, abspath)
            root, parts = found
            if parts:
                rfd = os.open(root, _DIR_FLAGS & ~_O_NOFOLLOW)
                try:
                    fd = _openat2(rfd, "/".join(parts), flags | (_O_NOFOLLOW if exclusive else 0), 0o666)
                except OSError as e:
                    # EXDEV/ELOOP: an escape or an absolute link (the walk decides and explains);
                    # ENOENT with parents: the walk creates them; ENXIO: a FIFO without reader
                    if e.errno not in (errno.EXDEV, errno.ELOOP, errno.ENXIO, errno.ENOENT) or (
                            e.errno == errno.ENOENT and not parents):
                        raise OSError(e.errno, e.strerror, str(path)) from None
                    fd = -1
                finally:
                    os.close(rfd)
        if fd < 0:
            def _open(loc: Loc) -> int:
                if loc.name is None:
                    raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
                try:
                    return os.open(loc.name, flags | _O_NOFOLLOW, 0o666, dir_fd=loc.dirfd)
                except OSError as e:
                    if e.errno in (errno.ELOOP, getattr(errno, "EMLINK", errno.ELOOP)):
                        raise _Follow() from None
                    if e.errno == errno.ENXIO:  # a FIFO or socket without a peer (O_NONBLOCK)
                        st = os.stat(loc.name, dir_fd=loc.dirfd, follow_symlinks=False)
                        raise self._not_regular(op, path, st.st_mode) from None
                    if e.errno == errno.EEXIST and exclusive:
                        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path)) from None
                    raise OSError(e.errno, e.strerror, str(path)) from None

            fd = self._final(path, op, _open, create_parents=parents)
        st = self._check_regular(fd, path, op)  # closes fd when it refuses
        if write and self.protected and self._is_protected(st):
            # by identity, after the open: the fast path follows inside links without saying where it
            # ended, and a hard link would carry another name
            os.close(fd)
            raise self._protected(op, path)
        try:
            os.set_blocking(fd, True)
            if truncate:
                os.ftruncate(fd, 0)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def open(self, path: str | os.PathLike[str], mode: str = "r", *, encoding: str | None = None,
             errors: str | None = None, newline: str | None = None, parents: bool = False) -> IO[Any]:
        """Like the builtin ``open`` for modes r/w/a/x (+, b), beneath a root."""
        m = set(mode)
        write = bool(m & set("wax+"))
        fd = self.open_fd(
            path, write=write, read=("r" in m or "+" in m) if write else None,
            append="a" in m, truncate="w" in m, create=bool(m & set("wax")), exclusive="x" in m,
            parents=parents,
        )
        try:
            pymode = mode.replace("x", "w")
            return open(fd, pymode, encoding=encoding, errors=errors, newline=newline)
        except BaseException:
            os.close(fd)
            raise

    def read_bytes(self, path: str | os.PathLike[str], *, max_bytes: int | None = None) -> bytes:
        fd = self.open_fd(path)
        with os.fdopen(fd, "rb") as f:
            if max_bytes is None:
                return f.read()
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise OSError(errno.EFBIG, f"'{path}' is larger than the limit of {max_bytes} bytes", str(path))
        return data

    def read_text(self, path: str | os.PathLike[str], encoding: str = "utf-8", errors: str = "strict",
                  *, max_bytes: int | None = None) -> str:
        return self.read_bytes(path, max_bytes=max_bytes).decode(encoding, errors)

    def write_bytes(self, path: str | os.PathLike[str], data: bytes, *, append: bool = False,
                    exclusive: bool = False, parents: bool = True) -> int:
        fd = self.open_fd(path, write=True, append=append, truncate=not append, exclusive=exclusive,
                          parents=parents)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return len(data)

    def write_text(self, path: str | os.PathLike[str], text: str, encoding: str = "utf-8", *,
                   append: bool = False, parents: bool = True) -> int:
        return self.write_bytes(path, text.encode(encoding), append=append, parents=parents)

    # ------------------------------------------------------------------------- metadata

    def stat(self, path: str | os.PathLike[str], *, follow: bool = True) -> os.stat_result:
        """``stat`` beneath a root (``follow=False``: the link itself, like lstat)."""

        def _st(loc: Loc) -> os.stat_result:
            if loc.name is None:
                return os.stat(loc.dirfd)
            st = os.stat(loc.name, dir_fd=loc.dirfd, follow_symlinks=False)
            if follow and stat.S_ISLNK(st.st_mode):
                raise _Follow()
            return st

        return self._final(path, "file.read", _st, follow=follow)  # type: ignore[no-any-return]

    def exists(self, path: str | os.PathLike[str]) -> bool:
        """True when ``path`` exists beneath a root (a link leaving the roots is refused, not False)."""
        try:
            self.stat(path)
            return True
        except (FileNotFoundError, NotADirectoryError):
            return False

    def kind(self, path: str | os.PathLike[str]) -> str | None:
        """"file", "directory", "other" or None (missing), links inside followed."""
        try:
            st = self.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return _kind(st.st_mode)

    # ------------------------------------------------------------------------- directories

    def open_dir(self, path: str | os.PathLike[str], *, write: bool = False, create: bool = False) -> int:
        """A readable fd of the directory ``path`` (``create``: made with its parents when missing)."""
        op = "file.write" if write else "file.read"
        flags = os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC

        def _od(loc: Loc) -> int:
            if loc.name is None:
                return os.open(".", flags, dir_fd=loc.dirfd)
            try:
                return os.open(loc.name, flags, dir_fd=loc.dirfd)
            except FileNotFoundError:
                if not create:
                    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path)) from None
                with contextlib.suppress(FileExistsError):
                    os.mkdir(loc.name, 0o777, dir_fd=loc.dirfd)
                return _od(loc)
            except OSError as e:
                if e.errno in _LINK_ERRNOS and _readlink(loc.name, loc.dirfd) is not None:
                    raise _Follow() from None
                raise OSError(e.errno, e.strerror, str(path)) from None

        return self._final(path, op, _od, create_parents=create)  # type: ignore[no-any-return]

    def mkdir(self, path: str | os.PathLike[str], *, parents: bool = False, exist_ok: bool = False) -> None:
        def _mk(loc: Loc) -> None:
            if loc.name is None:
                if exist_ok:
                    return
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path))
            try:
                os.mkdir(loc.name, 0o777, dir_fd=loc.dirfd)
            except FileExistsError:
                st = os.stat(loc.name, dir_fd=loc.dirfd, follow_symlinks=False)
                if stat.S_ISLNK(st.st_mode):
                    raise _Follow() from None
                if not (exist_ok and stat.S_ISDIR(st.st_mode)):
                    raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path)) from None

        self._final(path, "file.write", _mk, create_parents=parents)

    def scandir(self, path: str | os.PathLike[str], *, recursive: bool = False,
                max_depth: int = 1 << 30) -> list[Entry]:
        """Entries of the directory ``path`` read through its fd; links reported as links, never entered."""
        dfd = self.open_dir(path)
        try:
            return list(_walk_fd(dfd, "", recursive, max_depth))
        finally:
            os.close(dfd)

    def remove(self, path: str | os.PathLike[str], *, recursive: bool = False, directory: bool | None = None) -> str:
        """Remove a file, a link (never its target) or a directory (``recursive``: with its content).

        Returns what was removed: "file", "directory" or "symlink". A root itself is never removed.
        """

        def _rm(loc: Loc) -> str:
            if loc.name is None:
                raise self._refuse("file.write", f"'{path}' is an allowed root; it cannot be removed",
                                   path=str(path))
            st = os.stat(loc.name, dir_fd=loc.dirfd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                if directory is False:
                    raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
                if recursive:
                    _rmtree_at(loc.dirfd, loc.name)
                else:
                    os.rmdir(loc.name, dir_fd=loc.dirfd)
                return "directory"
            if directory is True:
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
            os.unlink(loc.name, dir_fd=loc.dirfd)
            return "symlink" if stat.S_ISLNK(st.st_mode) else "file"

        return self._final(path, "file.write", _rm, follow=False)  # type: ignore[no-any-return]

    def rename(self, src: str | os.PathLike[str], dst: str | os.PathLike[str], *, into_dir: bool = True,
               parents: bool = True) -> str:
        """Move ``src`` (the name itself, a link is moved as a link) to ``dst``; both beneath roots.

        With ``into_dir`` an existing directory ``dst`` receives ``src`` under its own name (like
        ``mv``). Across file systems the content is copied through the gate, then ``src`` removed.
        Returns the physical destination path.
        """
        hops = [0]
        s_abs = self.absolute(src, write=True)
        d_abs = self.absolute(dst, write=True)
        if into_dir and self.kind(dst) == "directory":
            d_abs = os.path.join(self.resolve(dst, write=True), os.path.basename(s_abs))
        if d_abs == s_abs or d_abs.startswith(s_abs + os.sep):
            raise OSError(errno.EINVAL, "cannot move a directory into itself", str(dst))
        sl = self._locate(src, s_abs, "file.write", hops=hops)
        try:
            if sl.name is None:
                raise self._refuse("file.write", f"'{src}' is an allowed root; it cannot be moved", path=str(src))
            dl = self._locate(dst, d_abs, "file.write", create_parents=parents, hops=hops)
            try:
                if dl.name is None:
                    raise self._refuse("file.write", f"'{dst}' is an allowed root; it cannot be replaced",
                                       path=str(dst))
                try:
                    os.rename(sl.name, dl.name, src_dir_fd=sl.dirfd, dst_dir_fd=dl.dirfd)
                except OSError as e:
                    if e.errno != errno.EXDEV:
                        raise OSError(e.errno, e.strerror, str(src), None, str(dst)) from None
                    self._copy_at(sl, dl, src, dst, overwrite=True)
                    st = os.stat(sl.name, dir_fd=sl.dirfd, follow_symlinks=False)
                    if stat.S_ISDIR(st.st_mode):
                        _rmtree_at(sl.dirfd, sl.name)
                    else:
                        os.unlink(sl.name, dir_fd=sl.dirfd)
                return dl.path
            finally:
                dl.close()
        finally:
            sl.close()

    def copy(self, src: str | os.PathLike[str], dst: str | os.PathLike[str], *, overwrite: bool = True,
             parents: bool = True) -> str:
        """Copy a file or a directory tree; links inside the tree are recreated as links when their target
        (seen from the new place) stays inside the roots, otherwise the copy is refused. Links are never
        followed; FIFOs, sockets and devices are refused. Returns the physical destination path."""
        hops = [0]
        s_abs = self.absolute(src)
        d_abs = self.absolute(dst, write=True)
        if d_abs == s_abs or d_abs.startswith(s_abs + os.sep):
            raise OSError(errno.EINVAL, "cannot copy a directory into itself", str(dst))
        # the source itself: a link inside is followed (as the old copy2/copytree did for their argument)
        src_real = str(self.resolve(src))
        sl = self._locate(src, src_real, "file.read", hops=hops)
        try:
            dl = self._locate(dst, d_abs, "file.write", create_parents=parents, hops=hops)
            try:
                if sl.name is None or dl.name is None:
                    raise self._refuse("file.write", f"cannot copy '{src}' to '{dst}': an allowed root is "
                                       "neither copied nor replaced", path=str(src), target=str(dst))
                self._copy_at(sl, dl, src, dst, overwrite=overwrite)
                return dl.path
            finally:
                dl.close()
        finally:
            sl.close()

    def _copy_at(self, sl: Loc, dl: Loc, src: Any, dst: Any, *, overwrite: bool) -> None:
        assert sl.name is not None and dl.name is not None
        st = os.stat(sl.name, dir_fd=sl.dirfd, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            sfd = os.open(sl.name, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=sl.dirfd)
            try:
                entries = list(_walk_fd(sfd, "", True, 1 << 30))
                # check every entry before writing anything
                for e in entries:
                    if e.kind == "other":
                        raise self._not_regular("file.read", os.path.join(sl.path, e.rel),
                                                os.stat(e.rel, dir_fd=sfd, follow_symlinks=False).st_mode)
                    if e.kind == "symlink":
                        self._check_link_copy(os.readlink(e.rel, dir_fd=sfd), os.path.join(dl.path, e.rel),
                                              src, os.path.join(sl.path, e.rel))
                with contextlib.suppress(FileExistsError):
                    os.mkdir(dl.name, 0o777, dir_fd=dl.dirfd)
                dfd = os.open(dl.name, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=dl.dirfd)
                try:
                    for e in entries:
                        self._copy_entry(sfd, dfd, e, overwrite)
                finally:
                    os.close(dfd)
            finally:
                os.close(sfd)
            return
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(sl.name, dir_fd=sl.dirfd)
            self._check_link_copy(target, dl.path, src, sl.path)
            if overwrite:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(dl.name, dir_fd=dl.dirfd)
            os.symlink(target, dl.name, dir_fd=dl.dirfd)
            return
        if not stat.S_ISREG(st.st_mode):
            raise self._not_regular("file.read", src, st.st_mode)
        _copy_file_at(self, sl.dirfd, sl.name, dl.dirfd, dl.name, overwrite, src)

    def _check_link_copy(self, target: str, new_place: str, src: Any, link: str) -> None:
        where = _join_target(os.path.dirname(new_place), target, [])
        if self.root_of(where) is None:
            raise self._refuse(
                "file.write",
                f"copying '{src}' would create the symbolic link {new_place} pointing outside the allowed paths "
                f"(to {where}); links are copied only when they stay inside",
                path=str(src), link=link, target=target,
            )

    def _copy_entry(self, sfd: int, dfd: int, e: Entry, overwrite: bool) -> None:
        parent, name = os.path.split(e.rel)
        sp = _open_subdir(sfd, parent)
        dp = _open_subdir(dfd, parent)
        try:
            if e.kind == "directory":
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o777, dir_fd=dp)
                st = os.stat(name, dir_fd=dp, follow_symlinks=False)
                if not stat.S_ISDIR(st.st_mode):
                    raise FileExistsError(errno.EEXIST, "a non-directory is in the way", e.rel)
            elif e.kind == "symlink":
                target = os.readlink(name, dir_fd=sp)
                if overwrite:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(name, dir_fd=dp)
                os.symlink(target, name, dir_fd=dp)
            else:
                _copy_file_at(self, sp, name, dp, name, overwrite, e.rel)
        finally:
            if sp != sfd:
                os.close(sp)
            if dp != dfd:
                os.close(dp)


# ----------------------------------------------------------------------------------- helpers


def _readlink(name: str, dirfd: int) -> str | None:
    try:
        return os.readlink(name, dir_fd=dirfd)
    except OSError:
        return None


def _join_target(parent: str, target: str, rest: Sequence[str]) -> str:
    """Where a link found in ``parent`` leads (lexically), with the remaining components appended."""
    p = target if os.path.isabs(target) else os.path.join(parent, target)
    p = os.path.normpath(os.path.join(p, *rest)) if rest else os.path.normpath(p)
    if p.startswith("//"):
        p = "/" + p.lstrip("/")
    return p


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


def _walk_fd(dfd: int, rel: str, recursive: bool, max_depth: int, depth: int = 0) -> Iterator[Entry]:
    """Entries below the directory fd ``dfd`` (sorted by name); links are listed, never entered."""
    with os.scandir(dfd) as it:
        items = sorted(it, key=lambda e: e.name)
    for de in items:
        try:
            st = de.stat(follow_symlinks=False)
        except OSError:
            continue
        kind = _kind(st.st_mode)
        r = os.path.join(rel, de.name) if rel else de.name
        yield Entry(de.name, r, kind, 0 if kind == "directory" else st.st_size, st.st_mtime)
        if kind == "directory" and recursive and depth + 1 < max_depth:
            try:
                sub = os.open(de.name, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=dfd)
            except OSError:
                continue
            try:
                yield from _walk_fd(sub, r, recursive, max_depth, depth + 1)
            finally:
                os.close(sub)


def _open_subdir(dfd: int, rel: str) -> int:
    """Open ``rel`` below ``dfd`` one component at a time without following links (``""`` = dfd)."""
    if not rel:
        return dfd
    fd = dfd
    for comp in rel.split(os.sep):
        nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
        if fd != dfd:
            os.close(fd)
        fd = nfd
    return fd


def _copy_file_at(gate: PathGate, sdir: int, sname: str, ddir: int, dname: str, overwrite: bool, what: Any) -> None:
    sfd = os.open(sname, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_NOCTTY | _O_CLOEXEC, dir_fd=sdir)
    st = gate._check_regular(sfd, what, "file.read")
    try:
        flags = os.O_WRONLY | os.O_CREAT | _O_NOFOLLOW | _O_NONBLOCK | _O_NOCTTY | _O_CLOEXEC
        if not overwrite:
            flags |= os.O_EXCL
        try:
            dfd = os.open(dname, flags, 0o666, dir_fd=ddir)
        except OSError as e:
            if e.errno == errno.ENXIO:
                raise gate._not_regular("file.write", what, stat.S_IFIFO) from None
            if e.errno == errno.ELOOP:
                # a link at the destination is replaced, never written through
                os.unlink(dname, dir_fd=ddir)
                dfd = os.open(dname, flags | os.O_EXCL, 0o666, dir_fd=ddir)
            else:
                raise
        gate._check_regular(dfd, what, "file.write")
        try:
            os.set_blocking(dfd, True)
            os.set_blocking(sfd, True)
            os.ftruncate(dfd, 0)
            while True:
                chunk = os.read(sfd, 1 << 20)
                if not chunk:
                    break
                view = memoryview(chunk)
                while view:
                    n = os.write(dfd, view)
                    view = view[n:]
            with contextlib.suppress(OSError):
                os.fchmod(dfd, stat.S_IMODE(st.st_mode))
                os.utime(dfd, ns=(st.st_atime_ns, st.st_mtime_ns))
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)


def _rmtree_at(dirfd: int, name: str) -> None:
    """Remove the tree ``name`` in ``dirfd`` through fds (the standard library's symlink-safe rmtree)."""
    import shutil

    shutil.rmtree(name, dir_fd=dirfd)


__all__ = ["MAX_LINK_HOPS", "Entry", "Loc", "PathGate"]
