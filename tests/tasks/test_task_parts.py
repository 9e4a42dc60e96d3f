"""The task helpers on their own: options, GT lookup through wrappers, records, result files."""

from __future__ import annotations

import json

import pytest
import task_fakes as F
import torch

from lavis_dynrefer.tasks import result_files
from lavis_dynrefer.tasks.ground_truth import find_annotated_dataset
from lavis_dynrefer.tasks.options import TaskOptions
from lavis_dynrefer.tasks.records import result_records
from lavis_dynrefer.typed_config import ConfigError


# ----------------------------------------------------------------- options
def test_options_from_run_cfg():
    from omegaconf import OmegaConf

    run = OmegaConf.create({"task": "ovad", "tag_threshold": 0.8, "batch_size_eval": 4,
                            "max_len": 20, "use_dist_eval_sampler": False})
    assert TaskOptions.from_run_cfg(run) == TaskOptions(tag_threshold=0.8)
    assert TaskOptions.from_run_cfg({"tag_threshold": 1 / 2}).tag_threshold == 0.5
    assert TaskOptions.from_run_cfg(None) == TaskOptions() == TaskOptions.from_run_cfg({})
    assert TaskOptions().tag_threshold is None


@pytest.mark.parametrize("key", ["tag_treshold", "tag_thresholds", "tag_thresh", "threshold"])
def test_misspelled_option_fails_with_a_suggestion(key):
    with pytest.raises(ConfigError, match=f"unknown key '{key}'.*did you mean 'tag_threshold'"):
        TaskOptions.from_run_cfg({"task": "densecap", key: 0.8})


@pytest.mark.parametrize("value, message", [("high", "expected"), (1.5, r"in \(0, 1\)"),
                                            (0, r"in \(0, 1\)"), (True, "expected")])
def test_bad_threshold_values(value, message):
    with pytest.raises(ConfigError, match=message):
        TaskOptions.from_run_cfg({"tag_threshold": value})


# ----------------------------------------------------------------- GT lookup
@pytest.fixture
def two_datasets(tmp_path):
    first = F.RegionDataset(F.write_json(tmp_path / "a.json", F.CAPTION_GT))
    second = F.RegionDataset(F.write_json(tmp_path / "b.json", F.OVAD_GT))
    return first, second


def test_find_dataset_through_lavis_and_torch_wrappers(two_datasets):
    from lavis.datasets.datasets.base_dataset import ConcatDataset
    from lavis.datasets.datasets.dataloader_utils import PrefetchLoader

    dataset = two_datasets[0]
    prefetch = object.__new__(PrefetchLoader)  # its constructor needs CUDA
    prefetch.loader = torch.utils.data.DataLoader(
        torch.utils.data.Subset(ConcatDataset([dataset]), [0, 2]), collate_fn=dataset.collater)
    assert find_annotated_dataset(prefetch) is dataset
    assert find_annotated_dataset(torch.utils.data.ChainDataset([dataset])) is dataset
    assert find_annotated_dataset(dataset) is dataset
    assert find_annotated_dataset(torch.utils.data.TensorDataset(torch.zeros(2))) is None


def test_find_dataset_refuses_two_gt_files(two_datasets):
    from lavis.datasets.datasets.base_dataset import ConcatDataset

    with pytest.raises(ValueError, match="several GT files"):
        find_annotated_dataset(ConcatDataset(list(two_datasets)))
    same = ConcatDataset([two_datasets[0], two_datasets[0]])
    assert find_annotated_dataset(same) is two_datasets[0]


# ----------------------------------------------------------------- records
def batch(regions):
    return {"id": [r["id"] for r in regions], "image_id": torch.tensor([r["image_id"] for r in
                                                                         regions]),
            "bbox": [torch.tensor(r["bbox"]) for r in regions]}


def test_records_convert_tensors_and_numpy():
    import numpy as np

    samples = batch([{"id": 3, "image_id": 7, "bbox": [1, 2, 3, 4]}])
    prediction = {"caption": "a cat", "score": torch.tensor(0.5), "tags": ["cat"],
                  "tag_scores": [0.9], "cls": np.array([1, 2], dtype=np.float32)}
    [record] = result_records(samples, [prediction], ("cls",))
    assert record == {"id": 3, "image_id": 7, "bbox": [1.0, 2.0, 3.0, 4.0], "caption": "a cat",
                      "score": 0.5, "tags": ["cat"], "cls": [1.0, 2.0]}
    assert json.dumps(record)


def test_records_name_what_is_missing():
    samples = batch([{"id": None, "image_id": 7, "bbox": [1, 2, 3, 4]}])
    good = {"caption": "a cat", "score": 0.5, "tags": []}
    with pytest.raises(KeyError, match="lacks 'attr'.*attributes / classes"):
        result_records(samples, [good], ("attr",))
    with pytest.raises(ValueError, match="2 predictions for a batch"):
        result_records(samples, [good, good])
    with pytest.raises(KeyError, match=r"lacks \['bbox'\]"):
        result_records({"id": [None], "image_id": [7]}, [good])
    with pytest.raises(ValueError, match="finite"):  # the result contract is checked per batch
        result_records(samples, [dict(good, score=float("nan"))])


# ----------------------------------------------------------------- result files
def fake_rank(monkeypatch, rank: int, world_size: int) -> None:
    monkeypatch.setattr(result_files, "get_rank", lambda: rank)
    monkeypatch.setattr(result_files, "get_world_size", lambda: world_size)
    monkeypatch.setattr(result_files, "is_main_process", lambda: rank == 0)


@pytest.mark.parametrize("world_size", [2, 3, 4])
def test_distributed_padding_is_written_once(tmp_path, monkeypatch, world_size):
    # LAVIS's eval loader: DistributedSampler(shuffle=False) pads 5 dense-captioning proposals
    # (id null, two on the same image) to a multiple of the world size by repeating the first.
    regions = [{"id": None, "image_id": 1 + i // 2, "bbox": [float(i), 0.0, 9.0, 9.0],
                "caption": "x", "score": 0.5, "tags": []} for i in range(5)]
    for rank in reversed(range(world_size)):  # the main process merges last
        sampler = torch.utils.data.DistributedSampler(regions, num_replicas=world_size,
                                                      rank=rank, shuffle=False)
        fake_rank(monkeypatch, rank, world_size)
        path = result_files.save_results([regions[i] for i in sampler], tmp_path, "val_epoch0")
    merged = json.loads(path.read_text())
    assert sorted(map(result_files.region_key, merged)) == sorted(map(result_files.region_key,
                                                                      regions))
    assert len({f.name for f in tmp_path.glob("val_epoch0_rank*.json")}) == world_size


def test_single_process_keeps_every_record(tmp_path):
    # One process sees each region once; a proposal file that repeats a box keeps both.
    record = {"id": None, "image_id": 1, "bbox": [0.0, 0.0, 5.0, 5.0], "caption": "a",
              "score": 0.1, "tags": []}
    path = result_files.save_results([record, dict(record, caption="b")], tmp_path, "test_best")
    assert path == tmp_path / "test_best.json"
    assert [r["caption"] for r in json.loads(path.read_text())] == ["a", "b"]
    assert (tmp_path / "test_best_rank0.json").is_file()  # as LAVIS leaves it


def test_non_main_process_writes_its_part_and_returns_no_metrics(tmp_path, lavis_dirs,
                                                                  monkeypatch):
    from lavis_dynrefer.tasks import OVADTask, region_task

    fake_rank(monkeypatch, 1, 2)
    monkeypatch.setattr(region_task, "is_main_process", lambda: False)
    task, model = OVADTask(), F.FakeModel()
    dataset = F.RegionDataset(F.write_json(tmp_path / "gt.json", F.OVAD_GT))
    results = task.evaluation(model, F.loader(dataset), cuda_enabled=False)
    assert task.after_evaluation(val_result=results, split_name="val", epoch=0) == {}
    assert [p.name for p in lavis_dirs["result_dir"].iterdir()] == ["val_epoch0_rank1.json"]
    assert not (lavis_dirs["output_dir"] / "evaluate.txt").exists()


def test_result_dir_must_be_registered(monkeypatch):
    from lavis.common.registry import registry

    monkeypatch.delitem(registry.mapping["paths"], "result_dir", raising=False)
    with pytest.raises(RuntimeError, match="no 'result_dir'"):
        result_files.save_results([], registry.get_path("result_dir"), "val_epoch0")


def test_metrics_log_writes_nan_as_null(tmp_path):
    result_files.log_metrics(tmp_path, "val", {"ap/all": 12.5, "ap/tail": float("nan")})
    result_files.log_metrics(tmp_path, "test", {"ap/all": 1.0})
    lines = (tmp_path / "evaluate.txt").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"val": {"ap/all": 12.5, "ap/tail": None}},
                                                    {"test": {"ap/all": 1.0}}]
