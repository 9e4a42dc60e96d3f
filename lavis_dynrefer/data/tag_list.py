"""Tag vocabularies: one tag per line (the RAM tag list, or one built by ``build_tag_vocab``).

The line order is the tag index (the tagging decoder's K outputs), so a loader must not skip or
merge lines: a blank line or a repeated tag in the middle would silently shift every later index
against another tool that reads the same file line by line. Such files are rejected instead.

Tags keep their case, as the release's loader keeps it (``tag.strip()``): RAM's list has 18 tags
such as "French fries", and control words are case-sensitive text. Caption phrases are
lower-case, so ``tag_index`` also answers a tag's case-folded name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path


class TagListError(ValueError):
    """A tag list file that is empty, has a blank line inside, or repeats a tag."""


def load_tag_list(path: str | Path) -> list[str]:
    """Read a one-tag-per-line file; tags are stripped, their case kept (as the release does).

    Trailing blank lines at the end of the file are allowed.

    Args:
        path: the tag list file.

    Returns:
        K tags, index = line number - 1.

    Raises:
        FileNotFoundError: naming the file.
        TagListError: naming the file and line of a blank line or a duplicate (tags that differ
            only in case count as duplicates: a lower-case phrase could not tell them apart),
            or an empty file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"tag list not found: {path}")
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise TagListError(f"{path}: tag list is empty")
    tags: list[str] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        tag = line.strip()
        if not tag:
            raise TagListError(f"{path}:{number}: blank line inside the tag list")
        if tag.casefold() in first_line:
            raise TagListError(f"{path}:{number}: duplicate tag {tag!r} (first on line "
                               f"{first_line[tag.casefold()]})")
        first_line[tag.casefold()] = number
        tags.append(tag)
    return tags


def write_tag_list(tags: Sequence[str], path: str | Path) -> Path:
    """Write tags one per line, after the same checks ``load_tag_list`` makes on reading."""
    path = Path(path)
    seen: set[str] = set()
    for index, tag in enumerate(tags):
        if not tag.strip() or "\n" in tag or tag != tag.strip():
            raise TagListError(f"tag {index} {tag!r}: must be non-empty and stripped")
        if tag.casefold() in seen:
            raise TagListError(f"tag {index} {tag!r}: duplicate")
        seen.add(tag.casefold())
    if not tags:
        raise TagListError(f"refusing to write an empty tag list to {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{tag}\n" for tag in tags), encoding="utf-8")
    return path


def tag_index(tags: Sequence[str]) -> dict[str, int]:
    """Map tag -> index for a loaded tag list, under its own name and its case-folded name
    (a caption's lower-case phrase "french fries" finds "French fries").

    >>> tag_index(["French fries", "car"])
    {'french fries': 0, 'car': 1, 'French fries': 0}
    """
    folded = {tag.casefold(): index for index, tag in enumerate(tags)}
    return {**folded, **{tag: index for index, tag in enumerate(tags)}}


def tags_in_vocabulary(phrases: Iterable[str], index: Mapping[str, int]) -> list[int]:
    """Sorted indices of the phrases that are tags of the vocabulary; other phrases are dropped.

    >>> tags_in_vocabulary(["red car", "car", "road"], {"car": 0, "bus": 1, "road": 2})
    [0, 2]
    """
    return sorted({index[phrase] for phrase in phrases if phrase in index})
