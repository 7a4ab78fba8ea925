#!/bin/bash
# The tables as the library leaves them once no objective is held out of the probe's sight (research log section 32):
# each set's runs as before, with the runs this rule changed (this folder) in their place.
#     PYTHONPATH=src:research/runs/unseen-objectives:research/runs/rare-features bash research/runs/out-of-sight/tables.sh
set -e
here=$(cd "$(dirname "$0")" && pwd); runs=$(dirname "$here"); root=$(dirname "$(dirname "$runs")")
. "$runs/set_tables.sh"
table held-out-pairs "$runs/held-out-pairs" -- "$runs/wordless-check/rediagnosed"
objectives=$runs/unseen-objectives
table unseen-objectives "$objectives/min-train-steps" -- "$objectives/probe-cannot-tell" "$objectives/stronger-strength"
table rare-features "$runs/rare-features/seed-0" "$runs/rare-features/seed-1" "$runs/rare-features/seed-2"
