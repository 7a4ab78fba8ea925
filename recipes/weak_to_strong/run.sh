#!/usr/bin/env bash
# Weak-to-strong: a TinyLlama-1.1B PARM (same 32000-token vocabulary as Llama 2) guides Llama-2-7B-chat, as the paper.
# The end-to-end command trains the small PARM on preference data sampled from the big base, then sweeps alpha with
# the big base guided by the small PARM. Needs a GPU and the hub (Llama 2 is gated: accept its licence first).
set -euo pipefail
peft-pblora run --output_dir runs/weak-to-strong \
    --base_model meta-llama/Llama-2-7b-chat-hf \
    --parm_model TinyLlama/TinyLlama-1.1B-Chat-v1.0 \
    --train_prompts 240 --samples_per_prompt 8 --test_prompts 96 \
    --sample_batch_size 64 --sweep_batch_size 96
# Offline, on the packaged SmolLM2-135M-Instruct, a PARM from the base's first layers is the only smaller model at
# hand; research/log.md (section 1, calibration) shows why that fails without language-model training:
#   peft-pblora run --output_dir runs/first-layers --parm_layers 10
