"""Process-group start-up and seeding for the entry points and the runner.

LAVIS's ``init_distributed_mode`` assumes CUDA (``torch.cuda.set_device`` and backend ``nccl``
unconditionally), so ``torchrun`` on CPU machines fails before training starts. This version reads
the same torchrun variables (RANK, WORLD_SIZE, LOCAL_RANK) and picks the backend from
``run.device``: ``nccl`` for CUDA, ``gloo`` for CPU.
"""

from __future__ import annotations

import logging
import os
import random

import numpy as np
import torch
import torch.backends.cudnn as cudnn
import torch.distributed as dist
from lavis.common.dist_utils import get_rank, setup_for_distributed
from omegaconf import DictConfig

logger = logging.getLogger(__name__)


class LaunchError(RuntimeError):
    """A configuration or environment problem, reported to the user as one line."""


def wants_cuda(run_cfg: DictConfig) -> bool:
    """Whether ``run.device`` names CUDA; refuses it when no GPU is visible."""
    device = torch.device(run_cfg.get("device", "cuda"))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise LaunchError("run.device is 'cuda' but no CUDA device is available; "
                          "use --options run.device=cpu")
    return device.type == "cuda"


def init_distributed(run_cfg: DictConfig) -> None:
    """Join the process group torchrun describes, or mark the run as single-process.

    Sets ``run.distributed``, ``run.rank``, ``run.world_size``, ``run.gpu`` and
    ``run.dist_backend`` as LAVIS's ``init_distributed_mode`` does (RunnerBase reads them).

    Args:
        run_cfg: the ``run`` section; ``dist_url`` defaults to ``env://``.
    """
    cuda = wants_cuda(run_cfg)
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        logger.info("Not using distributed mode")
        run_cfg.distributed = False
        return
    rank = int(os.environ["RANK"])
    world_size = int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    backend = "nccl" if cuda else "gloo"
    if cuda:
        torch.cuda.set_device(local_rank)
    dist_url = run_cfg.get("dist_url", "env://")
    logger.info("distributed init (rank %d, world %d, backend %s): %s",
                rank, world_size, backend, dist_url)
    dist.init_process_group(backend=backend, init_method=dist_url, world_size=world_size,
                            rank=rank)
    run_cfg.distributed = True
    run_cfg.rank, run_cfg.world_size, run_cfg.gpu = rank, world_size, local_rank
    run_cfg.dist_backend = backend
    dist.barrier()
    # LAVIS's MetricLogger reports progress with print(); silence it on ranks > 0 as LAVIS does.
    setup_for_distributed(rank == 0)


def shared_job_id(job_id: str) -> str:
    """Rank 0's job id on every rank (each rank's clock may have passed a minute boundary)."""
    if not (dist.is_available() and dist.is_initialized()):
        return job_id
    box = [job_id]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def setup_seeds(seed: int) -> None:
    """LAVIS's ``setup_seeds``: seed + rank, and deterministic cuDNN."""
    seed_everything(seed + get_rank())
    cudnn.benchmark = False
    cudnn.deterministic = True
