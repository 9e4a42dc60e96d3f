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

# Bound here, after the subpackage of the same name is imported, so ``lavis_dynrefer.describe``
# is the function even once the subpackage (the folder command) is loaded: a lazy module
# ``__getattr__`` would lose to the submodule attribute that the import system sets. Its import
# is light (PIL and the box checks; the model loads on the first call).
from lavis_dynrefer.describe import describe  # noqa: E402
from lavis_dynrefer.models import DynReferModel  # noqa: E402  (registers the model)
from lavis_dynrefer.processors.multi_view import (  # noqa: F401  (registers the processor)
    MultiViewConfig,
    MultiViewOutput,
    MultiViewProcessor,
)
from lavis_dynrefer.shapes import towers  # noqa: E402, F401  (registers the shapes towers model)

__version__ = "0.1.0"

__all__ = ["DynReferModel", "describe", "MultiViewConfig", "MultiViewOutput", "MultiViewProcessor",
           "__version__"]
