#!/usr/bin/env bash
# Installs peft-pblora with its test and documentation tools into the current Python. Where no torch is installed,
# it installs the pinned CPU-capable build torch==2.13.0 first (an unpinned torch may pull a multi-GB CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c "import torch" >/dev/null 2>&1; then
    "$PYTHON" -m pip install --quiet "torch==2.13.0"
fi
"$PYTHON" -m pip install --quiet -e ".[dev,docs,demo]"
