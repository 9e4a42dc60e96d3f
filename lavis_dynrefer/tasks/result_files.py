"""Writing a split's result file across ranks, and the metrics log.

The result file follows LAVIS's ``BaseTask.save_result``: every rank writes
``<result_dir>/<name>_rank<r>.json``, then the main process concatenates them in rank order into
``<result_dir>/<name>.json``. LAVIS's de-duplication (``remove_duplicate``) keys on one field, which
does not fit dense captioning (``id`` is null for predicted boxes) and is quadratic; here records
are keyed by (image_id, id, bbox) instead.

Why de-duplicate at all: LAVIS's eval loaders use ``DistributedSampler(shuffle=False)``, which pads
the index list with the first indices until it divides by the world size, so with W ranks up to
W - 1 regions are predicted twice (and with ``use_dist_eval_sampler: False`` every rank predicts
every region). A single process sees every region exactly once, so nothing is dropped there: a
dense-captioning proposal file that really holds the same box twice on one image is kept as is.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lavis.common.dist_utils import (
    get_rank,
    get_world_size,
    is_dist_avail_and_initialized,
    is_main_process,
)

logger = logging.getLogger(__name__)

METRICS_LOG = "evaluate.txt"


def region_key(record: Mapping[str, Any]) -> tuple:
    """What makes a record one region: its image, its GT id (or null) and its box."""
    return record["image_id"], record["id"], tuple(record["bbox"])


def merge_rank_results(parts: Iterable[Sequence[dict]], deduplicate: bool) -> list[dict]:
    """Concatenate per-rank records in rank order, keeping the first record of each region."""
    merged, seen, dropped = [], set(), 0
    for part in parts:
        for record in part:
            if deduplicate:
                key = region_key(record)
                if key in seen:
                    dropped += 1
                    continue
                seen.add(key)
            merged.append(record)
    if dropped:
        logger.info("dropped %d repeated regions (distributed sampler padding)", dropped)
    return merged


def _barrier() -> None:
    if is_dist_avail_and_initialized():
        import torch.distributed as dist

        dist.barrier()


def save_results(records: Sequence[dict], result_dir: str | Path | None, name: str) -> Path:
    """Write this rank's records; the main process merges all ranks into ``<name>.json``.

    Args:
        records: this rank's result records.
        result_dir: LAVIS's ``registry.get_path("result_dir")``.
        name: the file stem, ``<split>_epoch<epoch>``.

    Returns:
        The merged file's path (on every rank; only the main process writes it).
    """
    if result_dir is None:
        raise RuntimeError("no 'result_dir' registered (LAVIS's runner registers it under "
                           "output_dir); cannot write the result file")
    result_dir = Path(result_dir)
    result_dir.mkdir(parents=True, exist_ok=True)
    final = result_dir / f"{name}.json"
    (result_dir / f"{name}_rank{get_rank()}.json").write_text(json.dumps(list(records)))
    _barrier()
    if is_main_process():
        world_size = get_world_size()
        parts = (json.loads((result_dir / f"{name}_rank{rank}.json").read_text())
                 for rank in range(world_size))
        merged = merge_rank_results(parts, deduplicate=world_size > 1)
        final.write_text(json.dumps(merged))
        logger.info("%d result records saved to %s", len(merged), final)
    return final


def log_metrics(output_dir: str | Path | None, split_name: str, metrics: Mapping[str, float]
                ) -> None:
    """Append ``{split_name: metrics}`` as one JSON line to ``<output_dir>/evaluate.txt``.

    This is the line LAVIS's own tasks write; undefined metrics (NaN) are written as null.
    """
    if output_dir is None:
        logger.warning("no 'output_dir' registered; %s metrics not written to %s", split_name,
                       METRICS_LOG)
        return
    line = {split_name: {k: (v if math.isfinite(v) else None) for k, v in metrics.items()}}
    with open(Path(output_dir) / METRICS_LOG, "a", encoding="utf-8") as file:
        file.write(json.dumps(line) + "\n")
