#!/usr/bin/env bash
# One prepared GPU run of guided decoding at a realistic size, a few minutes: bf16, a 1.1B-parameter Llama built from
# a config, batch 1 / 8 / 32, 128 + 64 tokens. Measures in one run: plain generate (at the batch and at twice the
# batch), the fused path (PARMGuidedModel: the base plus a PBLoRA adapter, one forward of 2B rows a token), the
# unfused paths with that same-size PARM (PARMGuidance on a separate copy, the lockstep loop), PARMGuidance with a
# 134M PARM, and at batch 1 the compiled paths (static cache, CUDA graphs): plain compiled generate at the batch and
# at twice the batch, the compiled fused path, and compiled PARMGuidance with a compiled base. Compile failures or
# fallbacks show in the log (TORCH_LOGS=recompiles).
# Results go to $OUT (or ./bench-results). Needs torch with CUDA, transformers 5.24 and peft 0.21 importable; wheels
# carried in .whl/ are installed to /tmp/site first when present. ALL=1 also runs the PBLoRA and training-memory
# benchmarks (about 6 more minutes).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-bench-results}"
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD/src:${PYTHONPATH:-}" PYTHONUNBUFFERED=1 TORCH_LOGS="${TORCH_LOGS:-recompiles}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__)" | tee -a "$OUT/gpu.txt"
# eager paths first (batch 1, 8, 32), so that their figures exist even if compiling runs out of time
timeout 240 python3 benchmarks/bench_guidance.py --preset gpu --no-genarm --many 0 \
    --json "$OUT/bench_guidance_gpu.json" 2>&1 | grep -v -i warn | tee "$OUT/bench_guidance_gpu.log"
timeout 240 python3 benchmarks/bench_guidance.py --preset gpu --no-genarm --many 0 --batches 1 --compiled \
    --json "$OUT/bench_guidance_gpu_compiled.json" 2>&1 | grep -v -i warn | tee "$OUT/bench_guidance_gpu_compiled.log"
if [ "${ALL:-0}" = "1" ]; then
    timeout 180 python3 benchmarks/bench_pblora.py --preset gpu --json "$OUT/bench_pblora_gpu.json" 2>&1 | grep -v -i warn | tee "$OUT/bench_pblora_gpu.log"
    timeout 180 python3 benchmarks/bench_training_memory.py --preset gpu 2>&1 | grep -v -i warn | tee "$OUT/bench_training_memory_gpu.log"
fi
