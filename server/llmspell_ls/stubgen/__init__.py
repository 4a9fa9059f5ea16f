"""API model -> stubs: ``llmspell-api.json`` (copied), LuaCATS addon and ambient ``.d.ts``.

``write_stubs(dir)`` renders the model that the server loads (the committed ``stubs/llmspell-api.json``
by default) into::

    DIR/llmspell-api.json
    DIR/lua/config.json              LuaLS / EmmyLua addon: globals list, Lua 5.4
    DIR/lua/library/llmspell.lua     LuaCATS definitions (---@meta _)
    DIR/lua/emmyrc.json              emmylua_ls: copy to the workspace as .emmyrc.json (library path inside)
    DIR/js/llmspell.d.ts             ambient TypeScript declarations (interface XStatic + declare var X)
    DIR/js/jsconfig.json             tsc / VS Code: spells as ES2022 modules (top-level await), no DOM

``python -m llmspell_ls.stubgen`` regenerates the committed stubs and the package-data copy of the model.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from llmspell_ls.stubgen.dts import render_dts, render_jsconfig
from llmspell_ls.stubgen.luacats import render_addon_config, render_emmyrc, render_lua

REPO_STUBS = Path(__file__).resolve().parents[3] / "stubs"
PACKAGE_DATA_JSON = Path(__file__).resolve().parents[1] / "data" / "llmspell-api.json"


def _model_json_text(model_path: Path | None) -> str:
    """The model: ``model_path``, else $LLMSPELL_API_MODEL / the repository's, else the packaged copy."""
    from llmspell_ls.apimodel import PACKAGE_JSON, find_model_path

    p = model_path or find_model_path()
    if p is None:  # a wheel install: the package-data copy ships with llmspell_ls
        try:
            return resources.files("llmspell_ls").joinpath(PACKAGE_JSON).read_text(encoding="utf-8")
        except (FileNotFoundError, OSError):
            pass
    if p is None or not p.is_file():
        raise FileNotFoundError(
            f"no API model found at {p}: expected stubs/llmspell-api.json (run `python -m llmspell_ls.stubgen`), "
            "$LLMSPELL_API_MODEL or the package's data/llmspell-api.json"
        )
    return p.read_text(encoding="utf-8")


def render_all(data: dict[str, Any]) -> dict[str, str]:
    """Relative path -> file text for every stub file."""
    return {
        "lua/library/llmspell.lua": render_lua(data),
        "lua/config.json": render_addon_config(data),
        "lua/emmyrc.json": render_emmyrc(),
        "js/llmspell.d.ts": render_dts(data),
        "js/jsconfig.json": render_jsconfig(),
    }


def write_stubs(directory: str | os.PathLike[str], model_path: Path | None = None) -> list[Path]:
    """Write the model JSON and the rendered stubs into ``directory``; returns the written paths."""
    out = Path(directory)
    text = _model_json_text(model_path)
    data = json.loads(text)
    written: list[Path] = []
    target = out / "llmspell-api.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not (target.exists() and target.read_text(encoding="utf-8") == text):
        target.write_text(text, encoding="utf-8")
    written.append(target)
    for rel, content in render_all(data).items():
        p = out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content, encoding="utf-8")
        written.append(p)
    return written
