"""LAVIS dataset builders of the region datasets; they read local files and never download.

Each builder's default yaml (``lavis_dynrefer/configs/datasets/<name>/defaults.yaml``) names
annotation files per split and the image folder. LAVIS merges a user's ``datasets:`` section over
it, so a default split can only be dropped by setting it to null. Relative paths are taken from
the current working directory (LAVIS would join them to its cache folder). A missing file is an
error that names it and the converter command that produces it.

Besides LAVIS's own keys, a dataset section takes the options of ``RegionDatasetOptions``
(``max_regions_per_sample``); any other key is a ``ConfigError`` naming it, with the closest
option for a misspelling.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os

from lavis.common.registry import registry
from lavis.datasets.builders.base_dataset_builder import BaseDatasetBuilder
from torch.utils.data import Dataset

from lavis_dynrefer import names
from lavis_dynrefer.data.annotations import (
    RegionAnnotation,
    RegionAnnotationFile,
    load_region_annotations,
)
from lavis_dynrefer.datasets.region_dataset import DEFAULT_MAX_REGIONS_PER_SAMPLE, RegionDataset
from lavis_dynrefer.paths import config_path
from lavis_dynrefer.typed_config import ConfigError, FieldError, from_mapping

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
# Keys LAVIS itself reads from a ``datasets.<name>`` section (``type`` picks its default yaml).
LAVIS_DATASET_KEYS = ("data_type", "build_info", "vis_processor", "text_processor", "type",
                      "dataset_card")


@dataclasses.dataclass(frozen=True)
class RegionDatasetOptions:
    """The plugin's keys of a ``datasets.<name>`` section.

    Attributes:
        max_regions_per_sample: at most this many regions of one image per eval (``val`` /
            ``test``) sample; an image with more becomes several samples. Bounds the memory of
            an eval sample's views (about 1.8 MB per region at S = 224, V = 3) and of an eval
            batch (``run.batch_size_eval`` samples). Training samples are one region each.
    """

    max_regions_per_sample: int = DEFAULT_MAX_REGIONS_PER_SAMPLE

    def __post_init__(self) -> None:
        if self.max_regions_per_sample < 1:
            raise FieldError(type(self).__name__, "max_regions_per_sample",
                             f"must be >= 1, got {self.max_regions_per_sample}")


@dataclasses.dataclass(frozen=True)
class DenseCapOptions(RegionDatasetOptions):
    """Dense captioning's keys besides ``max_regions_per_sample``.

    Attributes:
        proposals: a detection-results file (COCO's format, or GRiT's
            ``vg_instances_results.json``) whose boxes are captioned in place of the GT boxes
            in ``val`` / ``test`` (the predicted-box protocol; ``datasets.proposals``).
        proposals_per_image: at most this many of an image's proposals, best scores first
            (None: all).
    """

    proposals: str | None = None
    proposals_per_image: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.proposals_per_image is not None and self.proposals_per_image < 1:
            raise FieldError(type(self).__name__, "proposals_per_image",
                             f"must be >= 1, got {self.proposals_per_image}")


class RegionDatasetBuilder(BaseDatasetBuilder):
    """Builds ``RegionDataset`` splits: region-level ``train``, image-level ``val``/``test``.

    Subclasses only set their registered ``NAME``, their default config and the converter that
    makes their files.
    """

    NAME = "region dataset"  # the registered name, for messages
    CONVERTER = "python -m lavis_dynrefer.data.converters"
    OPTIONS: type[RegionDatasetOptions] = RegionDatasetOptions

    def options(self) -> RegionDatasetOptions:
        """The plugin's keys of this dataset's config section, typed and checked.

        Raises:
            ConfigError: an unknown key (``datasets.<name>: unknown key ...``) or a bad value
                (``datasets.<name>.max_regions_per_sample: must be >= 1, got 0``).
        """
        where = f"datasets.{self.NAME}"
        # LAVIS's keys take part in the suggestion, so 'vis_procesor' is told 'vis_processor'.
        known = [*LAVIS_DATASET_KEYS, *(f.name for f in dataclasses.fields(self.OPTIONS))]
        for key in self.config.keys():
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(f"{where}: unknown key {key!r}{hint}; known keys: "
                                  f"{', '.join(sorted(known))}")
        return from_mapping(self.OPTIONS, self.config, where, ignore=LAVIS_DATASET_KEYS)

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

    def eval_regions(self, options: RegionDatasetOptions, annotations: RegionAnnotationFile
                     ) -> list[RegionAnnotation] | None:
        """The regions an eval split describes in place of its GT boxes; None: the GT boxes."""
        return None

    def build(self) -> dict[str, Dataset]:
        options = self.options()
        self.build_processors()
        return self.build_files(options)

    def build_files(self, options: RegionDatasetOptions) -> dict[str, Dataset]:
        """A ``RegionDataset`` per split named under ``build_info.annotations``."""
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
                max_regions_per_sample=options.max_regions_per_sample,
                eval_regions=None if is_train else self.eval_regions(options, annotations),
            )
            logger.info("%s %s: %d samples from %s", type(self).__name__, split,
                        len(datasets[split]), ann_path)
        return datasets


def _defaults(name: str) -> dict[str, str]:
    return {"default": config_path(f"datasets/{name}/defaults.yaml")}


@registry.register_builder(names.DATASET_VG_DENSECAP)
class VGDenseCapBuilder(RegionDatasetBuilder):
    """Visual Genome dense captioning (v1.0, v1.2 or VG-COCO files from the ``vg`` converter)."""

    NAME = names.DATASET_VG_DENSECAP
    DATASET_CONFIG_DICT = _defaults(NAME)
    CONVERTER = "python -m lavis_dynrefer.data.converters.vg"
    OPTIONS = DenseCapOptions

    def eval_regions(self, options: DenseCapOptions, annotations: RegionAnnotationFile
                     ) -> list[RegionAnnotation] | None:
        """The ``proposals`` file's boxes (``datasets.proposals``), if one is set."""
        if options.proposals is None:
            return None
        from lavis_dynrefer.datasets.proposals import proposal_regions

        path = os.path.abspath(os.path.expanduser(options.proposals))
        if not os.path.isfile(path):
            raise FileNotFoundError(f"datasets.{self.NAME}.proposals: no such file: {path} (a "
                                    "detection-results list: GRiT's vg_instances_results.json "
                                    "or COCO's format)")
        return proposal_regions(annotations, path, options.proposals_per_image)


@registry.register_builder(names.DATASET_VG_REG)
class VGRegBuilder(RegionDatasetBuilder):
    """Visual Genome region captioning (GLaMM's single-region VG test set by default)."""

    NAME = names.DATASET_VG_REG
    DATASET_CONFIG_DICT = _defaults(NAME)
    CONVERTER = "python -m lavis_dynrefer.data.converters.glamm_vg"


@registry.register_builder(names.DATASET_REFCOCOG_REG)
class RefCOCOgRegBuilder(RegionDatasetBuilder):
    """RefCOCOg (umd) region captioning, one region per referring expression."""

    NAME = names.DATASET_REFCOCOG_REG
    DATASET_CONFIG_DICT = _defaults(NAME)
    CONVERTER = "python -m lavis_dynrefer.data.converters.refcocog"


@registry.register_builder(names.DATASET_OVAD)
class OVADBuilder(RegionDatasetBuilder):
    """OVAD box-given attribute detection."""

    NAME = names.DATASET_OVAD
    DATASET_CONFIG_DICT = _defaults(NAME)
    CONVERTER = "python -m lavis_dynrefer.data.converters.ovad"


@registry.register_builder(names.DATASET_COCO_RECOGNITION)
class COCORecognitionBuilder(RegionDatasetBuilder):
    """COCO val2017 region recognition on ground-truth boxes."""

    NAME = names.DATASET_COCO_RECOGNITION
    DATASET_CONFIG_DICT = _defaults(NAME)
    CONVERTER = "python -m lavis_dynrefer.data.converters.coco"


@registry.register_builder(names.DATASET_SHAPES)
class ShapesBuilder(RegionDatasetBuilder):
    """The generated shapes world (all four tasks from one file per split)."""

    NAME = names.DATASET_SHAPES
    DATASET_CONFIG_DICT = _defaults(NAME)
    CONVERTER = "python -m lavis_dynrefer.shapes --out data/shapes"


@dataclasses.dataclass(frozen=True)
class GeneratedShapesOptions(RegionDatasetOptions):
    """``shapes_generated``'s keys besides ``max_regions_per_sample``.

    Attributes:
        seed: the world's seed (training scenes come from its training stream).
        scenes_per_epoch: training scenes (items) per epoch, new ones every epoch.
        image_size: side of the generated images in pixels (the val/test files' size).
    """

    seed: int = 0
    scenes_per_epoch: int = 2000
    image_size: int = 224

    def __post_init__(self) -> None:
        super().__post_init__()
        for key, low in (("seed", 0), ("scenes_per_epoch", 1), ("image_size", 32)):
            if getattr(self, key) < low:
                raise FieldError(type(self).__name__, key,
                                 f"must be >= {low}, got {getattr(self, key)}")


@registry.register_builder(names.DATASET_SHAPES_GENERATED)
class GeneratedShapesBuilder(RegionDatasetBuilder):
    """The shapes world with a training split generated on the fly (``shapes.stream``): every
    epoch sees new scenes. ``val`` / ``test`` are files, as for ``shapes``."""

    NAME = names.DATASET_SHAPES_GENERATED
    DATASET_CONFIG_DICT = _defaults(NAME)
    CONVERTER = "python -m lavis_dynrefer.shapes --out data/shapes"
    OPTIONS = GeneratedShapesOptions

    def build_files(self, options: GeneratedShapesOptions) -> dict[str, Dataset]:
        from lavis_dynrefer.shapes.stream import GeneratedSceneDataset

        if self.config.build_info.annotations.get("train") is not None:
            raise ConfigError(f"datasets.{self.NAME}.build_info.annotations.train: the training "
                              "split is generated; use the 'shapes' dataset to train on a file")
        datasets = super().build_files(options)
        datasets["train"] = GeneratedSceneDataset(
            self.vis_processors["train"], self.text_processors["train"], seed=options.seed,
            scenes_per_epoch=options.scenes_per_epoch, size=options.image_size)
        return datasets


@registry.register_builder(names.DATASET_GROUNDING)
class GroundingBuilder(RegionDatasetBuilder):
    """Grounding files (``grounding.formats``) for evaluation splits: one ``GroundingDataset``
    per split; the images come from ``build_info.images.storage`` or the file's
    ``image_root`` (relative to the file)."""

    NAME = names.DATASET_GROUNDING
    CONVERTER = ("python -m lavis_dynrefer.data.converters.grounding (or, for the shapes world, "
                 "python -m lavis_dynrefer.shapes.grounding)")
    DATASET_CONFIG_DICT = _defaults(NAME)

    def build_files(self, options: RegionDatasetOptions) -> dict[str, Dataset]:
        from lavis_dynrefer.datasets.grounding_dataset import GroundingDataset
        from lavis_dynrefer.grounding.formats import load_grounding

        build_info = self.config.build_info
        image_storage = build_info.get("images", {}).get("storage")
        datasets = {}
        for split, info in build_info.annotations.items():
            if info is None:
                continue
            if split == "train":
                raise ValueError(f"{type(self).__name__}: grounding files are for evaluation; "
                                 "drop the train split (build_info.annotations.train: null)")
            storage = info.get("storage") if isinstance(info.get("storage"), str) else None
            if storage is None:
                raise ValueError(f"{type(self).__name__}: {split}.storage must be one file path")
            path = self._resolve(storage, "grounding file", split)
            grounding = load_grounding(path)
            root = image_storage or (os.path.join(os.path.dirname(path), grounding.image_root)
                                     if grounding.image_root is not None else None)
            if root is None:
                raise ValueError(f"{path}: no image folder: set build_info.images.storage or "
                                 "'image_root' in the file")
            datasets[split] = GroundingDataset(grounding, self._resolve(root, "image folder",
                                                                        split),
                                               self.vis_processors["eval"], annotation_path=path)
            logger.info("%s %s: %d images from %s", type(self).__name__, split,
                        len(datasets[split]), path)
        return datasets
