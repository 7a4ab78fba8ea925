#!/usr/bin/env bash
# Launches a launch script N times with 2 gloo processes (recipes/accelerate/ddp.yaml) and counts the launches that
# outlive 90 s (about 10 s each otherwise): their ranks' stacks go to WORK/<i>.stack (py-spy), then they are killed.
# Run it on an otherwise idle machine: under load no launch hung in 60 (research log section 49).
#   bash research/runs/launch-exit/count_exit_hangs.sh N LAUNCH_SCRIPT WORK
set -uo pipefail
cd "$(dirname "$0")/../../.."
runs=$1 script=$2 work=$3
mkdir -p "$work"
[[ -e "$work/inputs/parm.yaml" ]] || python research/runs/launch-exit/make_inputs.py "$work/inputs"
hangs=0
for i in $(seq 1 "$runs"); do
    out="$work/out_$i"
    rm -rf "$out"
    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 setsid python -m accelerate.commands.launch \
        --config_file recipes/accelerate/ddp.yaml --num_processes 2 --mixed_precision no \
        --main_process_port $((20000 + RANDOM % 20000)) "$script" --config "$work/inputs/parm.yaml" \
        --output_dir "$out" > "$work/$i.log" 2>&1 &
    launcher=$!
    start=$(date +%s)
    while kill -0 "$launcher" 2>/dev/null; do
        sleep 1
        if (( $(date +%s) - start > 90 )); then
            hangs=$((hangs + 1))
            for pid in $(pgrep -f -- "$out"); do py-spy dump --native --pid "$pid" >> "$work/$i.stack" 2>&1; done
            pkill -9 -f -- "$out"
            break
        fi
    done
    wait "$launcher"
    echo "launch $i: exit status $? after $(( $(date +%s) - start )) s"
done
echo "$hangs of $runs launches hung"
