"""Region annotation files (data-and-metrics.md section 1): validate and normalize into records.

One JSON per split, COCO-API-loadable, boxes XYXY in pixels. The DynRefer release's converted
files are accepted unchanged: ``att_vec`` under ``extra_info.ovad_result``, ``attrs`` instead of
``attributes``, the category under ``extra_info.coco_result`` (``category_id``, or the category
``category`` name), and the box only as a ``segmentation`` (polygons, or RLE) whose bounding box
becomes the XYXY box. Everything is normalized to one shape, so no consumer looks at the layout.

``parse_region_annotations`` is pure (an already-parsed dict in, records out);
``load_region_annotations`` only reads the file. Every problem raises ``AnnotationFormatError``
naming the file, the record (its id, and its index) and the reason.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

FREQ_SETS = ("head", "medium", "tail")
ATT_LABELS = (-1, 0, 1)  # ignore, negative, positive


class AnnotationFormatError(ValueError):
    """A region annotation file (or a record in it) that breaks the data contract."""


@dataclasses.dataclass(frozen=True, slots=True)
class ImageInfo:
    """One entry of ``images``."""

    id: int
    file_name: str
    width: int
    height: int


@dataclasses.dataclass(frozen=True, slots=True)
class RegionAnnotation:
    """One region, normalized whatever the file layout was.

    Attributes:
        bbox: (x1, y1, x2, y2) pixels, 0 <= x1 < x2 <= W and 0 <= y1 < y2 <= H.
        caption: "" where the task has no caption.
        category_id: the region-recognition class, else None.
        att_vec: [A] labels, 1 positive / 0 negative / -1 ignored (attribute task), else None.
        extra_info: the free-form dict, as given.
    """

    id: int
    image_id: int
    bbox: tuple[float, float, float, float]
    caption: str
    category_id: int | None
    att_vec: tuple[int, ...] | None
    extra_info: Mapping[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class Category:
    """One entry of ``categories`` (region recognition)."""

    id: int
    name: str


@dataclasses.dataclass(frozen=True, slots=True)
class Attribute:
    """One entry of ``attributes``; ``name`` is ``"type:syn1/syn2"``, freq_set head/medium/tail."""

    id: int
    name: str
    freq_set: str
    # OVAD's prompt family ("is" or "has"); optional because the spec's format does not require
    # it, but the OVAD prompts of "has" attributes differ ("the gray color" vs "the gray").
    is_has_att: str | None = None

    @property
    def type(self) -> str:
        return self.name.split(":", 1)[0]

    @property
    def synonyms(self) -> tuple[str, ...]:
        return tuple(self.name.split(":", 1)[1].split("/"))


@dataclasses.dataclass(frozen=True)
class RegionAnnotationFile:
    """A whole validated annotation file; ``source`` names it in every later error message."""

    source: str
    images: tuple[ImageInfo, ...]
    annotations: tuple[RegionAnnotation, ...]
    categories: tuple[Category, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    image_root: str | None = None
    dataset: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @functools.cached_property
    def image_by_id(self) -> dict[int, ImageInfo]:
        return {image.id: image for image in self.images}

    @functools.cached_property
    def annotations_by_image(self) -> dict[int, list[RegionAnnotation]]:
        """Image id -> its annotations in file order; every image is a key, maybe with []."""
        grouped: dict[int, list[RegionAnnotation]] = {image.id: [] for image in self.images}
        for ann in self.annotations:
            grouped[ann.image_id].append(ann)
        return grouped


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and type(value) is not bool


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and type(value) is not bool


_TYPE_NAMES = {int: "an integer", str: "a string", list: "a list", dict: "an object"}


class _Validator:
    """Raises ``AnnotationFormatError`` with ``"<file>: <record>: <reason>"``."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, reason: str) -> NoReturn:
        raise AnnotationFormatError(f"{self.source}: {where}: {reason}")

    def field(self, record: Mapping[str, Any], key: str, kind: type, where: str,
              default: Any = dataclasses.MISSING) -> Any:
        """``record[key]`` checked to be of ``kind`` (bool is never an int); default if absent."""
        if key not in record:
            if default is dataclasses.MISSING:
                self.fail(where, f"missing key {key!r}")
            return default
        value = record[key]
        ok = _is_int(value) if kind is int else isinstance(value, kind)
        if not ok:
            self.fail(where, f"{key!r} must be {_TYPE_NAMES[kind]}, got {value!r}")
        return value


_SINGULAR = {"images": "image", "annotations": "annotation", "categories": "category",
             "attributes": "attribute", "attrs": "attr"}


def _record_name(key: str, index: int, record: Any) -> str:
    """How messages name a record: ``"annotation id 7 (annotations[3])"``, or by index alone."""
    if isinstance(record, Mapping) and _is_int(record.get("id")):
        return f"{_SINGULAR[key]} id {record['id']} ({key}[{index}])"
    return f"{key}[{index}]"


def _records(check: _Validator, data: Mapping[str, Any], key: str, required: bool
             ) -> list[tuple[str, Mapping[str, Any]]]:
    """The (name, record) pairs of a top-level list; every record must be an object."""
    if key not in data:
        if required:
            check.fail("top level", f"missing key {key!r}")
        return []
    records = data[key]
    if not isinstance(records, list):
        check.fail("top level", f"{key!r} must be a list, got {type(records).__name__}")
    out = []
    for index, record in enumerate(records):
        where = _record_name(key, index, record)
        if not isinstance(record, Mapping):
            check.fail(where, f"must be an object, got {record!r}")
        out.append((where, record))
    return out


def _unique_ids(check: _Validator, named: Sequence[tuple[str, Any]]) -> None:
    seen: dict[int, str] = {}
    for where, item in named:
        if item.id in seen:
            check.fail(where, f"duplicate id {item.id} (already used by {seen[item.id]})")
        seen[item.id] = where


def _parse_image(check: _Validator, where: str, record: Mapping[str, Any]) -> ImageInfo:
    image = ImageInfo(
        id=check.field(record, "id", int, where),
        file_name=check.field(record, "file_name", str, where),
        width=check.field(record, "width", int, where),
        height=check.field(record, "height", int, where),
    )
    if image.width < 1 or image.height < 1:
        check.fail(where, f"image size must be positive, got {image.width}x{image.height}")
    return image


def _parse_category(check: _Validator, where: str, record: Mapping[str, Any]) -> Category:
    return Category(id=check.field(record, "id", int, where),
                    name=check.field(record, "name", str, where))


def _parse_attribute(check: _Validator, where: str, record: Mapping[str, Any]) -> Attribute:
    attribute = Attribute(id=check.field(record, "id", int, where),
                          name=check.field(record, "name", str, where),
                          freq_set=check.field(record, "freq_set", str, where))
    if ":" not in attribute.name:
        check.fail(where, f"attribute name must read 'type:syn1/syn2', got {attribute.name!r}")
    if attribute.freq_set not in FREQ_SETS:
        check.fail(where, f"'freq_set' must be one of {FREQ_SETS}, got {attribute.freq_set!r}")
    is_has = record.get("is_has_att")
    if is_has is not None:
        if is_has not in ("is", "has"):
            check.fail(where, f"'is_has_att' must be 'is' or 'has', got {is_has!r}")
        attribute = dataclasses.replace(attribute, is_has_att=is_has)
    return attribute


def _segmentation_box(check: _Validator, where: str, seg: Any) -> list[float]:
    """XYXY bounding box of a COCO segmentation: a list of flat polygons, or an RLE object."""
    if isinstance(seg, Mapping):
        from pycocotools import mask as mask_utils  # only RLE needs it

        size, counts = seg.get("size"), seg.get("counts")
        if not (isinstance(size, list) and len(size) == 2 and all(_is_int(s) for s in size)):
            check.fail(where, f"RLE 'segmentation' needs 'size' [h, w], got {size!r}")
        if isinstance(counts, list):
            rle = mask_utils.frPyObjects(dict(seg), size[0], size[1])
        elif isinstance(counts, str):
            rle = {"size": size, "counts": counts.encode()}
        else:
            check.fail(where, f"RLE 'segmentation' needs 'counts', got {counts!r}")
        x, y, w, h = (float(v) for v in mask_utils.toBbox(rle))
        return [x, y, x + w, y + h]
    if not (isinstance(seg, list) and seg and all(isinstance(p, list) for p in seg)):
        check.fail(where, f"'segmentation' must be a list of polygons or an RLE, got {seg!r}")
    coords = [v for polygon in seg for v in polygon]
    if not all(_is_number(v) and math.isfinite(v) for v in coords):
        check.fail(where, f"'segmentation' polygons must hold finite numbers, got {seg!r}")
    if any(len(polygon) < 4 or len(polygon) % 2 for polygon in seg):
        check.fail(where, "each 'segmentation' polygon must be x, y pairs (at least 2 points)")
    xs, ys = coords[0::2], coords[1::2]
    return [min(xs), min(ys), max(xs), max(ys)]


def _parse_box(check: _Validator, where: str, record: Mapping[str, Any], image: ImageInfo
               ) -> tuple[float, float, float, float]:
    if "bbox" in record:
        box = record["bbox"]
    elif "segmentation" in record:
        box = _segmentation_box(check, where, record["segmentation"])
    else:
        check.fail(where, "missing key 'bbox' (and no 'segmentation' to take the box from)")
    if not (isinstance(box, list) and len(box) == 4 and all(map(_is_number, box))):
        check.fail(where, f"'bbox' must be 4 numbers [x1, y1, x2, y2], got {box!r}")
    if not all(map(math.isfinite, box)):
        check.fail(where, f"'bbox' coordinates must be finite, got {box!r}")
    x1, y1, x2, y2 = map(float, box)
    if x2 < x1 or y2 < y1:
        hint = ""
        if x2 > 0 and y2 > 0:
            hint = (f"; it looks like XYWH [x, y, w, h], which must be converted to XYXY "
                    f"[{x1:g}, {y1:g}, {x1 + x2:g}, {y1 + y2:g}] (x2 = x + w, y2 = y + h)")
        check.fail(where, f"reversed box {box!r}: XYXY needs x2 > x1 and y2 > y1{hint}")
    if x2 == x1 or y2 == y1:
        check.fail(where, f"empty box {box!r}: XYXY needs x2 > x1 and y2 > y1")
    if x1 < 0 or y1 < 0 or x2 > image.width or y2 > image.height:
        check.fail(where, f"box {box!r} lies outside its {image.width}x{image.height} image "
                          f"(image id {image.id})")
    return x1, y1, x2, y2


class _Categories(NamedTuple):
    """Lookups for annotation categories: the known ids, and name -> id (release layout)."""

    ids: frozenset[int]
    by_name: dict[str, int]


def _parse_category_id(check: _Validator, where: str, record: Mapping[str, Any],
                       extra: Mapping[str, Any], categories: _Categories) -> int | None:
    coco = extra.get("coco_result")
    if "category_id" in record:
        category_id = check.field(record, "category_id", int, where)
    elif isinstance(coco, Mapping) and "category_id" in coco:
        category_id = check.field(coco, "category_id", int, f"{where}: extra_info.coco_result")
    elif isinstance(coco, Mapping) and "category" in coco:
        name = coco["category"]
        if name not in categories.by_name:
            check.fail(where, f"extra_info.coco_result.category {name!r} is not a category name")
        return categories.by_name[name]
    else:
        return None
    if categories.ids and category_id not in categories.ids:
        check.fail(where, f"unknown category_id {category_id}")
    return category_id


def _parse_att_vec(check: _Validator, where: str, record: Mapping[str, Any],
                   extra: Mapping[str, Any], num_attributes: int) -> tuple[int, ...] | None:
    ovad = extra.get("ovad_result")
    if "att_vec" in record:
        raw = record["att_vec"]
    elif isinstance(ovad, Mapping) and "att_vec" in ovad:
        raw = ovad["att_vec"]
    else:
        return None
    # Integral floats (1.0) are accepted: some converters write the labels as floats.
    if not (isinstance(raw, list) and all(_is_number(v) and v in ATT_LABELS for v in raw)):
        check.fail(where, f"'att_vec' must be a list of 1 / 0 / -1 labels, got {raw!r}")
    if num_attributes and len(raw) != num_attributes:
        check.fail(where, f"'att_vec' has {len(raw)} labels but the file has "
                          f"{num_attributes} attributes")
    return tuple(int(v) for v in raw)


def _parse_annotation(check: _Validator, where: str, record: Mapping[str, Any],
                      images: Mapping[int, ImageInfo], categories: _Categories,
                      num_attributes: int) -> RegionAnnotation:
    ann_id = check.field(record, "id", int, where)
    image_id = check.field(record, "image_id", int, where)
    if image_id not in images:
        check.fail(where, f"unknown image_id {image_id} (not in 'images')")
    extra = check.field(record, "extra_info", dict, where, default={})
    return RegionAnnotation(
        id=ann_id,
        image_id=image_id,
        bbox=_parse_box(check, where, record, images[image_id]),
        caption=check.field(record, "caption", str, where, default=""),
        category_id=_parse_category_id(check, where, record, extra, categories),
        att_vec=_parse_att_vec(check, where, record, extra, num_attributes),
        extra_info=extra,
    )


def _attribute_records(check: _Validator, data: Mapping[str, Any]
                       ) -> list[tuple[str, Mapping[str, Any]]]:
    """``attributes``, or the release's ``attrs``; both only if they agree."""
    if "attributes" in data and "attrs" in data and data["attributes"] != data["attrs"]:
        check.fail("top level", "both 'attributes' and 'attrs' are given and they differ")
    key = "attributes" if "attributes" in data else "attrs"
    return _records(check, data, key, required=False)


def parse_region_annotations(data: Any, source: str) -> RegionAnnotationFile:
    """Validate and normalize an already-parsed region annotation file.

    Args:
        data: the parsed JSON object.
        source: how error messages name the file (usually its path).

    Returns:
        The normalized file: N annotations with XYXY float boxes, categories and attributes in
        file order (the order of result ``cls`` / ``attr`` vectors).

    Raises:
        AnnotationFormatError: naming ``source``, the record and the reason.
    """
    check = _Validator(source)
    if not isinstance(data, Mapping):
        check.fail("top level", f"must be a JSON object, got {type(data).__name__}")
    images = [(w, _parse_image(check, w, r)) for w, r in _records(check, data, "images", True)]
    categories = [(w, _parse_category(check, w, r))
                  for w, r in _records(check, data, "categories", False)]
    attributes = [(w, _parse_attribute(check, w, r)) for w, r in _attribute_records(check, data)]
    for named in (images, categories, attributes):
        _unique_ids(check, named)
    image_by_id = {image.id: image for _, image in images}
    category_list = [c for _, c in categories]
    category_index = _Categories(frozenset(c.id for c in category_list),
                                 {c.name: c.id for c in category_list})
    annotations = [
        (w, _parse_annotation(check, w, r, image_by_id, category_index, len(attributes)))
        for w, r in _records(check, data, "annotations", True)
    ]
    _unique_ids(check, annotations)
    dataset = check.field(data, "dataset", dict, "top level", default={})
    image_root = check.field(dataset, "image_root", str, "dataset", default=None)
    return RegionAnnotationFile(
        source=source,
        images=tuple(image for _, image in images),
        annotations=tuple(ann for _, ann in annotations),
        categories=tuple(category_list),
        attributes=tuple(a for _, a in attributes),
        image_root=image_root,
        dataset=dataset,
    )


def read_json_file(path: str | Path, error: type[ValueError]) -> Any:
    """Parse a JSON file; a missing file is FileNotFoundError, bad JSON is ``error``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{path}: not valid JSON: {exc}") from None


def load_region_annotations(path: str | Path) -> RegionAnnotationFile:
    """Read and validate a region annotation file (see ``parse_region_annotations``)."""
    return parse_region_annotations(read_json_file(path, AnnotationFormatError), str(path))
