#!/bin/bash
# queue_fixed_pairs.sh: after queue.sh has started its six runs, start each run below when fewer than four go
while pgrep -f "bash queue.sh" >/dev/null; do sleep 30; done
while read -r name pairs; do
  while [ "$(pgrep -fc 'frozen/scripts/steering_benchmark.py')" -ge 4 ]; do sleep 30; done
  (nohup bash run.sh "$name" "$pairs" 0 log-ratio-forms-from-pairs-train-again >/dev/null 2>&1 &)
  sleep 60
done <<LIST
cl_none_s0 conciseness:list_format
ls_none_s0 list_format:second_person
lp_none_s0 list_format:positivity
LIST
