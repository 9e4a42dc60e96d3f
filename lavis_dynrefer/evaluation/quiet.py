"""Keep third-party prints (pycocoevalcap's BLEU, pycocotools) off stdout.

The metrics command's last stdout line must be its JSON object, and library code logs rather than
prints, so whatever these tools print is captured and logged instead.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def stdout_to_log(name: str, level: int = logging.DEBUG) -> Iterator[None]:
    """Capture what Python code prints to stdout inside the block and log it under ``name``."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    finally:
        text = buffer.getvalue().strip()
        if text:
            logger.log(level, "%s printed:\n%s", name, text)
