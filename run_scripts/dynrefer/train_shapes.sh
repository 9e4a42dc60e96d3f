#!/usr/bin/env bash
# train_shapes: the embedded default model, on CPU (about 30 min); data: python -m lavis_dynrefer.shapes --out data/shapes
python -m lavis_dynrefer.train --cfg-path projects/dynrefer/train_shapes.yaml "$@"
