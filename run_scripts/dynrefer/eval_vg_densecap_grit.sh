#!/usr/bin/env bash
# eval_vg_densecap_grit: see projects/dynrefer/README.md. GPUS=8 for the paper setting.
torchrun --nproc_per_node="${GPUS:-1}" -m lavis_dynrefer.evaluate --cfg-path projects/dynrefer/eval_vg_densecap_grit.yaml "$@"
