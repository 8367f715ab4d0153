#!/usr/bin/env bash
# Build one input folder with the code of REV and with the working tree, then compare the two
# datasets table by table and byte by byte (scripts/same_build.py). Exit 1 when they differ.
#   scripts/same_build.sh INPUT_DIR [REV]      (REV: default the merge base with main)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
input=$(realpath "$1")
rev=${2:-$(git merge-base HEAD main)}
tmp=$(mktemp -d)
trap 'git -C "$repo" worktree remove --force "$tmp/base" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git worktree add --detach --quiet "$tmp/base" "$rev"
# python -m runs the package of the current folder: the old code in the old worktree
(cd "$tmp/base" && "$repo/.venv/bin/python" -m pipelines build --input "$input" --dataset "$tmp/before" --no-progress >/dev/null)
.venv/bin/python -m pipelines build --input "$input" --dataset "$tmp/after" --no-progress >/dev/null
.venv/bin/python scripts/same_build.py "$tmp/before" "$tmp/after"
