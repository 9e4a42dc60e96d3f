#!/usr/bin/env bash
# ft_refcocog: see projects/dynrefer/README.md. GPUS=8 for the paper setting.
torchrun --nproc_per_node="${GPUS:-1}" -m lavis_dynrefer.train --cfg-path projects/dynrefer/ft_refcocog.yaml "$@"
