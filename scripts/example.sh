#!/usr/bin/env bash
# README command 1: install, then run the main job (for now the examples on tiny random models).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
"${PYTHON:-python3}" examples/quickstart.py
"${PYTHON:-python3}" examples/train_and_steer.py
