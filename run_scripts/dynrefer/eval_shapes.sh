#!/usr/bin/env bash
# eval_shapes: the shipped shapes model on the shapes test split (add --options run.task=densecap|ovad|region_recognition)
python -m lavis_dynrefer.evaluate --cfg-path projects/dynrefer/eval_shapes.yaml "$@"
