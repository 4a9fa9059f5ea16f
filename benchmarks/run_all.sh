#!/usr/bin/env bash
# Runs every benchmark in turn with the project's venv and prints their figures.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export LITELLM_LOCAL_MODEL_COST_MAP=True HF_HUB_OFFLINE=1
for b in bench_import bench_events bench_hooks bench_agents bench_tools bench_tool_catalogue bench_lua bench_js bench_lsp bench_isolation bench_path_gate bench_rag bench_lsp_depth bench_lsp_presentation bench_trace bench_mcp bench_cluster; do
  echo "=================== $b"
  "$PY" "benchmarks/$b.py" || echo "!! $b failed with status $?"
done
