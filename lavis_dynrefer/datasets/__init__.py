"""Region datasets and their LAVIS builders (``vg_densecap``, ``vg_reg``, ``refcocog_reg``,
``ovad``, ``coco_recognition``)."""

from lavis_dynrefer.datasets import builders  # noqa: F401  (registers the builders)
from lavis_dynrefer.datasets.region_dataset import RegionDataset, collate_regions

__all__ = ["RegionDataset", "collate_regions"]
