"""Tag vocabularies: one tag per line (the RAM tag list, or one built by ``build_tag_vocab``).

The line order is the tag index (the tagging decoder's K outputs), so a loader must not skip or
merge lines: a blank line or a repeated tag in the middle would silently shift every later index
against another tool that reads the same file line by line. Such files are rejected instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path


class TagListError(ValueError):
    """A tag list file that is empty, has a blank line inside, or repeats a tag."""


def load_tag_list(path: str | Path) -> list[str]:
    """Read a one-tag-per-line file; tags are stripped and lower-cased (as the release does).

    Trailing blank lines at the end of the file are allowed.

    Args:
        path: the tag list file.

    Returns:
        K tags, index = line number - 1.

    Raises:
        FileNotFoundError: naming the file.
        TagListError: naming the file and line of a blank line or a duplicate, or an empty file.
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
        tag = line.strip().lower()
        if not tag:
            raise TagListError(f"{path}:{number}: blank line inside the tag list")
        if tag in first_line:
            raise TagListError(
                f"{path}:{number}: duplicate tag {tag!r} (first on line {first_line[tag]})"
            )
        first_line[tag] = number
        tags.append(tag)
    return tags


def write_tag_list(tags: Sequence[str], path: str | Path) -> Path:
    """Write tags one per line, after the same checks ``load_tag_list`` makes on reading."""
    path = Path(path)
    seen: set[str] = set()
    for index, tag in enumerate(tags):
        if not tag.strip() or "\n" in tag or tag != tag.strip().lower():
            raise TagListError(f"tag {index} {tag!r}: must be non-empty, stripped, lower-case")
        if tag in seen:
            raise TagListError(f"tag {index} {tag!r}: duplicate")
        seen.add(tag)
    if not tags:
        raise TagListError(f"refusing to write an empty tag list to {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{tag}\n" for tag in tags), encoding="utf-8")
    return path


def tag_index(tags: Sequence[str]) -> dict[str, int]:
    """Map tag -> index for a loaded tag list."""
    return {tag: index for index, tag in enumerate(tags)}


def tags_in_vocabulary(phrases: Iterable[str], index: Mapping[str, int]) -> list[int]:
    """Sorted indices of the phrases that are tags of the vocabulary; other phrases are dropped.

    >>> tags_in_vocabulary(["red car", "car", "road"], {"car": 0, "bus": 1, "road": 2})
    [0, 2]
    """
    return sorted({index[phrase] for phrase in phrases if phrase in index})
