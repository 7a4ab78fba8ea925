#!/usr/bin/env bash
# PARM on PKU-SafeRLHF-10K, as the paper: relabel with Beaver-7B reward/cost, split 8000/500/1500, train a 4-bit
# Alpaca-7B PARM, then steer Alpaca-7B across the preference grid. Needs a CUDA GPU, the hub and
# `pip install "peft-pblora[recipes]" safe-rlhf`.
set -euo pipefail
cd "$(dirname "$0")/../.."
python recipes/relabel_pairs.py --source pku_saferlhf --output_dir data/pku10k \
    --scorer helpful=PKU-Alignment/beaver-7b-v1.0-reward \
    --scorer harmless=PKU-Alignment/beaver-7b-v1.0-cost:-1 \
    --splits train=8000 dev=500 test=1500 --seed 42
# one GPU; for several: accelerate launch --config_file recipes/accelerate/{ddp,zero2,zero3,fsdp}.yaml -m ...
python -m peft_pblora.scripts.parm --config recipes/pku_saferlhf/train.yaml
