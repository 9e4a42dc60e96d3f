"""``python ddp_step_worker.py OUT`` (one process) or under ``torchrun --nproc_per_node=2``:
forward + backward of the DynRefer tiny model on fixed global batches, saving loss and gradients.

Each step's global batch is the first ``sum(sizes)`` regions of a fixed list; under torchrun,
rank r takes the r-th block of ``sizes`` and the model is wrapped in DDP exactly as the runner
wraps it (gloo, ``find_unused_parameters=False``). Rank 0 (or the single process) writes
``OUT/step<k>.pt`` = {"sizes", "loss" (rank mean of every loss part), "grads" (name -> grad,
DDP-averaged)}. Nothing is stepped, so every step sees the same weights. Dropout is switched
off and control words are always dropped (``control_drop_all_p = 1``): with them the ranks
would draw different random numbers than one process does.
"""

import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from lavis.models import load_model_and_preprocess
from omegaconf import OmegaConf
from PIL import Image
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from lavis_dynrefer import DynReferModel
from lavis_dynrefer.paths import asset_path, config_path

#: Per-rank batch sizes of each step: equal, then a smaller last batch on rank 1.
STEPS = [(2, 2), (3, 2)]
BOXES = [[150, 40, 320, 220], [0, 0, 100, 100], [300, 300, 420, 510], [200, 100, 230, 130],
         [10, 400, 500, 500]]
CAPTIONS = ["a red car", "the sky", "a white circle", "blue square left of car", "the road"]
TAGS = [["red", "car"], ["sky"], ["white", "circle"], [], ["road"]]


def build_model() -> DynReferModel:
    """The tiny model with every tower trained (so both gathered sides carry gradient)."""
    cfg = OmegaConf.load(config_path("models/dynrefer_tiny.yaml")).model
    cfg.frozen = []
    cfg.language.control_drop_all_p = 1.0
    torch.manual_seed(0)
    model = DynReferModel.from_config(cfg)
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        if isinstance(getattr(module, "dropout", None), float):  # T5's attention dropout
            module.dropout = 0.0
    return model.train()


def global_batch(vis, total: int) -> dict:
    views = vis["eval"](Image.open(asset_path("astronaut.jpg")), BOXES[:total])
    return {"image": views.images, "region_boxes": views.boxes,
            "caption": CAPTIONS[:total], "tags": TAGS[:total]}


def local_part(samples: dict, start: int, stop: int) -> dict:
    return {key: value[start:stop] for key, value in samples.items()}


def main(out: Path) -> None:
    distributed = "RANK" in os.environ
    if distributed:
        dist.init_process_group("gloo")
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    _, vis, _ = load_model_and_preprocess("dynrefer", "tiny", is_eval=True, device="cpu")
    model = build_model()
    net = DDP(model, find_unused_parameters=False) if distributed else model
    for step, sizes in enumerate(STEPS):
        samples = global_batch(vis, sum(sizes))
        if distributed:
            assert len(sizes) == world, (sizes, world)
            start = sum(sizes[:rank])
            samples = local_part(samples, start, start + sizes[rank])
        model.zero_grad(set_to_none=True)
        losses = net(samples)
        losses["loss"].backward()
        parts = torch.stack([losses[k].detach() for k in sorted(losses)])
        if distributed:
            dist.all_reduce(parts)
            parts /= world
        if rank == 0:
            torch.save({"sizes": sizes, "loss": dict(zip(sorted(losses), parts.tolist())),
                        "grads": {n: p.grad.clone() for n, p in model.named_parameters()
                                  if p.requires_grad and p.grad is not None},
                        "trainable": [n for n, p in model.named_parameters() if p.requires_grad]},
                       out / f"step{step}.pt")
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
