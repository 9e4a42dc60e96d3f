"""The Stanford PTB tokenization of the COCO-caption metrics, without writing into site-packages.

``pycocoevalcap``'s ``PTBTokenizer`` puts its input file next to its jar (inside the installed
package) and runs Java there, so evaluation fails on a read-only install (a system or container
image, a shared environment). This runs the same jar and the same command line on a file in a
temporary folder, and removes the same punctuation tokens, so the output is identical.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

JAR_NAME = "stanford-corenlp-3.4.1.jar"
#: Tokens the COCO-caption tokenizer drops after tokenizing (pycocoevalcap's list).
PUNCTUATION = frozenset({"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?",
                         "!", ",", ":", "-", "--", "...", ";"})


def corenlp_jar() -> Path:
    """The Stanford CoreNLP jar shipped with pycocoevalcap."""
    import pycocoevalcap.tokenizer.ptbtokenizer as module  # its folder holds the jar

    jar = Path(module.__file__).resolve().parent / JAR_NAME
    if not jar.is_file():
        raise FileNotFoundError(f"{jar} is missing: reinstall pycocoevalcap")
    return jar


def ptb_tokenize(captions: Mapping[K, Sequence[str]]) -> dict[K, list[str]]:
    """Stanford PTB tokenization (lower-cased, punctuation removed), one JVM call for all.

    Args:
        captions: key -> its captions.

    Returns:
        key -> its tokenized captions, same keys and counts (keys with no caption are left out,
        as pycocoevalcap does).

    Raises:
        RuntimeError: Java failed, or its output does not have one line per caption.
    """
    keys = [key for key, texts in captions.items() for _ in texts]
    lines = [text.replace("\n", " ") for texts in captions.values() for text in texts]
    with tempfile.TemporaryDirectory(prefix="ptb_") as folder:
        path = Path(folder) / "captions.txt"
        path.write_bytes("\n".join(lines).encode("utf-8"))
        proc = subprocess.run(
            ["java", "-cp", str(corenlp_jar()), "edu.stanford.nlp.process.PTBTokenizer",
             "-preserveLines", "-lowerCase", str(path)],
            capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"the PTB tokenizer (java) failed with status {proc.returncode}: "
                           f"{proc.stderr.decode(errors='replace').strip()[-500:]}")
    output = proc.stdout.decode("utf-8").split("\n")
    if len(output) < len(lines):
        raise RuntimeError(f"the PTB tokenizer returned {len(output)} lines for {len(lines)} "
                           f"captions")
    tokenized: dict[K, list[str]] = {}
    for key, line in zip(keys, output):
        words = [w for w in line.rstrip().split(" ") if w not in PUNCTUATION]
        tokenized.setdefault(key, []).append(" ".join(words))
    return tokenized
