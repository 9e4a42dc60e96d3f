"""Data loaders for the DynRefer runner: LAVIS's loaders without their CUDA and timing quirks.

LAVIS's ``RunnerBase.create_loaders`` wraps every map-style loader in ``PrefetchLoader`` (which
creates a ``torch.cuda.Stream`` in its constructor: CPU failure 2) and every training loader in
``IterLoader`` (which sleeps 2 s at each epoch boundary and numbers epochs by how often it ran
dry, so a resumed run replays epoch 0's sampler order). Here the prefetcher is used only on
CUDA, and the training loader is restarted explicitly at each epoch by the runner.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import webdataset as wds
from lavis.common.dist_utils import get_rank, get_world_size
from lavis.datasets.datasets.dataloader_utils import MultiIterLoader, PrefetchLoader
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from torch.utils.data.dataset import ChainDataset

logger = logging.getLogger(__name__)


class EpochLoader:
    """An endless iterator over a loader whose order is a function of the epoch number.

    ``set_epoch(e)`` tells a ``DistributedSampler`` the epoch (LAVIS's ``IterLoader`` did this
    only in distributed runs and from its own counter) and starts a fresh pass, so epoch ``e``
    sees the same batches whether the run started at epoch 0 or resumed at ``e``. Running dry
    mid-epoch (iteration-based training) starts the next pass at once: no 2-s sleep.

    Args:
        loader: a ``DataLoader`` or a ``PrefetchLoader`` around one.
    """

    def __init__(self, loader: DataLoader | PrefetchLoader):
        self._loader = loader
        self._epoch = 0
        self._iterator: Iterator[Any] | None = None

    @property
    def epoch(self) -> int:
        """The epoch whose pass is running."""
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Start the pass of ``epoch`` (drops whatever is left of the current pass).

        A dataset with ``set_epoch`` (generated data, ``shapes.stream``) is told the epoch too,
        before the workers are started with their copy of it.
        """
        self._epoch = epoch
        # A PrefetchLoader (CUDA) keeps the DataLoader as ``loader``.
        loader = getattr(self._loader, "loader", self._loader)
        sampler = getattr(loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        dataset = getattr(loader, "dataset", None)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        self._iterator = iter(self._loader)

    def __next__(self) -> Any:
        if self._iterator is None:
            self.set_epoch(self._epoch)
        try:
            return next(self._iterator)
        except StopIteration:
            self.set_epoch(self._epoch + 1)
            return next(self._iterator)

    def __iter__(self) -> EpochLoader:
        return self

    def __len__(self) -> int:
        return len(self._loader)


def set_loader_epoch(loader: Any, epoch: int) -> None:
    """Start epoch ``epoch`` on a training loader, including each loader of a MultiIterLoader."""
    for inner in getattr(loader, "loaders", [loader]):
        if isinstance(inner, EpochLoader):
            inner.set_epoch(epoch)


def create_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    num_workers: int,
    is_train: bool,
    collate_fn: Callable | None,
    distributed: bool,
    use_dist_eval_sampler: bool,
    cuda: bool,
) -> Any:
    """One split's loader, as ``RunnerBase.create_loaders._create_loader`` builds it.

    Differences from LAVIS: ``pin_memory`` and the CUDA prefetcher only when ``cuda``, and
    ``EpochLoader`` instead of ``IterLoader`` for training.
    """
    if isinstance(dataset, ChainDataset | wds.DataPipeline):
        # webdataset pipelines bring their own sampling and collation (as in LAVIS).
        return iter(DataLoader(dataset, batch_size=batch_size, num_workers=num_workers,
                               pin_memory=cuda))
    sampler = None
    if distributed and (is_train or use_dist_eval_sampler):
        sampler = DistributedSampler(dataset, shuffle=is_train, num_replicas=get_world_size(),
                                     rank=get_rank())
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=num_workers,
        pin_memory=cuda,
        sampler=sampler,
        shuffle=sampler is None and is_train,
        collate_fn=collate_fn,
        drop_last=is_train,
    )
    if cuda:
        loader = PrefetchLoader(loader)
    return EpochLoader(loader) if is_train else loader


def create_loaders(
    datasets: Sequence[Any],
    batch_sizes: Sequence[int],
    is_trains: Sequence[bool],
    collate_fns: Sequence[Any],
    dataset_ratios: Sequence[float] | None,
    **kwargs: Any,
) -> list[Any]:
    """Loaders for every split; a tuple/list of datasets becomes a ``MultiIterLoader`` (LAVIS).

    Args:
        datasets: one dataset, or a tuple of datasets sampled by ``dataset_ratios``, per split.
        batch_sizes, is_trains, collate_fns: per split, as LAVIS passes them.
        dataset_ratios: sampling ratios for tuple splits, or None for uniform.
        **kwargs: ``num_workers``, ``distributed``, ``use_dist_eval_sampler``, ``cuda``.
    """
    loaders = []
    for dataset, bsz, is_train, collate_fn in zip(datasets, batch_sizes, is_trains, collate_fns):
        if isinstance(dataset, list | tuple):
            loaders.append(MultiIterLoader(
                loaders=[create_loader(d, batch_size=bsz, is_train=is_train,
                                       collate_fn=collate_fn[i], **kwargs)
                         for i, d in enumerate(dataset)],
                ratios=dataset_ratios,
            ))
        else:
            loaders.append(create_loader(dataset, batch_size=bsz, is_train=is_train,
                                         collate_fn=collate_fn, **kwargs))
    return loaders
