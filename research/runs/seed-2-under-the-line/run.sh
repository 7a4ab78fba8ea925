#!/bin/bash
# run.sh NAME PAIRS SEED RECIPE: one benchmark run on the frozen copy in $RUNS (section 82's, 77d65ec, by default),
# one thread
RUNS=${RUNS:-/work/runs/s82}
export PYTHONPATH=$RUNS/frozen/src:$RUNS/frozen/scripts:/work/main/research/runs/unseen-objectives:/work/main/research/runs/objectives-after-word-choices
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
cd $RUNS
echo "start $1 $(date +%T)" >> progress.log
python frozen/scripts/steering_benchmark.py --preset cpu --test_prompts 48 --seeds $3 --recipe "$4" --pairs "$2" --output_dir $RUNS/$1 > $1.log 2>&1
echo "end $1 rc $? $(date +%T)" >> progress.log
