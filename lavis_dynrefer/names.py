"""Every name this plugin registers with LAVIS, in one place.

LAVIS raises ``KeyError`` when a name is registered twice, so each name below is used by exactly
one ``registry.register_*`` call, and registration happens once, on ``import lavis_dynrefer``.
"""

MODEL = "dynrefer"

MULTI_VIEW_PROCESSOR = "dynrefer_multi_view"

TASK_REGION_CAPTION = "region_caption"
TASK_DENSECAP = "densecap"
TASK_OVAD = "ovad"
TASK_REGION_RECOGNITION = "region_recognition"

ALL = {
    "model": [MODEL],
    "processor": [MULTI_VIEW_PROCESSOR],
    "task": [TASK_REGION_CAPTION, TASK_DENSECAP, TASK_OVAD, TASK_REGION_RECOGNITION],
}
