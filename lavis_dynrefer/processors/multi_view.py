"""The registered LAVIS processor: image + boxes -> DynRefer's multi-view input.

Shape letters: R regions, V views, N candidate coefficients, S view side (224).

    image + R boxes --validate/clip--> b [R, 4]
        --b_t for t = 0 and every candidate--> view boxes [R, 1 + N, 4]
        --choose V - 1 extra views (random in training, pHash novelty in eval)--> [R, V, 4]
        --crop, resize S x S (bicubic, aspect not kept), CLIP-normalise--> images [R, V, 3, S, S]
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
import torch
from lavis.common.registry import registry
from lavis.processors.base_processor import BaseProcessor
from PIL import Image

from lavis_dynrefer import names
from lavis_dynrefer.processors.image_io import to_rgb
from lavis_dynrefer.processors.phash import HASH_BITS, ViewHasher
from lavis_dynrefer.processors.threads import chunks, map_in_threads, resolve_threads
from lavis_dynrefer.processors.view_geometry import box_in_view, validate_boxes, view_boxes
from lavis_dynrefer.processors.view_selection import novelty_scores, random_views, top_views
from lavis_dynrefer.typed_config import from_mapping

logger = logging.getLogger(__name__)

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
# (i + 1) / 10 in float64, the release's candidate list, so float32 view boxes match it bit for bit.
DEFAULT_CANDIDATES = tuple((i + 1) / 10 for i in range(10))

_TORCHVISION_MODES = {name: name for name in ("bicubic", "bilinear", "nearest")}

_RESAMPLE = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
}


@dataclass(frozen=True)
class MultiViewConfig:
    """Settings of ``MultiViewProcessor``; the yaml keys are these field names.

    Attributes:
        mode: ``train`` draws the extra views at random; ``eval`` selects them by pHash novelty;
            ``fixed`` takes every candidate (``num_views - 1`` of them), for every region (the
            fixed-context-view ablation).
        num_views: V, including the t = 0 view.
        candidates: coefficients the extra views are chosen from, each in (0, 1].
        image_size: S, the side every view is resized to.
        interpolation: resampling filter of the view resize.
        mean, std: per-channel normalisation after scaling to [0, 1].
        hash: ``release`` (the authors' pHash, default) or ``imagehash`` (``imagehash.phash``).
        box_frame: the referred box in each view's S x S frame: ``release`` (default) as the
            release computes it, integer and truncated (the frame its weights were trained
            on); ``exact`` the fractional box (``view_geometry.box_in_view``).
        fast_hash: hash ``release`` views as one linear map per box (``phash_linear``), the same
            bits as hashing each box through ``cv2.resize`` + ``cv2.dct``; False does the latter.
        renderer: what crops and resizes the views: ``pil`` (default; the release's pixels,
            and those the shapes models were trained on) or ``torchvision`` (v2 ``resize`` of
            the image tensor: ~3x faster, pixels within a few grey levels of PIL's; opt-in).
        view_threads: threads that hash and render the views of one image (the same views and
            pixels); None: up to 4 in the main process, 1 in a DataLoader worker
            (``processors.threads``).
        seed: seeds the training draw when set. Leave ``None`` under a multi-worker DataLoader
            (workers forked with one seeded generator would draw the same views).
    """

    mode: Literal["train", "eval", "fixed"] = "eval"
    num_views: int = 3
    candidates: tuple[float, ...] = DEFAULT_CANDIDATES
    image_size: int = 224
    interpolation: Literal["bicubic", "bilinear", "nearest", "lanczos", "box"] = "bicubic"
    mean: tuple[float, ...] = CLIP_MEAN
    std: tuple[float, ...] = CLIP_STD
    hash: Literal["release", "imagehash"] = "release"
    box_frame: Literal["release", "exact"] = "release"
    fast_hash: bool = True
    renderer: Literal["pil", "torchvision"] = "pil"
    view_threads: int | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.num_views < 1:
            raise ValueError(f"num_views must be >= 1, got {self.num_views}")
        if self.num_views - 1 > len(self.candidates):
            raise ValueError(
                f"num_views={self.num_views} needs at least {self.num_views - 1} candidates, "
                f"got {len(self.candidates)}"
            )
        if self.mode == "fixed" and len(self.candidates) != self.num_views - 1:
            raise ValueError(
                f"mode 'fixed' takes every candidate as an extra view: num_views={self.num_views} "
                f"needs {self.num_views - 1} candidates, got {list(self.candidates)}"
            )
        if any(not 0.0 < t <= 1.0 for t in self.candidates):
            raise ValueError(f"candidates must lie in (0, 1], got {list(self.candidates)}")
        if list(self.candidates) != sorted(set(self.candidates)):
            raise ValueError(
                f"candidates must be strictly increasing (ties go to the smaller t), "
                f"got {list(self.candidates)}"
            )
        if self.image_size < 1:
            raise ValueError(f"image_size must be >= 1, got {self.image_size}")
        if self.view_threads is not None and self.view_threads < 1:
            raise ValueError(f"view_threads must be >= 1 (or null: auto), got "
                             f"{self.view_threads}")
        if self.renderer == "torchvision" and self.interpolation not in _TORCHVISION_MODES:
            raise ValueError(f"renderer 'torchvision' resizes with {sorted(_TORCHVISION_MODES)}, "
                             f"not {self.interpolation!r}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(f"mean and std need 3 values, std > 0; got {self.mean}, {self.std}")


@dataclass
class MultiViewOutput:
    """The processor's output for the R regions of one image.

    Attributes:
        images: [R, V, 3, S, S] float32 normalised view images.
        boxes: [R, V, 4] float32 referred box in each view's S x S frame ((0, 0, S, S) for
            t = 0, up to the release frame's truncation: ``box_frame``).
        ts: [R, V] float32 coefficient of each view (first column 0).
        view_boxes: [R, V, 4] int64 view boxes XYXY in image pixels.
        scores: [R, N] float64 novelty score of every candidate (eval mode), else ``None``.
    """

    images: torch.Tensor
    boxes: torch.Tensor
    ts: torch.Tensor
    view_boxes: torch.Tensor
    scores: torch.Tensor | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain dict, for LAVIS ``samples``."""
        return dataclasses.asdict(self)


@dataclass
class ViewPlan:
    """Chosen views before rendering (numpy; same shapes as ``MultiViewOutput``, ``ts`` float64
    so that they equal the configured candidates exactly)."""

    boxes: np.ndarray
    ts: np.ndarray
    view_boxes: np.ndarray
    scores: np.ndarray | None


@registry.register_processor(names.MULTI_VIEW_PROCESSOR)
class MultiViewProcessor(BaseProcessor):
    """Image + R boxes -> V nested views per region (DynRefer's dynamic resolution input).

    Args:
        config: the settings; ``MultiViewProcessor.from_config`` builds them from yaml.

    Example:
        >>> proc = MultiViewProcessor(MultiViewConfig(mode="eval"))
        >>> out = proc(Image.new("RGB", (64, 48)), [[8, 8, 24, 40]])
        >>> tuple(out.images.shape), tuple(out.ts.shape)
        ((1, 3, 3, 224, 224), (1, 3))
    """

    def __init__(self, config: MultiViewConfig | None = None):
        super().__init__()
        self.config = config or MultiViewConfig()
        self._resample = _RESAMPLE[self.config.interpolation]
        mean = torch.tensor(self.config.mean, dtype=torch.float32).view(3, 1)
        std = torch.tensor(self.config.std, dtype=torch.float32).view(3, 1)
        # x * (1 / 255) as the release's v2 ConvertImageDtype scales (x / 255 differs by one
        # ulp for some x), then (x - mean) / std as its Normalize.
        values = torch.arange(256, dtype=torch.uint8).view(1, 256).float().mul_(1.0 / 255)
        # [3, 256]: each channel's 256 values, applied by cv2.LUT (2x np.take's speed)
        self._table = np.ascontiguousarray(((values - mean) / std).numpy())
        self._generator = (torch.Generator().manual_seed(self.config.seed)
                           if self.config.seed is not None else None)

    @classmethod
    def from_config(cls, cfg: Any = None) -> MultiViewProcessor:
        """Build from a LAVIS yaml section (``name`` is LAVIS's own key and is ignored)."""
        config = from_mapping(MultiViewConfig, cfg, "processor " + names.MULTI_VIEW_PROCESSOR,
                              ignore=("name",))
        return cls(config)

    @property
    def candidates(self) -> np.ndarray:
        """[N] float64 candidate coefficients."""
        return np.asarray(self.config.candidates, np.float64)

    def plan(self, image: Image.Image, boxes: Any, generator: torch.Generator | None = None,
             mode: str | None = None) -> ViewPlan:
        """Choose the views of every region without rendering them.

        Args:
            image: an upright RGB image (see ``image_io.to_rgb``).
            boxes: R boxes XYXY in pixels.
            generator: overrides the configured seed for the training draw.
            mode: overrides the configured mode (``train`` / ``eval`` / ``fixed``).
        """
        mode = mode or self.config.mode
        if mode not in ("train", "eval", "fixed"):
            raise ValueError(f"mode must be 'train', 'eval' or 'fixed', got {mode!r}")
        if mode == "fixed" and len(self.config.candidates) != self.config.num_views - 1:
            raise ValueError(f"mode 'fixed' needs {self.config.num_views - 1} candidates, got "
                             f"{list(self.config.candidates)}")
        width, height = image.size
        clipped = validate_boxes(boxes, width, height)
        num_regions, k = len(clipped), self.config.num_views - 1
        candidates = self.candidates
        base = view_boxes(clipped, [0.0], width, height)[:, 0]  # [R, 4]
        cand = view_boxes(clipped, candidates, width, height)  # [R, N, 4]
        scores = None
        if mode == "fixed":
            chosen = np.tile(np.arange(k), (num_regions, 1))
        elif mode == "train":
            chosen = random_views(num_regions, len(candidates), k,
                                  generator if generator is not None else self._generator)
        else:
            hasher = ViewHasher(image, self.config.hash, fast=self.config.fast_hash,
                                threads=resolve_threads(self.config.view_threads))
            base_hashes = hasher(base)
            cand_hashes = hasher(cand.reshape(-1, 4))
            cand_hashes = cand_hashes.reshape(num_regions, len(candidates), HASH_BITS)
            scores = novelty_scores(base_hashes, cand_hashes, candidates)
            chosen = top_views(scores, k)
            logger.debug("hashed %d distinct view boxes for %d regions", hasher.num_hashed,
                         num_regions)
        extra_boxes = np.take_along_axis(cand, chosen[..., None], axis=1)  # [R, K, 4]
        all_boxes = np.concatenate([base[:, None], extra_boxes], axis=1)  # [R, V, 4]
        ts = np.concatenate([np.zeros((num_regions, 1)), candidates[chosen]], axis=1)
        return ViewPlan(
            boxes=box_in_view(base, all_boxes, self.config.image_size,
                              release=self.config.box_frame == "release"),
            ts=ts,
            view_boxes=all_boxes,
            scores=scores,
        )

    def crop_view(self, image: Image.Image, box: Any) -> Image.Image:
        """One view as a PIL image: crop the view box, resize to S x S (aspect not kept)."""
        size = self.config.image_size
        return image.crop(tuple(int(v) for v in box)).resize((size, size), self._resample)

    def _cropper(self, image: Image.Image) -> Callable[[list[int]], Sequence[np.ndarray]]:
        """box -> the view cropped and resized: 3 planes [S, S] uint8, contiguous
        (``renderer``)."""
        if self.config.renderer == "pil":
            image.load()  # crops from several threads must not race to load the file

            def crop_pil(box: list[int]) -> Sequence[np.ndarray]:
                # cv2.split de-interleaves [S, S, 3] ~3x faster than a numpy transpose copy
                return cv2.split(np.asarray(self.crop_view(image, box)))

            return crop_pil
        from torchvision.transforms import InterpolationMode
        from torchvision.transforms.v2 import functional

        size = [self.config.image_size] * 2
        whole = torch.from_numpy(np.array(image)).permute(2, 0, 1)  # [3, H, W] uint8
        mode = InterpolationMode(_TORCHVISION_MODES[self.config.interpolation])

        def crop_tensor(box: list[int]) -> Sequence[np.ndarray]:
            x1, y1, x2, y2 = box
            return functional.resize(whole[:, y1:y2, x1:x2], size, interpolation=mode,
                                     antialias=True).numpy()

        return crop_tensor

    def render(self, image: Image.Image, view_boxes_: np.ndarray) -> torch.Tensor:
        """Crop, resize and normalise view boxes, each distinct box once.

        ``renderer`` ``pil`` crops and resizes with PIL (``crop_view``), as the release does
        (it hands a PIL crop to v2 ``Resize``, which calls PIL's resize): the release's pixels
        bit for bit (``benchmark.release_loop``). ``torchvision`` resizes the image tensor with
        torchvision v2's antialiased resize instead: about 3x faster, pixels a grey level or so
        off. The normalisation is a per-channel table of the 256 values, made with the release's
        float32 operations (``ConvertImageDtype``'s x * (1/255), then ``Normalize``), so the
        pixels are those values bit for bit, at a third of the memory traffic. The distinct
        views are rendered on ``view_threads`` threads, each filling its own rows.

        Args:
            image: the RGB image.
            view_boxes_: [R, V, 4] int view boxes.

        Returns:
            [R, V, 3, S, S] float32.
        """
        size = self.config.image_size
        num_regions, num_views = view_boxes_.shape[:2]
        flat = np.asarray(view_boxes_).reshape(-1, 4)
        unique, first, inverse = np.unique(flat, axis=0, return_index=True, return_inverse=True)
        pixels = np.empty((len(flat), 3, size, size), np.float32)
        crop = self._cropper(image)
        boxes, rows = unique.tolist(), first.tolist()

        def fill(part: range) -> None:
            for i in part:
                view = crop(boxes[i])
                for channel in range(3):
                    plane = pixels[rows[i], channel]
                    written = cv2.LUT(view[channel], self._table[channel], dst=plane)
                    if written is not plane:  # OpenCV made its own array, not filling ours
                        plane[...] = written

        threads = resolve_threads(self.config.view_threads)
        parts = chunks(len(boxes), threads)
        map_in_threads(lambda k: fill(parts[k]), len(parts), threads)
        source = first[inverse.reshape(-1)]
        repeats = np.flatnonzero(source != np.arange(len(flat)))
        pixels[repeats] = pixels[source[repeats]]
        out = torch.from_numpy(pixels)
        return out.reshape(num_regions, num_views, 3, size, size)

    def __call__(self, image: Image.Image, boxes: Any,
                 generator: torch.Generator | None = None) -> MultiViewOutput:
        """Views of every region of one image.

        Args:
            image: any PIL image (EXIF orientation applied, converted to RGB).
            boxes: R boxes XYXY in pixels of the upright image; clipped to it.
            generator: seeds the training draw for this call.

        Raises:
            ValueError: naming the box index and value of a malformed or empty box.
        """
        image = to_rgb(image)
        plan = self.plan(image, boxes, generator)
        return MultiViewOutput(
            images=self.render(image, plan.view_boxes),
            boxes=torch.from_numpy(plan.boxes),
            ts=torch.from_numpy(plan.ts.astype(np.float32)),
            view_boxes=torch.from_numpy(plan.view_boxes),
            scores=None if plan.scores is None else torch.from_numpy(plan.scores),
        )
