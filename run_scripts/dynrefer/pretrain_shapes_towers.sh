#!/usr/bin/env bash
# pretrain_shapes_towers: stage 1 of the shapes recipe (the ViT learns the world's facts), on CPU;
# the whole recipe is python -m lavis_dynrefer.shapes.recipe
python -m lavis_dynrefer.train --cfg-path projects/dynrefer/pretrain_shapes_towers.yaml "$@"
