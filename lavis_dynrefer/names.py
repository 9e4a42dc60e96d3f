"""Every name this plugin registers with LAVIS, in one place.

LAVIS raises ``KeyError`` when a name is registered twice, so each name below is used by exactly
one ``registry.register_*`` call, and registration happens once, on ``import lavis_dynrefer``.
``REGISTERED`` lists them by registry kind (the key of ``registry.mapping``).
"""

MODEL = "dynrefer"
MULTI_VIEW_PROCESSOR = "dynrefer_multi_view"

REGISTERED = {
    "model_name_mapping": [MODEL],
    "processor_name_mapping": [MULTI_VIEW_PROCESSOR],
}
