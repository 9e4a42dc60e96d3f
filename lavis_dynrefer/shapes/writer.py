"""Generating a whole shapes-world dataset: images, annotation files, vocabulary and tags.

Every image has its own generator seeded by ``(seed, split stream, image index)``, so the
splits are independent streams, any image can be regenerated alone, and the output does not
depend on the number of worker processes: the same seed gives byte-identical files.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from lavis_dynrefer.data.converters.common import (
    build_region_file,
    image_record,
    region_record,
    write_region_file,
)
from lavis_dynrefer.data.tag_list import write_tag_list
from lavis_dynrefer.shapes.attributes import attribute_labels, attribute_records, frequency_sets
from lavis_dynrefer.shapes.captions import Caption, choose_captions
from lavis_dynrefer.shapes.facts import ObjectFacts, build_facts
from lavis_dynrefer.shapes.language import own_tags, tag_list, vocabulary
from lavis_dynrefer.shapes.render import render_scene
from lavis_dynrefer.shapes.scene import SHAPE_NAMES, sample_scene

logger = logging.getLogger(__name__)

SPLIT_STREAMS = {"train": 0, "val": 1, "test": 2}
IMAGE_FOLDER = "images"
CATEGORY_IDS = {name: i + 1 for i, name in enumerate(SHAPE_NAMES)}
PNG_COMPRESSION = 1
README_NAME, VOCAB_NAME, TAGS_NAME = "README.txt", "vocab.txt", "tags.txt"


def annotation_file_name(split: str) -> str:
    return f"{split}_regions.json"


def image_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of one image: independent across seeds, splits and indices."""
    return np.random.default_rng([seed, SPLIT_STREAMS[split], index])


@dataclasses.dataclass(frozen=True)
class ImageJob:
    """Which image to make, and the folder its PNG goes under (``<folder>/<file_name>``)."""

    seed: int
    split: str
    index: int
    size: int
    image_dir: str

    @property
    def file_name(self) -> str:
        return f"{self.split}/{self.index:06d}.png"


@dataclasses.dataclass(frozen=True)
class GeneratedImage:
    """One written image and its regions (ids not assigned yet; relation targets as indices)."""

    file_name: str
    size: int
    regions: list[dict[str, Any]]


def _extra_info(obj: ObjectFacts, caption: Caption, unique: bool) -> dict[str, Any]:
    relation = None
    if caption.relation is not None:
        relation = {"word": caption.relation, "target_index": caption.anchor}
    return {
        "phrases": list(caption.phrases),
        "tags": own_tags(obj.shape, obj.color, obj.size, obj.fill, obj.row, obj.column),
        "kind": caption.kind,
        "needs_context": caption.needs_context, "referring": caption.referring,
        "unique": unique, "shape": obj.shape, "color": obj.color, "size": obj.size,
        "fill": obj.fill, "position": obj.position, "relation": relation,
        "center": [obj.cx, obj.cy], "radius": obj.radius, "rgb": list(obj.rgb),
        "visible": obj.visible, "depth": obj.index,
        # Drawing indices here; region_file turns them into annotation ids.
        "in_front_of": sorted(obj.above), "behind": sorted(obj.below),
    }


def make_image(seed: int, split: str, index: int, size: int
               ) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Sample, render, caption and label one image, in memory.

    Returns:
        The [size, size, 3] uint8 pixels and one region dict per object (drawing order; ids
        not assigned yet, relation targets and overlaps as drawing indices).
    """
    rng = image_rng(seed, split, index)
    scene = sample_scene(rng, size)
    rendered = render_scene(scene)
    objects = build_facts(scene, rendered)
    captions = choose_captions(objects, size, rng)
    labels = attribute_labels(objects, size, rng)
    texts = [caption.text for caption in captions]
    regions = [
        {"bbox": list(obj.box), "caption": caption.text,
         "category_id": CATEGORY_IDS[obj.shape], "att_vec": att_vec,
         "extra_info": _extra_info(obj, caption, unique=texts.count(caption.text) == 1)}
        for obj, caption, att_vec in zip(objects, captions, labels, strict=True)
    ]
    return rendered.image, regions


def generate_image(job: ImageJob) -> GeneratedImage:
    """``make_image`` and write its PNG."""
    pixels, regions = make_image(job.seed, job.split, job.index, job.size)
    path = Path(job.image_dir) / job.file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    # Level 1: a third of level 6's time per image for 10 % more bytes (noise backgrounds).
    Image.fromarray(pixels).save(path, format="PNG", compress_level=PNG_COMPRESSION)
    return GeneratedImage(file_name=job.file_name, size=job.size, regions=regions)


def generate_split(jobs: Sequence[ImageJob], workers: int = 1, desc: str = "images"
                   ) -> list[GeneratedImage]:
    """Run ``generate_image`` over ``jobs`` (in order), in ``workers`` processes."""
    if workers <= 1 or len(jobs) < 2:
        results: Iterator[GeneratedImage] = map(generate_image, jobs)
        return list(tqdm(results, total=len(jobs), desc=desc, unit="img"))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = pool.map(generate_image, jobs, chunksize=max(1, len(jobs) // (8 * workers)))
        return list(tqdm(results, total=len(jobs), desc=desc, unit="img"))


def region_file(images: Sequence[GeneratedImage], freq_sets: Sequence[str], *,
                description: str, image_root: str, first_image_id: int = 1,
                first_annotation_id: int = 1) -> dict[str, Any]:
    """The region annotation file of one split: image ids and annotation ids consecutive, in
    order, from ``first_image_id`` / ``first_annotation_id``."""
    image_records, regions = [], []
    for image_index, image in enumerate(images):
        image_id = first_image_id + image_index
        first_id = len(regions) + first_annotation_id
        image_records.append(image_record(image_id, image.file_name, image.size, image.size))
        for region in image.regions:
            extra = dict(region["extra_info"])
            for key in ("in_front_of", "behind"):
                extra[key] = [first_id + index for index in extra[key]]
            if extra["relation"] is not None:
                target = extra["relation"]["target_index"]
                extra["relation"] = {"word": extra["relation"]["word"],
                                     "target_id": first_id + target}
            regions.append(region_record(len(regions) + first_annotation_id, image_id,
                                         region["bbox"],
                                         region["caption"], extra,
                                         category_id=region["category_id"],
                                         att_vec=region["att_vec"]))
    categories = [{"id": i, "name": name} for name, i in CATEGORY_IDS.items()]
    return build_region_file(image_records, regions, description=description,
                             image_root=image_root, categories=categories,
                             attributes=attribute_records(freq_sets))


README_TEXT = """\
Shapes world: a procedurally generated region dataset for DynRefer ({generator}).
Generated with: python -m lavis_dynrefer.shapes --out DIR --seed {seed} --size {size} \\
    --train {train} --val {val} --test {test}

Files
  {{split}}_regions.json  one region annotation file per split (data-and-metrics.md section 1)
                        serving ALL FOUR tasks: every object of every image is one annotation
                        with an XYXY pixel box and
                          caption      region captioning (GT box given) and dense captioning
                                       (all boxes of an image); a referring expression
                          category_id  region recognition (categories = the 8 shape classes)
                          att_vec      attribute detection, OVAD layout: 1 / 0 / -1 (unknown),
                                       position i = attribute id i of "attributes"
                          extra_info   phrases (control words), tags (the object's own
                                       shape, colour, size, fill and position words: the
                                       tagging targets), the caption kind
                                       (plain, position, relation, superlative, count), whether
                                       it needs context outside the box, is referring and
                                       unique in its image, and the object's facts (shape,
                                       color, size, fill, position, relation target id, centre,
                                       radius, rgb, visible fraction, drawing depth, ids
                                       of the objects it overlaps in front of / behind)
  images/{{split}}/NNNNNN.png  the images ({size}x{size} RGB)
  vocab.txt             every word any caption uses, one per line (word-level tokenizer)
  tags.txt              the tag vocabulary, one tag per line (tagging decoder)

dataset.image_root is "{image_root}"{root_note};
images[].file_name is relative to it.
attributes[].freq_set: thirds by positive count in the {freq_source} (head, medium, tail).
Same seed and counts -> byte-identical files; train / val / test are independent streams.
"""


def write_readme(out: Path, counts: Mapping[str, int], *, seed: int, size: int,
                 image_root: str, freq_source: str) -> Path:
    note = "" if os.path.isabs(image_root) else ", relative to the folder of the json files"
    text = README_TEXT.format(generator=__package__, seed=seed, size=size,
                              image_root=image_root, root_note=note, freq_source=freq_source,
                              **{split: counts.get(split, 0) for split in SPLIT_STREAMS})
    path = out / README_NAME
    path.write_text(text, encoding="utf-8")
    return path


def _log_caption_stats(split: str, regions: Sequence[Mapping[str, Any]]) -> None:
    def share(key: str) -> float:
        return 100.0 * sum(bool(r["extra_info"][key]) for r in regions) / max(len(regions), 1)

    logger.info("%s captions: %.0f %% need context, %.0f %% referring, %.0f %% unique in their "
                "image", split, share("needs_context"), share("referring"), share("unique"))


def write_dataset(out: str | os.PathLike, *, seed: int = 0, counts: Mapping[str, int],
                  size: int = 224, workers: int = 1, absolute_root: bool = False
                  ) -> dict[str, Path]:
    """Generate every split with a positive count, and the vocabulary, tags and README.

    Args:
        out: the output folder (created).
        seed: the dataset seed (non-negative).
        counts: images per split, keys among ``SPLIT_STREAMS``.
        size: image side in pixels.
        workers: processes rendering images; the output does not depend on it.
        absolute_root: store the absolute image folder as ``dataset.image_root`` instead of the
            folder relative to ``out`` (then the files name the machine's path).

    Returns:
        Name -> path of every file written besides the images.
    """
    unknown = set(counts) - set(SPLIT_STREAMS)
    if unknown or seed < 0 or size < 32:
        raise ValueError(f"bad arguments: splits {sorted(unknown)}, seed {seed}, size {size}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    image_dir = out / IMAGE_FOLDER
    image_root = str(image_dir.resolve()) if absolute_root else IMAGE_FOLDER
    generated = {
        split: generate_split([ImageJob(seed, split, i, size, str(image_dir))
                               for i in range(counts[split])], workers, desc=split)
        for split in SPLIT_STREAMS if counts.get(split, 0) > 0
    }
    freq_source = "train split" if "train" in generated else "generated splits"
    source = [generated["train"]] if "train" in generated else list(generated.values())
    freq_sets = frequency_sets(region["att_vec"] for images in source for image in images
                               for region in image.regions)
    written: dict[str, Path] = {}
    for split, images in generated.items():
        data = region_file(images, freq_sets, description=f"shapes world {split}",
                           image_root=image_root)
        data["dataset"].update({"generator": __package__, "seed": seed, "split": split,
                                "image_size": size})
        written[split] = write_region_file(data, out / annotation_file_name(split))
        _log_caption_stats(split, [region for image in images for region in image.regions])
    written["vocab"] = out / VOCAB_NAME
    written["vocab"].write_text("\n".join(vocabulary()) + "\n", encoding="utf-8")
    written["tags"] = write_tag_list(tag_list(), out / TAGS_NAME)
    written["readme"] = write_readme(out, counts, seed=seed, size=size, image_root=image_root,
                                     freq_source=freq_source)
    return written
