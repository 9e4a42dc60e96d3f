"""Every name this plugin registers with LAVIS, in one place.

LAVIS raises ``KeyError`` when a name is registered twice, so each name below is used by exactly
one ``registry.register_*`` call, and registration happens once, on ``import lavis_dynrefer``.
``REGISTERED`` lists the names registered so far by registry kind (the key of
``registry.mapping``); a name joins it when the module registering it is imported by the package.
"""

MODEL = "dynrefer"
# Stage 1 of the shapes recipe: the ViT pre-trained on the shapes world's facts.
MODEL_SHAPES_TOWERS = "dynrefer_shapes_towers"
MULTI_VIEW_PROCESSOR = "dynrefer_multi_view"

TASK_REGION_CAPTION = "region_caption"
TASK_DENSECAP = "densecap"
TASK_OVAD = "ovad"
TASK_REGION_RECOGNITION = "region_recognition"
TASK_GROUNDING = "grounding"

RUNNER = "runner_dynrefer"
LR_SCHEDULE_STEP_COSINE = "linear_warmup_step_cosine_lr"

# Dataset builders (LAVIS dataset names used under ``datasets:`` in yaml).
DATASET_VG_DENSECAP = "vg_densecap"
DATASET_VG_REG = "vg_reg"
DATASET_REFCOCOG_REG = "refcocog_reg"
DATASET_OVAD = "ovad"
DATASET_COCO_RECOGNITION = "coco_recognition"
DATASET_SHAPES = "shapes"
DATASET_SHAPES_GENERATED = "shapes_generated"
# Any grounding file (grounding.formats): RefCOCO/+/g, Ref-ZOM, Flickr30k Entities, shapes.
DATASET_GROUNDING = "grounding"

REGISTERED = {
    "model_name_mapping": [MODEL, MODEL_SHAPES_TOWERS],
    "processor_name_mapping": [MULTI_VIEW_PROCESSOR],
    "task_name_mapping": [TASK_REGION_CAPTION, TASK_DENSECAP, TASK_OVAD,
                          TASK_REGION_RECOGNITION, TASK_GROUNDING],
    "runner_name_mapping": [RUNNER],
    "lr_scheduler_name_mapping": [LR_SCHEDULE_STEP_COSINE],
    "builder_name_mapping": [DATASET_VG_DENSECAP, DATASET_VG_REG, DATASET_REFCOCOG_REG,
                             DATASET_OVAD, DATASET_COCO_RECOGNITION, DATASET_SHAPES,
                             DATASET_SHAPES_GENERATED, DATASET_GROUNDING],
}
