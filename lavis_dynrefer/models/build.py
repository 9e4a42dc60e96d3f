"""Building a DynReferModel from its config, randomly initialised: ``build_dynrefer``.

The parts and the small files they read (tag list, tokenizers) are ``models.parts``; weights are
the ``lavis_dynrefer.weights`` package's (``from_config`` builds, then loads what the config
names). ``meta=True`` builds every parameter on the meta device (full size, no memory).
"""

from __future__ import annotations

from lavis_dynrefer.models.config import DynReferConfig
from lavis_dynrefer.models.dynrefer import DynReferModel


def build_dynrefer(config: DynReferConfig, meta: bool = False,
                   with_tokenizers: bool = True) -> DynReferModel:
    """The model, ``config.frozen`` parts locked, everything randomly initialised.

    Args:
        config: the model configuration.
        meta: put every parameter on the meta device (full-size measuring without memory).
        with_tokenizers: build the tokenizers (needs the language tokenizer's files); without
            them the model can be measured but not run on text.
    """
    return DynReferModel.build(config, meta=meta, with_tokenizers=with_tokenizers)
