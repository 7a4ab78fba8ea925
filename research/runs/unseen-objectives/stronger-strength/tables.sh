#!/bin/bash
# The four new objectives' table as the library now leaves it: min-train-steps/, with the runs the rule for an
# objective the probe cannot judge changed (probe-cannot-tell/) and then the runs a stronger strength changed (this
# folder) in their place (research log section 31).
#     PYTHONPATH=src:research/runs/unseen-objectives bash research/runs/unseen-objectives/stronger-strength/tables.sh
set -e
here=$(cd "$(dirname "$0")" && pwd); objectives=$(dirname "$here")
root=$(dirname "$(dirname "$(dirname "$objectives")")")
work=$(mktemp -d)
for run in "$objectives"/min-train-steps/*_s?; do cp -r "$run" "$work/"; done
for run in "$objectives"/probe-cannot-tell/*_s? "$here"/*_s?; do
    rm -rf "${work:?}/$(basename "$run")"; cp -r "$run" "$work/"
done
python "$root/scripts/steering_benchmark.py" --output_dir "$work" --table_only > /dev/null
cp "$work/table.md" "$here/table-now.md"; cp "$work/table.json" "$here/table-now.json"
rm -rf "$work"
