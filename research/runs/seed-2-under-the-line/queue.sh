#!/bin/bash
# queue.sh: start each run below when fewer than four benchmark runs are going
R=log-ratio-forms-from-pairs-train-again
while read -r name pairs; do
  while [ "$(pgrep -fc 'frozen/scripts/steering_benchmark.py')" -ge 4 ]; do sleep 30; done
  (nohup bash run.sh "$name" "$pairs" 2 $R >/dev/null 2>&1 &)
  sleep 60
done <<LIST
fc_none_s2 newest_objectives:Future,conciseness
hl_none_s2 newest_objectives:Health,list_format
is_none_s2 newest_objectives:InclusiveVoice,second_person
cs_none_s2 newest_objectives:Commas,unseen_objectives:ShortSentences
LIST
