"""The DynRefer model and its stages (see ``dynrefer.py`` for the pipeline)."""

from lavis_dynrefer.models.dynrefer import DynReferModel  # noqa: F401  (registers "dynrefer")
