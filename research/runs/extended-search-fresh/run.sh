#!/bin/bash
# run.sh NAME PAIRS SEED RECIPE: one benchmark run on the frozen copy (the commit of this section's rule), one thread
export PYTHONPATH=/work/runs/s83/frozen/src:/work/runs/s83/frozen/scripts:/work/main/research/runs/unseen-objectives:/work/main/research/runs/objectives-after-word-choices
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
cd /work/runs/s83
echo "start $1 $(date +%T)" >> progress.log
python frozen/scripts/steering_benchmark.py --preset cpu --test_prompts 48 --seeds $3 --recipe "$4" --pairs "$2" --output_dir /work/runs/s83/$1 > $1.log 2>&1
echo "end $1 rc $? $(date +%T)" >> progress.log
