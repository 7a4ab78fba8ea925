#!/bin/bash
# queue.sh: start each run below when fewer than four benchmark runs are going
while read -r name pairs recipe; do
  while [ "$(pgrep -fc 'frozen/scripts/steering_benchmark.py')" -ge 4 ]; do sleep 30; done
  (nohup bash run.sh "$name" "$pairs" 3 "$recipe" >/dev/null 2>&1 &)
  sleep 60
done <<LIST
fc_none_s3 newest_objectives:Future,conciseness log-ratio-forms-from-pairs-train-again
hl_none_s3 newest_objectives:Health,list_format log-ratio-forms-from-pairs-train-again
is_none_s3 newest_objectives:InclusiveVoice,second_person log-ratio-forms-from-pairs-train-again
cs_none_s3 newest_objectives:Commas,unseen_objectives:ShortSentences log-ratio-forms-from-pairs-train-again
fc_with_s3 newest_objectives:Future,conciseness log-ratio-forms-from-pairs-word-choices
cs_with_s3 newest_objectives:Commas,unseen_objectives:ShortSentences log-ratio-forms-from-pairs-word-choices
LIST
