#!/bin/bash
# The benchmark's tables as the library now leaves them: the runs diagnosed again with the wordless count
# (rediagnosed/) in place of the same runs of section 26 (fixed set) and section 27 (held-out pairs).
#     bash research/runs/wordless-check/tables.sh
set -e
here=$(cd "$(dirname "$0")" && pwd); runs=$(dirname "$here"); root=$(dirname "$(dirname "$runs")")
for set in fixed-set held-out; do
  work=$(mktemp -d)
  if [ $set = fixed-set ]; then source=$runs/empty-answer-check; else source=$runs/held-out-pairs; fi
  for run in "$source"/*_s?; do cp -r "$run" "$work/"; done
  for run in "$here"/rediagnosed/*_s?; do
    if [ -d "$work/$(basename "$run")" ]; then rm -rf "${work:?}/$(basename "$run")"; cp -r "$run" "$work/"; fi
  done
  python "$root/scripts/steering_benchmark.py" --output_dir "$work" --table_only > /dev/null
  cp "$work/table.md" "$here/table-$set.md"; cp "$work/table.json" "$here/table-$set.json"
  rm -rf "$work"
done
