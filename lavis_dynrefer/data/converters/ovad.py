"""OVAD (``ovad2000.json``) -> region annotation file for box-given attribute detection.

Input: COCO layout (val2017 images) plus ``attributes[]`` (117 entries: ``id`` 0..A-1, ``name``
``"type:syn1/syn2"``, ``freq_set`` head/medium/tail, and ``type``, ``parent_type``,
``is_has_att``) and, per annotation, ``att_vec``: A labels, 1 positive, 0 negative, -1 ignored,
where position i is the attribute with id i (as OVAD's evaluator reads it).

Output: one region per non-crowd box (XYXY, clipped; empty boxes dropped), caption "",
``att_vec`` and ``category_id`` copied, ``attributes`` sorted by id (every source field kept) and
the source ``categories``. OVAD image and annotation ids are kept.

Usage:
    python -m lavis_dynrefer.data.converters.ovad --ovad ovad2000.json \
        --image-root data/coco/val2017 --out data/ovad/ovad2000_regions.json
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from lavis_dynrefer.data.converters.coco import checked_categories, convert_instances
from lavis_dynrefer.data.converters.common import (
    ConversionError,
    build_region_file,
    require_keys,
    single_file_command,
)

logger = logging.getLogger(__name__)

FREQ_SETS = ("head", "medium", "tail")
ATT_LABELS = frozenset({-1, 0, 1})


def checked_attributes(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """OVAD ``attributes`` sorted by id, after checking ids are 0..A-1 and fields are valid."""
    require_keys(data, ("attributes",), "OVAD")
    attributes = sorted((dict(a) for a in data["attributes"]), key=lambda a: a.get("id", -1))
    for position, attribute in enumerate(attributes):
        where = f"OVAD attribute {attribute.get('id', position)}"
        require_keys(attribute, ("id", "name", "freq_set"), where)
        if attribute["id"] != position:
            raise ConversionError(f"OVAD attribute ids must be 0..{len(attributes) - 1}, "
                                  f"found {attribute['id']} at sorted position {position}")
        if ":" not in attribute["name"]:
            raise ConversionError(f"{where}: name {attribute['name']!r} is not 'type:syn1/syn2'")
        if attribute["freq_set"] not in FREQ_SETS:
            raise ConversionError(f"{where}: freq_set {attribute['freq_set']!r} not in {FREQ_SETS}")
    return attributes


def convert(data: Mapping[str, Any], *, image_root: str | None = None,
            keep_empty_images: bool = False) -> dict[str, Any]:
    """Region annotation file dict from a loaded ``ovad2000.json``."""
    attributes = checked_attributes(data)
    images, regions = convert_instances(data, source="OVAD",
                                        copy_fields=("category_id", "att_vec"))
    for region in regions:
        att_vec = region["att_vec"]
        if len(att_vec) != len(attributes) or not set(att_vec) <= ATT_LABELS:
            raise ConversionError(f"OVAD annotation {region['id']}: att_vec must be "
                                  f"{len(attributes)} values in {{1, 0, -1}}, got {att_vec!r:.120}")
    return build_region_file(images, regions, description="ovad2000", image_root=image_root,
                             categories=checked_categories(data, "OVAD"), attributes=attributes,
                             keep_empty_images=keep_empty_images)


convert_file, build_parser, main = single_file_command(
    convert, what="OVAD annotation file", prog="python -m lavis_dynrefer.data.converters.ovad",
    description="OVAD ovad2000.json -> region annotation file (attribute detection)",
    input_flag="--ovad", input_help="ovad2000.json")


if __name__ == "__main__":
    main()
