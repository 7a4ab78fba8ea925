#!/bin/bash
# The tables as the library leaves them once no objective is held out of the probe's sight (research log section 32):
# each set's runs as before, with the runs this rule changed (this folder) in their place.
#     PYTHONPATH=src:research/runs/unseen-objectives:research/runs/rare-features bash research/runs/out-of-sight/tables.sh
set -e
here=$(cd "$(dirname "$0")" && pwd); runs=$(dirname "$here"); root=$(dirname "$(dirname "$runs")")
replace() {  # replace WORK FOLDER: the folder's runs in place of those of the same name in WORK
  for run in "$2"/*_s?; do
    if [ -d "$1/$(basename "$run")" ]; then rm -rf "${1:?}/$(basename "$run")"; cp -r "$run" "$1/"; fi
  done
}
table() {  # table NAME FOLDER... : the runs of each folder, a folder after "--" replacing runs, then this folder's
  local name=$1 work replacing=; shift; work=$(mktemp -d)
  for source in "$@"; do
    if [ "$source" = -- ]; then replacing=1
    elif [ -n "$replacing" ]; then replace "$work" "$source"
    else cp -r "$source"/*_s? "$work/"; fi
  done
  replace "$work" "$here"
  python "$root/scripts/steering_benchmark.py" --output_dir "$work" --table_only > /dev/null
  cp "$work/table.md" "$here/table-$name.md"; cp "$work/table.json" "$here/table-$name.json"
  rm -rf "$work"
}
table held-out-pairs "$runs/held-out-pairs" -- "$runs/wordless-check/rediagnosed"
objectives=$runs/unseen-objectives
table unseen-objectives "$objectives/min-train-steps" -- "$objectives/probe-cannot-tell" "$objectives/stronger-strength"
table rare-features "$runs/rare-features/seed-0" "$runs/rare-features/seed-1" "$runs/rare-features/seed-2"
