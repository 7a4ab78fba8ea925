#!/usr/bin/env bash
# One prepared GPU run of the benchmarks at realistic sizes (bf16, 1.1B-parameter Llama built from a config).
# Results go to $OUT (or ./bench-results). Needs torch with CUDA, transformers 5.24 and peft 0.21 importable;
# wheels carried in .whl/ are installed to /tmp/site first when present.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-bench-results}"
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD/src:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__)" | tee -a "$OUT/gpu.txt"
timeout 180 python3 benchmarks/bench_pblora.py --preset gpu --json "$OUT/bench_pblora_gpu.json" 2>&1 | grep -v -i warn | tee "$OUT/bench_pblora_gpu.log"
timeout 420 python3 benchmarks/bench_guidance.py --preset gpu --compiled --json "$OUT/bench_guidance_gpu.json" 2>&1 | grep -v -i warn | tee "$OUT/bench_guidance_gpu.log"
timeout 180 python3 benchmarks/bench_training_memory.py --preset gpu 2>&1 | grep -v -i warn | tee "$OUT/bench_training_memory_gpu.log"
