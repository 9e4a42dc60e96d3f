"""Describe the regions of your own images: the ``describe()`` call and the folder command
(``python -m lavis_dynrefer.describe``, see ``folder``)."""

from lavis_dynrefer.describe.api import describe

__all__ = ["describe"]
