"""Files replaced whole: written to a temporary file beside the target, then renamed over it.

A crash mid-write (a full disk, a killed job) leaves the previous file intact and no
half-written file that a later run would choke on. Checkpoints, safetensors exports, converted
annotation files and the describe command's results are all written this way.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replaced_atomically(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on a clean exit it is renamed over ``path``,
    on an exception it is removed and ``path`` is left as it was.

        with replaced_atomically("out.json") as tmp:
            tmp.write_text(text)
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
