#!/usr/bin/env bash
# The checks that need a GPU, as one script for a lent machine (about 5 minutes on one H100):
# the gpu-marked tests (tiny model in half precision, the paper-size flant5xl forward and
# backward in fp16/bf16 with random weights, the release's bf16 head decisions, the runner on
# CUDA with amp) and, where the DCNv4 package is installed or its wheel is carried along, the
# DCNv4 kernel against the PyTorch sampling. Nothing is downloaded (the machine has no network).
#   bash run_scripts/gpu_checks.sh [OUT_DIR]
set -euo pipefail
OUT=${1:-${OUT:-output/gpu_checks}}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" \
  | tee -a "$OUT/gpu.txt"
if ! python -c "import DCNv4" 2>/dev/null; then
  # A wheel built elsewhere may be carried in wheels/; without it the kernel test is skipped.
  ls wheels/DCNv4-*.whl >/dev/null 2>&1 && pip install --no-deps wheels/DCNv4-*.whl || true
fi
python -m pytest -m gpu -v -rs tests 2>&1 | tee "$OUT/pytest_gpu.txt"
