"""Distributed evaluation with real processes writes what one process writes.

``python -m torch.distributed.run --standalone --nproc_per_node=2 -m lavis_dynrefer.evaluate``
(gloo on CPU) against ``python -m lavis_dynrefer.evaluate``, both on the shipped config
``projects/dynrefer/eval_shapes.yaml`` and the shipped ``shapes`` weights, on a 5-image split of
the shapes world. Five images on two ranks: LAVIS's ``DistributedSampler(shuffle=False)`` pads the
eval index list to six with the first image, so rank 1 predicts that image's regions a second time
and the merged result file must drop them (``tasks/result_files.py``).

Both runs start at once (one single-threaded process beside torchrun's two): most of each run is
importing LAVIS, and one process alone would leave a second core idle. Subprocesses are outside
the test process's network guard, so torchrun's loopback rendezvous is allowed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from offline_subprocess import REPO, subprocess_env

from lavis_dynrefer.data.annotations import load_region_annotations
from lavis_dynrefer.shapes import write_dataset
from lavis_dynrefer.tasks.result_files import METRICS_LOG, region_key

CONFIG = REPO / "projects" / "dynrefer" / "eval_shapes.yaml"
NUM_IMAGES = 5  # odd: two ranks see 6 = 5 + the first image again
# densecap (records grouped per image) and ovad (a duplicate id makes its scorer refuse the
# file): region_caption and region_recognition merge through the same code and add ~60 s.
TASKS = ["densecap", "ovad"]
TIMEOUT_S = 300
# One image per eval batch, so each image meets the same computation (same shapes, one thread) in
# both runs and the records can be compared exactly. With the yaml's 8 the single run encodes all
# regions in one batch and each rank its own few: the same numbers up to float rounding of
# differently shaped matrix products (the model tests allow rel 1e-4 for a changed region_chunk).
BATCH_SIZE_EVAL = 1
# ``evaluate`` runs the test split without reloading a checkpoint: LAVIS names it epoch "best".
RESULT_NAME = "test_epochbest"


@pytest.fixture(scope="module")
def split(tmp_path_factory) -> Path:
    """A 5-image test split of the shapes world (3-7 regions per image)."""
    out = tmp_path_factory.mktemp("shapes")
    return write_dataset(out, seed=0, counts={"test": NUM_IMAGES}, size=224)["test"]


def _start(launcher: list[str], output_dir: Path, task: str, gt: Path) -> subprocess.Popen:
    """Start ``launcher -m lavis_dynrefer.evaluate`` on the shipped config, logging to
    ``<output_dir>.log``."""
    options = [f"run.task={task}", f"run.output_dir={output_dir}", "run.device=cpu",
               f"run.batch_size_eval={BATCH_SIZE_EVAL}",
               f"datasets.shapes.build_info.annotations.test.storage={gt}"]
    with open(output_dir.with_suffix(".log"), "w") as log:  # the child keeps its own handle
        return subprocess.Popen([sys.executable, *launcher, "-m", "lavis_dynrefer.evaluate",
                                 "--cfg-path", str(CONFIG), "--options", *options],
                                cwd=REPO, env=subprocess_env(), stdout=log,
                                stderr=subprocess.STDOUT)


def _wait(procs: list[subprocess.Popen]) -> None:
    """Wait for every run; kill what is left on a timeout or an error (no orphan workers)."""
    try:
        for proc in procs:
            proc.wait(timeout=TIMEOUT_S)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _job_dir(proc: subprocess.Popen, output_dir: Path) -> Path:
    """The finished run's job folder (torchrun's ranks share rank 0's job id)."""
    log = output_dir.with_suffix(".log").read_text()
    assert proc.returncode == 0, f"{' '.join(map(str, proc.args[:5]))} ... failed:\n{log[-4000:]}"
    (job_dir,) = list(output_dir.iterdir())
    return job_dir


def _read(path: Path) -> list[dict]:
    return json.loads(path.read_text())


def _by_region(records: list[dict]) -> dict[tuple, dict]:
    keyed = {region_key(r): r for r in records}
    assert len(keyed) == len(records), "a region is written twice"
    return keyed


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_two_processes_write_every_region_once_and_the_same_metrics(task, split, tmp_path):
    single_out, dist_out = tmp_path / "single", tmp_path / "torchrun"
    single_run = _start([], single_out, task, split)
    torchrun = _start(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"],
                      dist_out, task, split)
    _wait([torchrun, single_run])
    dist_dir, single_dir = _job_dir(torchrun, dist_out), _job_dir(single_run, single_out)

    gt = load_region_annotations(split)
    gt_keys = Counter((a.image_id, a.id, tuple(float(v) for v in a.bbox))
                      for a in gt.annotations)
    first_image = gt.images[0].id

    # The per-rank files really hold the padding: the first image's regions, on both ranks.
    rank_files = sorted((dist_dir / "result").glob(f"{RESULT_NAME}_rank*.json"))
    assert [f.name for f in rank_files] == [f"{RESULT_NAME}_rank{r}.json" for r in (0, 1)]
    per_rank = Counter(region_key(r) for f in rank_files for r in _read(f))
    repeated = {key for key, count in per_rank.items() if count > 1}
    assert repeated and repeated == {key for key in gt_keys if key[0] == first_image}
    assert set(per_rank) == set(gt_keys)

    # The merged file: every GT region exactly once, as in the single-process file.
    merged = _read(dist_dir / "result" / f"{RESULT_NAME}.json")
    assert Counter(map(region_key, merged)) == gt_keys
    single = _read(single_dir / "result" / f"{RESULT_NAME}.json")
    assert Counter(map(region_key, single)) == gt_keys
    # Same images, same batches (BATCH_SIZE_EVAL): identical records, scores included.
    assert _by_region(merged) == _by_region(single)

    # The metrics: only the main process writes them, once, and they equal one process's.
    dist_metrics = [json.loads(line) for line in (dist_dir / METRICS_LOG).read_text().splitlines()]
    single_metrics = [json.loads(line)
                      for line in (single_dir / METRICS_LOG).read_text().splitlines()]
    assert len(dist_metrics) == 1 and dist_metrics == single_metrics
    assert any(v for v in dist_metrics[0]["test"].values()), dist_metrics  # not all zero / null
