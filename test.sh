#!/usr/bin/env bash
# Set up and run every check: lint, unit/property/integration tests, evaluation, real-browser tests.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
# Browser tests drive Debian's Chromium; install it where we can (CI runs as root).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
    || echo "warning: could not install chromium; browser tests will fail in CI" >&2
fi
.venv/bin/ruff check pipelines dashboard tests bench app.py
.venv/bin/python -m pipelines evaluate
exec .venv/bin/python -m pytest -q "$@"
