"""Where an API name is declared in the generated stubs (go-to-definition on ``Agent``, ``:model``, a tool).

The stubs are found like the model (see :mod:`llmspell_ls.apimodel`): the repository's ``stubs/`` in a
source checkout, else the package-data copies ``llmspell_ls/data/llmspell.lua`` and ``llmspell.d.ts``
(kept identical by ``python -m llmspell_ls.stubgen``; a test checks). Each file is scanned once per
modification time into ``key -> line``:

* ``("global", "Agent")``: ``Agent = {}`` / ``declare var Agent: AgentStatic;``
* ``("class", "AgentBuilder")``: ``---@class AgentBuilder`` / ``interface AgentBuilder {``
* ``("member", "AgentBuilder", "model")``: ``function AgentBuilder:model(...)`` / ``---@field model`` /
  the member line inside ``interface AgentBuilder {``
* ``("tool", "calculator")``: the tool's parameter class (Lua) / its entry in ``interface ToolParams`` (JS)
"""

from __future__ import annotations

import re
import threading
from importlib import resources
from pathlib import Path

REPO_STUBS = Path(__file__).resolve().parents[3] / "stubs"
REPO_FILES = {"lua": REPO_STUBS / "lua" / "library" / "llmspell.lua", "javascript": REPO_STUBS / "js" / "llmspell.d.ts"}
PACKAGE_FILES = {"lua": "data/llmspell.lua", "javascript": "data/llmspell.d.ts"}

Key = tuple[str, ...]

_LUA_CLASS = re.compile(r"^---@class\s+([\w.]+)")
_LUA_FIELD = re.compile(r"^---@field\s+(\w+)")
_LUA_FUNC = re.compile(r"^function\s+(\w+)[.:](\w+)\s*\(")
_LUA_GLOBAL = re.compile(r"^(\w+)\s*=")
_LUA_TOOL_DOC = re.compile(r"^---Parameters of the `([^`]+)` tool")
_LUA_TOOL_ALIAS = re.compile(r'^---\|\s*"([^"]+)"')
_JS_IFACE = re.compile(r"^(?:declare\s+)?(?:interface|type|class)\s+(\w+)")
_JS_MEMBER = re.compile(r"^  (?:readonly\s+)?(\w+|\"[^\"]+\")\??\s*[(:<]")
_JS_GLOBAL = re.compile(r"^declare\s+(?:var|let|const|function)\s+(\w+)")

_lock = threading.Lock()
_cache: dict[str, tuple[float, dict[Key, int], list[str]]] = {}


def stub_path(lang: str) -> Path | None:
    """The stub file for ``lang`` on disk (repository first, then the installed package)."""
    repo = REPO_FILES.get(lang)
    if repo is not None and repo.is_file():
        return repo
    rel = PACKAGE_FILES.get(lang)
    if rel is None:
        return None
    try:
        p = resources.files("llmspell_ls").joinpath(rel)
        path = Path(str(p))
    except (ModuleNotFoundError, OSError, TypeError):
        return None
    return path if path.is_file() else None


def stub_index(lang: str) -> tuple[Path, dict[Key, int]] | None:
    """(stub file, key -> 0-based line) for ``lang``; None when no stub file is available."""
    got = _load(lang)
    return (got[0], got[1]) if got is not None else None


def _load(lang: str) -> tuple[Path, dict[Key, int], list[str]] | None:
    path = stub_path(lang)
    if path is None:
        return None
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    key = str(path)
    with _lock:
        got = _cache.get(key)
        if got is not None and got[0] == mtime:
            return path, got[1], got[2]
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    table = scan_lua(text) if lang == "lua" else scan_dts(text)
    lines = text.split("\n")
    with _lock:
        _cache[key] = (mtime, table, lines)
    return path, table, lines


def scan_lua(text: str) -> dict[Key, int]:
    out: dict[Key, int] = {}
    cls: str | None = None
    tool_doc: str | None = None
    for i, line in enumerate(text.split("\n")):
        if m := _LUA_TOOL_DOC.match(line):
            tool_doc = m.group(1)
            continue
        if m := _LUA_CLASS.match(line):
            cls = m.group(1)
            out.setdefault(("class", cls), i)
            if tool_doc is not None:
                out.setdefault(("tool", tool_doc), i)
            tool_doc = None
            continue
        tool_doc = None
        if m := _LUA_FIELD.match(line):
            if cls is not None:
                out.setdefault(("member", cls, m.group(1)), i)
            continue
        if m := _LUA_TOOL_ALIAS.match(line):
            out.setdefault(("tool_alias", m.group(1)), i)
            continue
        if line.startswith("---"):
            continue
        if m := _LUA_FUNC.match(line):
            out.setdefault(("member", m.group(1), m.group(2)), i)
        elif m := _LUA_GLOBAL.match(line):
            out.setdefault(("global", m.group(1)), i)
        if line and not line.startswith(("---", "local ")):
            cls = None if not _LUA_GLOBAL.match(line) else cls
    for (kind, *rest), line_no in list(out.items()):
        if kind == "tool_alias":
            out.setdefault(("tool", rest[0]), line_no)
    return out


def scan_dts(text: str) -> dict[Key, int]:
    out: dict[Key, int] = {}
    iface: str | None = None
    for i, line in enumerate(text.split("\n")):
        if m := _JS_GLOBAL.match(line):
            out.setdefault(("global", m.group(1)), i)
            iface = None
            continue
        if m := _JS_IFACE.match(line):
            iface = m.group(1)
            out.setdefault(("class", iface), i)
            continue
        if line.startswith("}"):
            iface = None
            continue
        if iface is None:
            continue
        if m := _JS_MEMBER.match(line):
            name = m.group(1).strip('"')
            if iface == "ToolParams":
                out.setdefault(("tool", name), i)
            else:
                out.setdefault(("member", iface, name), i)
        elif iface == "ToolName" and (m := re.match(r'^\s*\|\s*"([^"]+)"', line)):
            out.setdefault(("tool_alias", name := m.group(1)), i)
    return out


def find_span(lang: str, name: str, *keys: Key) -> tuple[Path, int, int, int] | None:
    """Like :func:`find`, with the columns of ``name`` on that line: (file, line, start, end); the whole
    line when the name is not written there."""
    got = _load(lang)
    if got is None:
        return None
    path, table, lines = got
    for k in keys:
        line = table.get(k)
        if line is not None:
            text = lines[line] if line < len(lines) else ""
            col = re.search(r"(?<![\w$])" + re.escape(name) + r"(?![\w$])", text) if name else None
            if col is not None:
                return path, line, col.start(), col.end()
            return path, line, 0, len(text)
    return None


def find(lang: str, *keys: Key) -> tuple[Path, int] | None:
    """The first of ``keys`` declared in the stub for ``lang``: (file, 0-based line)."""
    got = stub_index(lang)
    if got is None:
        return None
    path, table = got
    for k in keys:
        line = table.get(k)
        if line is not None:
            return path, line
    return None


def global_keys(name: str) -> list[Key]:
    return [("global", name), ("class", name + "Static"), ("class", name)]


def member_keys(owner: str, member: str) -> list[Key]:
    return [("member", owner, member), ("member", owner + "Static", member)]


def tool_keys(name: str) -> list[Key]:
    return [("tool", name), ("tool_alias", name)]
