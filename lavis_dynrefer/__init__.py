"""lavis-dynrefer: DynRefer region-level vision-language models as a LAVIS plugin.

Importing this package registers every model, processor, task and builder of the plugin with
LAVIS's registry, exactly once (the names are listed in ``lavis_dynrefer.names``):

    >>> import lavis_dynrefer  # noqa: F401
    >>> from lavis.common.registry import registry
    >>> registry.get_processor_class("dynrefer_multi_view").__name__
    'MultiViewProcessor'
"""

import warnings

with warnings.catch_warnings():
    # LAVIS's import chain (torch.jit.script, fairscale's torch.cuda.amp) warns about deprecated
    # torch APIs on every start; none of it is the user's to act on.
    warnings.simplefilter("ignore", FutureWarning)
    import lavis  # noqa: F401  (LAVIS first: its own registrations must exist before ours)

from lavis_dynrefer import datasets, runners, tasks  # noqa: E402, F401  (registers them)
from lavis_dynrefer.models import DynReferModel  # noqa: E402  (registers the model)
from lavis_dynrefer.processors.multi_view import (  # noqa: F401  (registers the processor)
    MultiViewConfig,
    MultiViewOutput,
    MultiViewProcessor,
)
from lavis_dynrefer.shapes import towers  # noqa: E402, F401  (registers the shapes towers model)

__version__ = "0.1.0"

__all__ = ["DynReferModel", "MultiViewConfig", "MultiViewOutput", "MultiViewProcessor",
           "__version__"]
