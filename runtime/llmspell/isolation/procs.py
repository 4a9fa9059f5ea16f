"""Process-level containment primitives: rlimits, parent-death signal, subreaper, and killing a whole
process tree whatever it is doing.

Why these and not a thread flag: a spell stuck in one long C call (a Lua pattern match, ``string.rep``
of 2^53 bytes, a regex, a jq range, a YAML alias bomb) never reaches a point where a flag is polled.
Only the kernel can stop it, so every run lives in its own process and the supervisor holds the kill.

Linux-only parts (``prctl``) degrade to no-ops elsewhere; :func:`kill_tree` works on any POSIX system
that has ``/proc`` and falls back to the process group otherwise.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import resource
import signal
import time
from dataclasses import dataclass

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_M_ARENA_MAX = -8

_libc: ctypes.CDLL | None = None


def _c() -> ctypes.CDLL | None:
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c") or "libc.so.6"
        try:
            _libc = ctypes.CDLL(name, use_errno=True)
        except OSError:
            return None
    return _libc


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Die with ``sig`` when the thread that forked us exits (so no run outlives its supervisor)."""
    libc = _c()
    if libc is None or not hasattr(libc, "prctl"):
        return False
    return bool(libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) == 0)


def become_subreaper() -> bool:
    """Orphaned descendants (double-forked daemons) re-parent to us instead of init, so a tree walk
    from the run's process still finds them when it is time to kill."""
    libc = _c()
    if libc is None or not hasattr(libc, "prctl"):
        return False
    return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)


def limit_malloc_arenas(n: int = 2) -> None:
    """glibc reserves 64 MB of address space per thread arena; under RLIMIT_AS that wastes the budget."""
    libc = _c()
    if libc is not None and hasattr(libc, "mallopt"):
        with contextlib.suppress(Exception):
            libc.mallopt(_M_ARENA_MAX, n)


def vm_size_bytes(pid: int | str = "self") -> int:
    """Current virtual size of a process (VmSize), 0 when unknown."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def rss_bytes(pid: int | str = "self", field: str = "VmRSS") -> int:
    """Resident set size (``VmRSS``) or its peak (``VmHWM``) of a live process, 0 when unknown."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


@dataclass(frozen=True)
class ProcessLimits:
    """Kernel-enforced ceilings for one run's process (0 = leave that limit as it is)."""

    address_space_bytes: int = 0
    cpu_seconds: int = 0
    file_size_bytes: int = 0
    open_files: int = 0

    def apply(self) -> list[str]:
        """Set the limits on the calling process; returns the names that could not be set."""
        failed: list[str] = []

        def setl(which: int, name: str, soft: int, hard: int | None = None) -> None:
            hard = soft if hard is None else hard
            try:
                _cur_soft, cur_hard = resource.getrlimit(which)
                if cur_hard != resource.RLIM_INFINITY:
                    hard = min(hard, cur_hard)
                    soft = min(soft, hard)
                resource.setrlimit(which, (soft, hard))
            except (OSError, ValueError):
                failed.append(name)

        setl(resource.RLIMIT_CORE, "core", 0)
        if self.open_files:
            setl(resource.RLIMIT_NOFILE, "open_files", self.open_files)
        if self.file_size_bytes:
            setl(resource.RLIMIT_FSIZE, "file_size", self.file_size_bytes)
        if self.cpu_seconds:
            # SIGXCPU at the soft limit, SIGKILL one second later at the hard one
            setl(resource.RLIMIT_CPU, "cpu", self.cpu_seconds, self.cpu_seconds + 1)
        if self.address_space_bytes:
            setl(resource.RLIMIT_AS, "address_space", self.address_space_bytes)
        return failed


def _proc_stat(pid: int) -> tuple[int, int] | None:
    """(ppid, session id) of a live process from /proc, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # the command name is parenthesised and may contain spaces or ')': split after the last ')'
    rest = data[data.rfind(b")") + 2:].split()
    try:
        return int(rest[1]), int(rest[3])
    except (IndexError, ValueError):
        return None


def descendants(root: int) -> set[int]:
    """Every live process below ``root`` (by parent links) or in ``root``'s session."""
    try:
        sid = os.getsid(root)
    except OSError:
        sid = -1
    table: dict[int, tuple[int, int]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return set()
    for name in names:
        if name.isdigit():
            st = _proc_stat(int(name))
            if st is not None:
                table[int(name)] = st
    out: set[int] = set()
    frontier = [root]
    while frontier:
        p = frontier.pop()
        for pid, (ppid, _sid) in table.items():
            if ppid == p and pid not in out:
                out.add(pid)
                frontier.append(pid)
    if sid > 1 and sid != os.getsid(0):
        out |= {pid for pid, (_pp, s) in table.items() if s == sid and pid != root}
    out.discard(root)
    out.discard(os.getpid())
    return out


def kill_tree(root: int, *, rounds: int = 20) -> None:
    """SIGKILL ``root`` and everything it started, even processes that left its process group.

    The root is stopped first so it cannot start more while its descendants are collected; each
    round kills what it finds until a walk finds nothing; the root goes last because, as subreaper,
    it is what keeps orphans findable.
    """
    with contextlib.suppress(OSError):
        os.kill(root, signal.SIGSTOP)
    for _ in range(rounds):
        found = descendants(root)
        if not found:
            break
        for pid in found:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.001)
    with contextlib.suppress(OSError):
        os.killpg(root, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.kill(root, signal.SIGKILL)


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        state = data[data.rfind(b")") + 2:data.rfind(b")") + 3]
        return state not in (b"Z", b"X")
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
