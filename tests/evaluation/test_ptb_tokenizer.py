"""The PTB tokenization runs outside the installed package and equals pycocoevalcap's."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pycocoevalcap.tokenizer.ptbtokenizer as ptb_module
import pytest
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

from lavis_dynrefer.evaluation.ptb_tokenizer import ptb_tokenize

CAPTIONS = {
    1: ["A man riding a wave on top of a surfboard.", "the man's red shirt -- (left)"],
    "b": ["Two dogs; one is \"brown\"!", "café au lait, naïve?", "x"],
    (3, 4): ["it's 3:45 p.m. ... isn't it", "multi\nline caption"],
    5: [],
}


@pytest.mark.slow  # two JVM starts, a few seconds
def test_same_output_as_pycocoevalcap():
    expected = PTBTokenizer().tokenize(
        {k: [{"caption": c} for c in v] for k, v in CAPTIONS.items()})
    got = ptb_tokenize(CAPTIONS)
    assert got == expected
    assert got[1][0] == "a man riding a wave on top of a surfboard"


def test_works_when_the_package_folder_is_read_only(monkeypatch):
    # A read-only install: creating a file next to the jar fails. Root ignores permissions, so
    # the refusal is simulated where tempfile creates every file (NamedTemporaryFile, mkstemp).
    package_dir = Path(ptb_module.__file__).resolve().parent
    inner = tempfile._mkstemp_inner

    def refusing(dir, *args, **kwargs):  # noqa: A002  (tempfile's own argument name)
        if Path(dir).resolve() == package_dir:
            raise PermissionError(13, "Read-only file system", str(dir))
        return inner(dir, *args, **kwargs)

    monkeypatch.setattr(tempfile, "_mkstemp_inner", refusing)
    with pytest.raises(PermissionError):  # pycocoevalcap's own tokenizer fails there
        PTBTokenizer().tokenize({1: [{"caption": "a cat"}]})
    assert ptb_tokenize({1: ["A cat."]}) == {1: ["a cat"]}
