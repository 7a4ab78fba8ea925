#!/bin/bash
# resweep.sh FROZEN_SRC RUN_FOLDER NAME STRENGTHS...: a copy of a run folder swept again at fixed strengths (the
# report's trial) by the given frozen copy of the library, same adapter, one thread
frozen=$1; src=$2; name=$3; shift 3
RUNS=${RUNS:-/work/runs/s82}  # where the copies, their logs and progress.log go
export PYTHONPATH=$frozen:/work/main/research/runs/unseen-objectives:/work/main/research/runs/objectives-after-word-choices
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p $RUNS/resweeps/$name
dest=$RUNS/resweeps/$name/$(basename $src)
cp -r "$src" "$dest"
echo "start $name $(date +%T)" >> $RUNS/progress.log
python -m peft_pblora report --output_dir "$dest" --fixed_objective_strengths "$@" > $RUNS/resweeps/$name.log 2>&1
echo "end $name rc $? $(date +%T)" >> $RUNS/progress.log
