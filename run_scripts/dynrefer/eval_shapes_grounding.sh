#!/usr/bin/env bash
# eval_shapes_grounding: the shipped shapes model grounds the shapes test expressions (python -m lavis_dynrefer.shapes.grounding first)
python -m lavis_dynrefer.evaluate --cfg-path projects/dynrefer/eval_shapes_grounding.yaml "$@"
