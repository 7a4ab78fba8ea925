#!/bin/bash
# run.sh NAME PAIRS SEED RECIPE: section 82's run.sh on this section's frozen copy (the commit of its rule)
RUNS=/work/runs/s83 exec bash "$(dirname "$0")/../seed-2-under-the-line/run.sh" "$@"
