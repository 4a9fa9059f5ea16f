"""Interrupting QuickJS from any thread, while JS can still call Python synchronously.

Why this exists: the ``quickjs`` binding (1.19.4, pinned) offers exactly one way to stop running JS,
``Context.set_time_limit``, and while a time limit is set it refuses *every* JS -> Python call
(``InternalError: Can not call into Python with a time limit set.``, a hard check in the C source).
That forces a design where nothing the script calls can be synchronous, so builders
(``Agent.builder().model("x").build()``), ``Tool.list()`` or ``JSON.parse`` would all have to become
Promises, unlike the declared API, the Lua engine and the ``.d.ts`` stubs.

QuickJS itself has a per-runtime interrupt handler (``JS_SetInterruptHandler``), polled about every
10,000 back-edges/calls; the binding installs its own only while a time limit is set, and never touches
it otherwise. So we install the binding's *own* C handler (``js_interrupt_handler``: returns 1 when
``clock() - start >= limit``) permanently, pointing at an ``InterruptData`` struct we own. It is plain C:
polling costs nothing and takes no GIL. Another thread interrupts the spell by writing two integers
(``limit = 0``); the interrupt is uncatchable in JS (``while(true){try{while(true){}}catch(e){}}`` stops
too), takes effect within microseconds, and the context stays usable. Because no time limit is ever
set, synchronous JS -> Python calls keep working.

How we find things, all verified before use:

* the ``JSRuntime*`` is the first field after ``PyObject_HEAD`` in the binding's context object; it is
  checked with ``JS_GetRuntimeOpaque(rt) == id(ctx)`` (the binding stores its context object there);
* ``js_interrupt_handler`` is a static function, so its address is read from the ELF symbol table of
  ``_quickjs.so`` (the wheel is not stripped) relative to the exported ``JS_SetInterruptHandler``.

If the static handler cannot be found (another build), a ctypes callback that checks the same struct is
used instead: identical behaviour, but it takes the GIL at each poll. If the runtime pointer cannot be
verified, :class:`InterruptUnavailable` is raised and the engine refuses to run rather than run spells
it could not stop.
"""

from __future__ import annotations

import ctypes
import struct
import threading
from typing import Any

_LONG_MAX = (1 << 63) - 1


class InterruptUnavailable(RuntimeError):
    """This quickjs build does not allow installing an interrupt handler safely."""


class _InterruptData(ctypes.Structure):
    # Layout of the binding's ``InterruptData`` {clock_t start; clock_t limit;} (clock_t = long).
    _fields_ = [("start", ctypes.c_long), ("limit", ctypes.c_long)]


_HandlerType = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)

_lock = threading.Lock()
_lib: Any = None
_static_handler: int | None = None
_resolved = False


def _elf_symbols(path: str, names: set[str]) -> dict[str, int]:
    """``st_value`` of the named symbols from an ELF64 little-endian file's ``.symtab``."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return {}
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    wanted = {n.encode() for n in names}
    out: dict[str, int] = {}
    for sec in sections:
        if sec[1] != 2:  # SHT_SYMTAB
            continue
        off, size, link, entsize = sec[4], sec[5], sec[6], sec[9]
        stroff = sections[link][4]
        for i in range(size // entsize):
            st_name, _info, _other, _shndx, st_value, _size = struct.unpack_from("<IBBHQQ", data, off + i * entsize)
            start = stroff + st_name
            end = data.index(b"\0", start)
            name = data[start:end]
            if name in wanted:
                out[name.decode()] = st_value
    return out


def _resolve() -> None:
    global _lib, _static_handler, _resolved
    with _lock:
        if _resolved:
            return
        import _quickjs  # type: ignore[import-not-found]

        lib = ctypes.CDLL(_quickjs.__file__)
        lib.JS_GetRuntimeOpaque.restype = ctypes.c_void_p
        lib.JS_GetRuntimeOpaque.argtypes = [ctypes.c_void_p]
        lib.JS_SetInterruptHandler.restype = None
        lib.JS_SetInterruptHandler.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        try:
            syms = _elf_symbols(_quickjs.__file__, {"js_interrupt_handler", "JS_SetInterruptHandler"})
        except (OSError, ValueError, struct.error):
            syms = {}
        if len(syms) == 2:
            base = ctypes.cast(lib.JS_SetInterruptHandler, ctypes.c_void_p).value
            assert base is not None
            _static_handler = base - syms["JS_SetInterruptHandler"] + syms["js_interrupt_handler"]
        _lib = lib
        _resolved = True


class Interrupter:
    """The interrupt switch of one QuickJS context. ``trip()`` is safe from any thread."""

    def __init__(self, ctx: Any):
        _resolve()
        rt = ctypes.c_void_p.from_address(id(ctx) + ctypes.sizeof(ctypes.c_ssize_t) * 2).value
        if not rt or _lib.JS_GetRuntimeOpaque(rt) != id(ctx):
            raise InterruptUnavailable(
                "this quickjs build does not expose its JSRuntime as expected (quickjs==1.19.4 is required)"
            )
        self._data = _InterruptData(0, _LONG_MAX)
        self._callback: Any = None
        if _static_handler is not None:
            handler: int = _static_handler
        else:  # only on builds without a symbol table (tested by forcing it)
            data = self._data

            def poll(_rt: int, _opaque: int) -> int:
                return 1 if data.limit == 0 else 0

            self._callback = _HandlerType(poll)
            handler = ctypes.cast(self._callback, ctypes.c_void_p).value or 0
        self.uses_static_handler = _static_handler is not None
        self._ctx = ctx  # keep the context (and so the runtime) alive as long as the handler is installed
        _lib.JS_SetInterruptHandler(rt, handler, ctypes.addressof(self._data))

    @property
    def tripped(self) -> bool:
        return self._data.limit == 0

    def trip(self) -> None:
        """Make the next poll (within microseconds of running JS) raise an uncatchable interrupt."""
        self._data.start = 0
        self._data.limit = 0

    def reset(self) -> None:
        self._data.start = 0
        self._data.limit = _LONG_MAX
