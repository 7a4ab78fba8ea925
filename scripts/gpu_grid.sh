#!/usr/bin/env bash
# Run a grid of end-to-end runs as parallel shards on one GPU (one process per shard in the grid file's "shards";
# a shard's "shard_setup" command runs first, e.g. distilling a weak PARM). Each shard packs its results into
# $OUT/shard<i>.tar.gz after every run; $OUT/grid.log gathers the shards' logs and the GPU's memory use.
#   bash scripts/gpu_grid.sh scripts/grids/gpu-steering.json
# BUDGET: start no run after this many seconds (default 300); HARD_STOP: end every shard then (default 480).
set -uo pipefail
cd "$(dirname "$0")/.."
GRID="${1:-scripts/grids/gpu-steering.json}"
OUT="${OUT:-runs/gpu-out}"
GRID_DIR="${GRID_DIR:-runs/gpu}"
mkdir -p "$OUT" "$GRID_DIR" /tmp/grid-logs
export PYTHONPATH="$PWD/src:${PYTHONPATH:-}" PYTHONUNBUFFERED=1 OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
shards=$(python3 -c "import json, sys; print(len(json.load(open(sys.argv[1]))['shards']))" "$GRID")
gather() {
    cat /tmp/grid-logs/*.log > "$OUT/grid.log" 2>/dev/null
}
(while sleep 15; do
    nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv,noheader >> /tmp/grid-logs/zz-gpu.log 2>/dev/null
    gather
done) &
watcher=$!
for ((shard = 0; shard < shards; shard++)); do
    read -r runs setup < <(python3 -c "
import json, sys
grid = json.load(open(sys.argv[1]))
print(','.join(grid['shards'][int(sys.argv[2])]), grid.get('shard_setup', {}).get(sys.argv[2], ''))" "$GRID" "$shard")
    (
        echo "== shard $shard: $runs"
        if [ -n "$setup" ]; then
            echo "== setup: $setup"
            timeout "${HARD_STOP:-480}" bash -c "$setup"
        fi
        timeout "${HARD_STOP:-480}" python3 scripts/run_grid.py "$GRID" --runs "$runs" --output_dir "$GRID_DIR" \
            --time_budget "${BUDGET:-300}" --archive "$OUT/shard$shard.tar.gz"
        echo "== shard $shard ended with status $?"
    ) > "/tmp/grid-logs/shard$shard.log" 2>&1 &
done
wait $(jobs -p | grep -v "^$watcher$")
kill "$watcher" 2>/dev/null
gather
