"""Result files (data-and-metrics.md section 2): one JSON list, one object per predicted region.

Records are validated field by field (the type of every field that is present), then each task
asks for the fields it reads (``require_fields``) and, for the box-given tasks, one result per GT
annotation id (``align_to_annotations``). Every error names the file, the record index (and id)
and the reason.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from lavis_dynrefer.data.annotations import RegionAnnotationFile, read_json_file

FIELDS = ("id", "image_id", "bbox", "caption", "score", "tags", "attr", "cls")


class ResultFormatError(ValueError):
    """A result file or record that breaks the result contract, or does not fit the GT file."""


@dataclasses.dataclass(frozen=True, slots=True)
class PredictedRegion:
    """One result record; a field the file does not give is None.

    Attributes:
        source, index: the file and the record's position in it, for error messages.
        bbox: (x1, y1, x2, y2) pixels.
        attr: [A] per-attribute scores, in the GT file's attribute order.
        cls: [C] per-class logits, in the GT file's category order.
    """

    source: str
    index: int
    id: int | None = None
    image_id: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    caption: str | None = None
    score: float | None = None
    tags: tuple[str, ...] | None = None
    attr: tuple[float, ...] | None = None
    cls: tuple[float, ...] | None = None

    @property
    def where(self) -> str:
        name = f"{self.source}: record {self.index}"
        return f"{name} (id {self.id})" if self.id is not None else name

    def fail(self, reason: str) -> NoReturn:
        raise ResultFormatError(f"{self.where}: {reason}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _numbers(value: Any) -> bool:
    return isinstance(value, list) and all(_is_number(v) for v in value)


# field -> (check, expectation for the message, normalization)
_CHECKS = {
    "id": (lambda v: v is None or _is_int(v), "an integer or null", lambda v: v),
    "image_id": (_is_int, "an integer", lambda v: v),
    "bbox": (lambda v: _numbers(v) and len(v) == 4, "4 finite numbers [x1, y1, x2, y2]",
             lambda v: tuple(float(x) for x in v)),
    "caption": (lambda v: isinstance(v, str), "a string", lambda v: v),
    "score": (_is_number, "a finite number", float),
    "tags": (lambda v: isinstance(v, list) and all(isinstance(t, str) for t in v),
             "a list of strings", tuple),
    "attr": (_numbers, "a list of finite numbers", lambda v: tuple(float(x) for x in v)),
    "cls": (_numbers, "a list of finite numbers", lambda v: tuple(float(x) for x in v)),
}


def _parse_record(record: Any, source: str, index: int) -> PredictedRegion:
    region = PredictedRegion(source, index)
    if not isinstance(record, dict):
        region.fail(f"must be an object, got {record!r}")
    if _is_int(record.get("id")):
        region = dataclasses.replace(region, id=record["id"])
    values = {}
    for name in FIELDS:
        if name not in record:
            continue
        check, expected, normalize = _CHECKS[name]
        if not check(record[name]):
            region.fail(f"{name!r} must be {expected}, got {record[name]!r}")
        values[name] = normalize(record[name])
    region = dataclasses.replace(region, **values)
    if region.bbox is not None:
        x1, y1, x2, y2 = region.bbox
        if x2 < x1 or y2 < y1:
            region.fail(f"reversed box {list(region.bbox)}: 'bbox' is XYXY (x2 >= x1, y2 >= y1); "
                        "an XYWH box [x, y, w, h] must be converted first")
    return region


def parse_results(data: Any, source: str) -> list[PredictedRegion]:
    """Validate an already-parsed result list; ``source`` names it in error messages."""
    if not isinstance(data, list):
        raise ResultFormatError(f"{source}: must be a JSON list of result objects, "
                                f"got {type(data).__name__}")
    return [_parse_record(record, source, index) for index, record in enumerate(data)]


def load_results(path: str | Path) -> list[PredictedRegion]:
    """Read and validate a result file (see ``parse_results``)."""
    return parse_results(read_json_file(path, ResultFormatError), str(path))


def require_fields(results: Sequence[PredictedRegion], fields: Sequence[str]) -> None:
    """Fail on the first record that lacks one of ``fields`` (or has it null)."""
    for region in results:
        for name in fields:
            if getattr(region, name) is None:
                region.fail(f"missing {name!r}, which this task needs (it reads {list(fields)})")


def _preview(ids: Sequence[int], limit: int = 10) -> str:
    shown = ", ".join(str(i) for i in ids[:limit])
    return f"[{shown}{', ...' if len(ids) > limit else ''}]"


def align_to_annotations(gt: RegionAnnotationFile, results: Sequence[PredictedRegion]
                         ) -> list[PredictedRegion]:
    """Pair every GT annotation with the result that carries its id.

    Returns:
        N results, in the order of ``gt.annotations``.

    Raises:
        ResultFormatError: a null or duplicate result id, or results whose ids are not exactly the
            GT annotation ids (both the missing and the extra ids are listed).
    """
    by_id: dict[int, PredictedRegion] = {}
    for region in results:
        if region.id is None:
            region.fail("'id' is missing or null, but this task scores GT boxes: every result "
                        "needs the id of its GT annotation")
        if region.id in by_id:
            region.fail(f"duplicate id {region.id} (also record {by_id[region.id].index})")
        by_id[region.id] = region
    gt_ids = [ann.id for ann in gt.annotations]
    missing = [i for i in gt_ids if i not in by_id]
    extra = sorted(set(by_id) - set(gt_ids))
    if missing or extra:
        name = f"results in {results[0].source}" if results else "the results (none given)"
        problems = []
        if missing:
            problems.append(f"{len(missing)} GT annotation id(s) have no result: "
                            f"{_preview(missing)}")
        if extra:
            problems.append(f"{len(extra)} result id(s) are not GT annotation ids: "
                            f"{_preview(extra)}")
        raise ResultFormatError(f"{name} do not match the annotations of {gt.source}: "
                                + "; ".join(problems))
    return [by_id[i] for i in gt_ids]
