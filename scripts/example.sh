#!/usr/bin/env bash
# README command 1: install, then run the main job (for now the quickstart on a tiny random model).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
"${PYTHON:-python3}" examples/quickstart.py
