#!/usr/bin/env bash
# Three objectives (harmless, helpful, humour) on HH-RLHF's helpful-base pairs: relabel, split, train.
# humour: SIGN 1, LABEL_INDEX 1 (the "humour" logit; check the classifier's id2label before a long run).
set -euo pipefail
cd "$(dirname "$0")/../.."
python recipes/relabel_pairs.py --source hh_rlhf --hh_subset helpful --output_dir data/hh3 \
    --scorer harmless=Ray2333/gpt2-large-harmless-reward_model \
    --scorer helpful=Ray2333/gpt2-large-helpful-reward_model \
    --scorer humour=mohameddhiab/humor-no-humor:1:1 \
    --splits train=20000 dev=500 test=1500 --seed 42
python -m peft_pblora.scripts.parm --config recipes/hh_rlhf_three_objectives/train.yaml
