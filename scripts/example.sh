#!/usr/bin/env bash
# The examples on tiny random models (seconds, no download): install, then run each.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
"${PYTHON:-python3}" examples/quickstart.py
"${PYTHON:-python3}" examples/train_and_steer.py
"${PYTHON:-python3}" examples/serve_many_preferences.py
"${PYTHON:-python3}" examples/merge_for_fixed_preference.py
"${PYTHON:-python3}" examples/genarm_baseline.py
"${PYTHON:-python3}" examples/pareto_evaluation.py "$(mktemp -d)/pareto.png"
"${PYTHON:-python3}" examples/end_to_end_api.py
