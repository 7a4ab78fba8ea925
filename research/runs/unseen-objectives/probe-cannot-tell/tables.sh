#!/bin/bash
# The four new objectives' table as the library now leaves it: the runs whose strengths the rule for an objective the
# probe cannot judge changes (this folder), in place of the same runs of min-train-steps/ (research log section 30).
#     PYTHONPATH=src:research/runs/unseen-objectives bash research/runs/unseen-objectives/probe-cannot-tell/tables.sh
set -e
here=$(cd "$(dirname "$0")" && pwd); source=$(dirname "$here")/min-train-steps
root=$(dirname "$(dirname "$(dirname "$(dirname "$here")")")")
work=$(mktemp -d)
for run in "$source"/*_s?; do cp -r "$run" "$work/"; done
for run in "$here"/*_s?; do rm -rf "${work:?}/$(basename "$run")"; cp -r "$run" "$work/"; done
python "$root/scripts/steering_benchmark.py" --output_dir "$work" --table_only > /dev/null
cp "$work/table.md" "$here/table-now.md"; cp "$work/table.json" "$here/table-now.json"
rm -rf "$work"
