"""LAVIS dataset builders of the region datasets; they read local files and never download.

Each builder's default yaml (``lavis_dynrefer/configs/datasets/<name>/defaults.yaml``) names
annotation files per split and the image folder. LAVIS merges a user's ``datasets:`` section over
it, so a default split can only be dropped by setting it to null. Relative paths are taken from
the current working directory (LAVIS would join them to its cache folder). A missing file is an
error that names it and the converter command that produces it.
"""

from __future__ import annotations

import logging
import os

from lavis.common.registry import registry
from lavis.datasets.builders.base_dataset_builder import BaseDatasetBuilder

from lavis_dynrefer import names
from lavis_dynrefer.data.annotations import load_region_annotations
from lavis_dynrefer.datasets.region_dataset import RegionDataset
from lavis_dynrefer.paths import config_path

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


class RegionDatasetBuilder(BaseDatasetBuilder):
    """Builds ``RegionDataset`` splits: region-level ``train``, image-level ``val``/``test``.

    Subclasses only name their default config and the converter that makes their files.
    """

    CONVERTER = "python -m lavis_dynrefer.data.converters"

    def _download_data(self) -> None:
        """LAVIS downloads missing annotation URLs here; this plugin never downloads."""

    def _resolve(self, path: str, what: str, split: str | None = None) -> str:
        path = os.path.abspath(os.path.expanduser(path))
        if not os.path.exists(path):
            where = f" ({split} split)" if split else ""
            skip = (f", or drop the split with build_info.annotations.{split}: null"
                    if split else "")
            raise FileNotFoundError(
                f"{type(self).__name__}: {what}{where} not found: {path}. Create it with "
                f"`{self.CONVERTER} --help` (see README, 'Data'), or set its path under "
                f"datasets.<name>.build_info in your yaml{skip}."
            )
        return path

    def build(self) -> dict[str, RegionDataset]:
        self.build_processors()
        build_info = self.config.build_info
        image_storage = build_info.get("images", {}).get("storage")
        datasets = {}
        for split, info in build_info.annotations.items():
            if info is None:  # LAVIS merges the default yaml's splits in; null drops one
                continue
            if split not in SPLITS:
                raise ValueError(f"{type(self).__name__}: unknown split {split!r}; "
                                 f"splits are {SPLITS}")
            storage = info.get("storage") if isinstance(info.get("storage"), str) else None
            if storage is None:
                raise ValueError(f"{type(self).__name__}: {split}.storage must be one file path")
            ann_path = self._resolve(storage, "annotation file", split)
            annotations = load_region_annotations(ann_path)
            root = image_storage
            if root is None and annotations.image_root is not None:
                # A relative dataset.image_root in the file is relative to the file's folder.
                root = os.path.join(os.path.dirname(ann_path), annotations.image_root)
            if root is None:
                raise ValueError(f"{ann_path}: no image folder: set build_info.images.storage "
                                 "or dataset.image_root in the file")
            is_train = split == "train"
            datasets[split] = RegionDataset(
                annotations,
                image_root=self._resolve(root, "image folder", split),
                vis_processor=self.vis_processors["train" if is_train else "eval"],
                text_processor=self.text_processors["train"] if is_train else None,
                level="region" if is_train else "image",
                annotation_path=ann_path,
            )
            logger.info("%s %s: %d samples from %s", type(self).__name__, split,
                        len(datasets[split]), ann_path)
        return datasets


def _defaults(name: str) -> dict[str, str]:
    return {"default": config_path(f"datasets/{name}/defaults.yaml")}


@registry.register_builder(names.DATASET_VG_DENSECAP)
class VGDenseCapBuilder(RegionDatasetBuilder):
    """Visual Genome dense captioning (v1.0, v1.2 or VG-COCO files from the ``vg`` converter)."""

    DATASET_CONFIG_DICT = _defaults(names.DATASET_VG_DENSECAP)
    CONVERTER = "python -m lavis_dynrefer.data.converters.vg"


@registry.register_builder(names.DATASET_VG_REG)
class VGRegBuilder(RegionDatasetBuilder):
    """Visual Genome region captioning."""

    DATASET_CONFIG_DICT = _defaults(names.DATASET_VG_REG)
    CONVERTER = "python -m lavis_dynrefer.data.converters.vg"


@registry.register_builder(names.DATASET_REFCOCOG_REG)
class RefCOCOgRegBuilder(RegionDatasetBuilder):
    """RefCOCOg (umd) region captioning, one region per referring expression."""

    DATASET_CONFIG_DICT = _defaults(names.DATASET_REFCOCOG_REG)
    CONVERTER = "python -m lavis_dynrefer.data.converters.refcocog"


@registry.register_builder(names.DATASET_OVAD)
class OVADBuilder(RegionDatasetBuilder):
    """OVAD box-given attribute detection."""

    DATASET_CONFIG_DICT = _defaults(names.DATASET_OVAD)
    CONVERTER = "python -m lavis_dynrefer.data.converters.ovad"


@registry.register_builder(names.DATASET_COCO_RECOGNITION)
class COCORecognitionBuilder(RegionDatasetBuilder):
    """COCO val2017 region recognition on ground-truth boxes."""

    DATASET_CONFIG_DICT = _defaults(names.DATASET_COCO_RECOGNITION)
    CONVERTER = "python -m lavis_dynrefer.data.converters.coco"


@registry.register_builder(names.DATASET_SHAPES)
class ShapesBuilder(RegionDatasetBuilder):
    """The generated shapes world (all four tasks from one file per split)."""

    DATASET_CONFIG_DICT = _defaults(names.DATASET_SHAPES)
    CONVERTER = "python -m lavis_dynrefer.shapes --out data/shapes"
