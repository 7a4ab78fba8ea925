#!/bin/bash
# resweep.sh SECTION RUN_FOLDER NAME STRENGTHS...: a copy of a recorded run folder swept again at fixed strengths by
# that section's frozen copy of the library, same adapters, one thread
section=$1; src=$2; name=$3; shift 3
objective_dirs=$(ls -d /work/main/research/runs/{fresh-objectives,third-objectives,late-objectives,objectives-after-fresh-prompts,rare-features,unseen-objectives,objectives-after-word-choices} | paste -sd:)
export PYTHONPATH=/work/runs/$section/frozen/src:$objective_dirs
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p /work/runs/s81/$name
dest=/work/runs/s81/$name/$(basename $src)
cp -r "$src" "$dest"
echo "start $name $(date +%T)" >> /work/runs/s81/progress.log
python -m peft_pblora report --output_dir "$dest" --fixed_objective_strengths "$@" > /work/runs/s81/$name.log 2>&1
echo "end $name rc $? $(date +%T)" >> /work/runs/s81/progress.log
