"""Weights: reading, checking, mapping and writing checkpoints (ours, the authors' release,
BLIP-2, EVA, Flan-T5, safetensors), and rebuilding a model as a checkpoint was trained.

The model (``lavis_dynrefer.models``) knows nothing of files: LAVIS's ``from_config`` builds
it from its config and then asks ``checkpoint.load_configured_weights`` for the files the
config names.
"""
