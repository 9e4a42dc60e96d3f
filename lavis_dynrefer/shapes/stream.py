"""Training scenes generated on demand: every epoch sees scenes no epoch saw before.

The generator is cheap (about 3 ms a scene, less than rendering its views), so instead of
repeating a fixed training split, ``GeneratedSceneDataset`` makes scene ``epoch * N + i`` of the
training stream when asked for item ``i`` of epoch ``epoch`` (N = ``scenes_per_epoch``). The
training stream is the one ``python -m lavis_dynrefer.shapes`` writes its train split from, so
validation and test scenes (their own streams) are never trained on, and a run is a pure function
of its seed: resuming at epoch ``e`` regenerates epoch ``e``'s scenes exactly.

An item is one scene: the sample of all its regions (``region_dataset.region_sample``), so a
batch of B items holds the regions of B scenes (3-7 each), and the region-text loss contrasts
regions of the same scene with each other, as the context captions need.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PIL import Image
from torch.utils.data import Dataset

from lavis_dynrefer.data.annotations import RegionAnnotationFile, parse_region_annotations
from lavis_dynrefer.datasets.region_dataset import collate_regions, region_sample
from lavis_dynrefer.shapes.attributes import ATTRIBUTES
from lavis_dynrefer.shapes.writer import GeneratedImage, make_image, region_file

# Room for every object of a scene (at most MAX_OBJECTS) between two scenes' first annotation ids.
ANNOTATION_ID_STRIDE = 100
# freq_set only groups attributes for scoring; training never reads it.
_UNSCORED_FREQ_SETS = ("head",) * len(ATTRIBUTES)


def generated_scene(seed: int, index: int, size: int) -> tuple[Image.Image, RegionAnnotationFile]:
    """Scene ``index`` of the training stream of ``seed``, as an image and a one-image file.

    Its image id is ``index + 1`` and its annotation ids ``(index + 1) * ANNOTATION_ID_STRIDE + k``,
    so the scenes of a batch never share an id."""
    pixels, regions = make_image(seed, "train", index, size)
    data = region_file([GeneratedImage(file_name=f"train/{index:06d}.png", size=size,
                                       regions=regions)],
                       _UNSCORED_FREQ_SETS, description="generated scene", image_root="",
                       first_image_id=index + 1,
                       first_annotation_id=(index + 1) * ANNOTATION_ID_STRIDE)
    return Image.fromarray(pixels), parse_region_annotations(data, f"generated scene {index}")


class GeneratedSceneDataset(Dataset):
    """``scenes_per_epoch`` fresh shapes scenes per epoch, one scene per item.

    Args:
        vis_processor: ``MultiViewProcessor`` (training mode: random extra views).
        text_processor: applied to captions (``None`` keeps them).
        seed: the dataset seed (the ``--seed`` of ``python -m lavis_dynrefer.shapes``).
        scenes_per_epoch: N, items per epoch.
        size: image side in pixels.
    """

    def __init__(self, vis_processor: Callable, text_processor: Callable | None = None, *,
                 seed: int = 0, scenes_per_epoch: int = 2000, size: int = 224):
        if scenes_per_epoch < 1 or seed < 0 or size < 32:
            raise ValueError(f"need scenes_per_epoch >= 1, seed >= 0 and size >= 32, got "
                             f"{scenes_per_epoch}, {seed} and {size}")
        self.vis_processor = vis_processor
        self.text_processor = text_processor
        self.seed = seed
        self.scenes_per_epoch = scenes_per_epoch
        self.size = size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Serve epoch ``epoch``'s scenes (the runner calls this before each epoch's pass)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.scenes_per_epoch

    def scene_index(self, index: int) -> int:
        """The training-stream index of item ``index`` in the current epoch."""
        if not 0 <= index < self.scenes_per_epoch:
            raise IndexError(f"item {index} outside 0..{self.scenes_per_epoch - 1}")
        return self.epoch * self.scenes_per_epoch + index

    def _caption(self, caption: str) -> str:
        return self.text_processor(caption) if self.text_processor else caption

    def __getitem__(self, index: int) -> dict[str, Any]:
        scene = self.scene_index(index)
        image, annotations = generated_scene(self.seed, scene, self.size)
        return region_sample(image, annotations.annotations, self.vis_processor, self._caption,
                             f"generated scene {scene} (seed {self.seed})")

    def collater(self, samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """LAVIS calls ``dataset.collater`` as the DataLoader's collate_fn."""
        return collate_regions(samples)
