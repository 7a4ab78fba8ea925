#!/bin/bash
# runner.sh PREDECESSOR LINE1 LINE2: waits for the re-sweep PREDECESSOR to end, then runs the two queue lines in turn
wait_for=$1; shift
until grep -q "^end $wait_for " /work/runs/s81/progress.log; do sleep 15; done
for line in "$@"; do bash /work/runs/s81/resweep.sh $line; done
