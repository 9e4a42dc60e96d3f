#!/usr/bin/env bash
# eval_refcoco_grounding: see projects/dynrefer/README.md (RefCOCO REC, GT-box candidates). GPUS=8 for 8 GPUs.
torchrun --nproc_per_node="${GPUS:-1}" -m lavis_dynrefer.evaluate --cfg-path projects/dynrefer/eval_refcoco_grounding.yaml "$@"
