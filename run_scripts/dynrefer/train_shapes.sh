#!/usr/bin/env bash
# train_shapes: stage 2 of the shapes recipe (DynRefer on the frozen stage-1 ViT), on CPU; pass
# --options model.weights.towers=<stage-1 checkpoint>. The whole recipe (both stages, export,
# benchmark): python -m lavis_dynrefer.shapes.recipe
python -m lavis_dynrefer.train --cfg-path projects/dynrefer/train_shapes.yaml "$@"
