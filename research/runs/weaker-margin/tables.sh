#!/bin/bash
# Every benchmark set's table as the library leaves it with the margin before weakening (research log section 36):
# each set's runs, then the runs later rules changed in their place, oldest rule first, this folder's last.
#     PYTHONPATH=src:research/runs/unseen-objectives:research/runs/rare-features:research/runs/third-objectives:\
#     research/runs/fresh-objectives bash research/runs/weaker-margin/tables.sh
set -e
here=$(cd "$(dirname "$0")" && pwd); runs=$(dirname "$here"); root=$(dirname "$(dirname "$runs")")
. "$runs/set_tables.sh"
adjust_work() {  # conciseness against relevance at seed 2, not redone: the margin's strengths are those section 26 swept
  if [ -d "$1/conciseness__relevance_s2" ]; then
    rm -rf "${1:?}/conciseness__relevance_s2"; cp -r "$runs/empty-answer-check/conciseness__relevance_s2" "$1/"
  fi
}
later_rules=("$runs/wordless-check/rediagnosed" "$runs/out-of-sight" "$runs/side-matched")
table fixed-set "$runs/empty-answer-check" -- "${later_rules[@]}"
table held-out-pairs "$runs/held-out-pairs" -- "${later_rules[@]}"
unseen=$runs/unseen-objectives
table unseen-objectives "$unseen/min-train-steps" -- "$unseen/probe-cannot-tell" "$unseen/stronger-strength" \
  "${later_rules[@]}" "$here/stronger-strength-also"
rare=$runs/rare-features
table rare-features "$rare/seed-0" "$rare/seed-1" "$rare/seed-2" -- "${later_rules[@]}"
table rare-features-new-pairs "$rare/new-pairs" "$rare/new-pairs-seed-2" "$runs/side-matched/library-default" -- \
  "${later_rules[@]}"
third=$runs/third-objectives
table third-objectives "$third/seed-0" "$third/seed-1" "$third/seed-2" -- "${later_rules[@]}"
fresh=$runs/fresh-objectives
table fresh-objectives "$fresh/seed-0" "$fresh/seed-1" "$fresh/seed-2" -- "${later_rules[@]}"
