#!/usr/bin/env bash
# README command 2: install, lint, run the test suite (tiny random models, no download), build the docs site.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
"${PYTHON:-python3}" -m ruff check .
"${PYTHON:-python3}" -m ruff format --check .
"${PYTHON:-python3}" -m pytest -q tests
"${PYTHON:-python3}" -m mkdocs build --strict --quiet --site-dir "$(mktemp -d)"
