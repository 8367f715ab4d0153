#!/usr/bin/env bash
# Quick start: set up, build the bundled real sample into dataset/, and serve the dashboard.
#   ./run.sh                 (then open http://localhost:8501)
#   PORT=8600 ./run.sh       (another port)
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
.venv/bin/python -m pipelines build --input sample --dataset dataset
exec .venv/bin/streamlit run app.py --server.port "${PORT:-8501}" --server.headless true -- --dataset dataset
