"""Every ``python -m`` entry point parses its arguments with argparse (``--help`` prints help and writes
nothing), and ``llmspell-ls --stubs DIR`` works from a plain wheel install (the packaged model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lsp_helpers import REPO

ENTRY_POINTS = ["llmspell_ls", "llmspell_ls.stubgen", "llmspell.api", "llmspell.tools.catalog",
                "llmspell.isolation.zygote", "llmspell_ls.dap"]


def test_every_main_module_is_listed() -> None:
    mains = {".".join(p.relative_to(root).parent.parts)
             for root in (REPO / "runtime", REPO / "server") for p in root.rglob("__main__.py")}
    assert mains <= set(ENTRY_POINTS), mains - set(ENTRY_POINTS)


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_help_prints_usage_and_writes_nothing(module: str, tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-m", module, "--help"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage:"), res.stdout
    assert list(tmp_path.iterdir()) == []  # no file named --help (or anything else)


def test_llmspell_api_writes_to_the_given_path(tmp_path: Path) -> None:
    out = tmp_path / "model.json"
    res = subprocess.run([sys.executable, "-m", "llmspell.api", str(out)], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert "Agent" in {g["name"] for g in json.loads(out.read_text())["globals"]}
    bad = subprocess.run([sys.executable, "-m", "llmspell.api", "a", "b"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "unrecognized arguments" in bad.stderr


def test_no_stray_help_file_in_the_repository() -> None:
    assert not (REPO / "--help").exists()


def test_write_stubs_falls_back_to_the_packaged_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmspell_ls import apimodel
    from llmspell_ls.stubgen import write_stubs

    monkeypatch.delenv("LLMSPELL_API_MODEL", raising=False)
    monkeypatch.setattr(apimodel, "REPO_STUBS_JSON", tmp_path / "missing.json")  # as in a wheel install
    write_stubs(tmp_path / "out")
    assert (tmp_path / "out" / "llmspell-api.json").read_text() == (REPO / "stubs" / "llmspell-api.json").read_text()
    assert (tmp_path / "out" / "lua" / "library" / "llmspell.lua").is_file()


def _build_wheel(src: Path, dist: Path) -> Path | None:
    for extra in (["--no-build-isolation"], []):  # offline first; else pip fetches setuptools/wheel
        res = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *extra, str(src), "-w",
                              str(dist)], capture_output=True, text=True, timeout=180)
        wheels = sorted(dist.glob("llmspell_ls-*.whl"))
        if res.returncode == 0 and wheels:
            return wheels[0]
    return None


@pytest.mark.slow
def test_stubs_after_a_plain_wheel_install(tmp_path: Path) -> None:
    """Build the wheel from a copy of the sources, install it (no deps) into a fresh target directory,
    and run ``python -m llmspell_ls --stubs`` there: the model comes from the package data."""
    import shutil

    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(REPO / "runtime", src / "runtime", ignore=ignore)
    shutil.copytree(REPO / "server", src / "server", ignore=ignore)
    wheel = _build_wheel(src, tmp_path / "dist")
    if wheel is None:
        pytest.skip("could not build the wheel (no setuptools/wheel offline and no index reachable)")
    target = tmp_path / "site"
    res = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target",
                          str(target), str(wheel)], capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "LLMSPELL_API_MODEL"}
    env["PYTHONPATH"] = str(target)  # the installed copy comes first; dependencies from this venv
    where = subprocess.run([sys.executable, "-c", "import llmspell_ls; print(llmspell_ls.__file__)"],
                           cwd=run_dir, env=env, capture_output=True, text=True, timeout=60)
    assert where.stdout.strip().startswith(str(target)), where.stdout + where.stderr
    res = subprocess.run([sys.executable, "-m", "llmspell_ls", "--stubs", str(tmp_path / "out")],
                         cwd=run_dir, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    out = tmp_path / "out"
    assert (out / "llmspell-api.json").read_text() == (REPO / "stubs" / "llmspell-api.json").read_text()
    for rel in ("lua/library/llmspell.lua", "lua/config.json", "lua/emmyrc.json", "js/llmspell.d.ts",
                "js/jsconfig.json"):
        assert (out / rel).read_text() == (REPO / "stubs" / rel).read_text(), rel
