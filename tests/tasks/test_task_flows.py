"""Each region task end to end with a fake model: records, result file, metrics, registry."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import task_fakes as F

from lavis_dynrefer import names
from lavis_dynrefer.tasks import (
    DenseCapTask,
    OVADTask,
    RegionCaptionTask,
    RegionRecognitionTask,
    TaskOptions,
)


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    task: type
    gt: dict
    command: str  # the metrics command's TASK
    agg: str
    metrics: tuple[str, ...]
    extra: tuple[str, ...] = ()
    regions: list | None = None  # None: one region per GT annotation


CASES = [
    Case(names.TASK_REGION_CAPTION, RegionCaptionTask, F.CAPTION_GT, "region_caption", "CIDEr",
         ("METEOR", "CIDEr", "BLEU_4", "ROUGE_L")),
    Case(names.TASK_DENSECAP, DenseCapTask, F.DENSECAP_GT, "densecap", "map", ("map", "detmap"),
         regions=F.DENSECAP_PROPOSALS),
    Case(names.TASK_OVAD, OVADTask, F.OVAD_GT, "ovad", "ap/all",
         ("ap/all", "ap/head", "ap/medium", "ap/tail"), extra=("attr",)),
    Case(names.TASK_REGION_RECOGNITION, RegionRecognitionTask, F.RECOGNITION_GT, "recognition",
         "accuracy", ("accuracy", "mAP"), extra=("cls",)),
]
IDS = [case.name for case in CASES]
# Answers by GT id, or by 1000 + x1 + y1 for the dense-captioning proposals (task_fakes).
CAPTIONS = {11: "a red car", 12: "a man on a horse", 21: "the blue sky", 1002: "a red car",
            1122: "a man riding", 1060: "a dog", 1022: "blue sky"}
SCORES = {1002: 0.8, 1122: 0.5, 1060: 0.9, 1022: 0.3}  # the miss (1060) ranks first


def setup(case: Case, tmp_path, options: TaskOptions | None = None):
    gt_path = F.write_json(tmp_path / "gt.json", case.gt)
    dataset = F.RegionDataset(gt_path, case.regions)
    return case.task(options=options), F.FakeModel(CAPTIONS, SCORES), dataset, gt_path


def run_split(task, model, dataset, split="val", epoch=0):
    task.before_evaluation(model=model, dataset=dataset)
    results = task.evaluation(model, F.loader(dataset), cuda_enabled=False)
    return results, task.after_evaluation(val_result=results, split_name=split, epoch=epoch)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_registry_lookup_and_setup_task(case):
    from lavis.common.registry import registry
    from lavis.tasks import setup_task
    from omegaconf import OmegaConf

    assert registry.get_task_class(case.name) is case.task
    cfg = OmegaConf.create({"run_cfg": {"task": case.name, "tag_threshold": 0.76,
                                        "batch_size_eval": 8, "use_dist_eval_sampler": True}})
    task = setup_task(cfg)
    assert type(task) is case.task and task.options == TaskOptions(tag_threshold=0.76)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_valid_step_records_follow_the_result_format(case, tmp_path):
    task, model, dataset, _ = setup(case, tmp_path)
    task.spec.prepare_model and task.spec.prepare_model(model, dataset.annotations)
    batch = next(iter(F.loader(dataset, batch_size=3)))
    records = task.valid_step(model, batch)
    assert len(records) == 3
    for record, region in zip(records, dataset.regions):
        assert list(record) == ["id", "image_id", "bbox", "caption", "score", "tags",
                                *case.extra]
        assert record["id"] == region["id"] and (record["id"] is None or
                                                 type(record["id"]) is int)
        assert type(record["image_id"]) is int and record["image_id"] == region["image_id"]
        assert record["bbox"] == region["bbox"]
        assert all(type(v) is float for v in record["bbox"]) and len(record["bbox"]) == 4
        assert type(record["caption"]) is str and type(record["score"]) is float
        assert record["tags"] == ["thing"]
        for field in case.extra:
            assert all(type(v) is float for v in record[field])
    assert json.loads(json.dumps(records)) == records


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_after_evaluation_scores_like_the_metrics_command(case, tmp_path, lavis_dirs,
                                                          fake_scorers, run_command):
    task, model, dataset, gt_path = setup(case, tmp_path)
    results, metrics = run_split(task, model, dataset, split="val", epoch=3)

    result_file = lavis_dirs["result_dir"] / "val_epoch3.json"
    assert json.loads(result_file.read_text()) == results
    assert len(results) == len(dataset)
    expected = {k: v for k, v in metrics.items() if k != "agg_metrics"}
    assert tuple(expected) == case.metrics
    assert metrics["agg_metrics"] == metrics[case.agg]
    command = run_command(case.command, gt_path, result_file)
    assert command == {k: (v if math.isfinite(v) else None) for k, v in expected.items()}
    logged = (lavis_dirs["output_dir"] / "evaluate.txt").read_text().splitlines()
    assert [json.loads(line) for line in logged] == [{"val": command}]
    assert model.before_evaluation_calls == 1  # LAVIS's model hook still runs


def test_metrics_are_not_trivial(tmp_path, lavis_dirs, fake_scorers):
    # Guards the comparison above against all-zero, perfect or undefined metrics.
    for case in CASES:
        _, metrics = run_split(*setup(case, tmp_path)[:3])
        assert metrics["agg_metrics"] > 0 and metrics["agg_metrics"] != 100, (case.name, metrics)


def test_recognition_accuracy_hand_computed(tmp_path, lavis_dirs):
    # The fake logits pick category index id % 3 of [dog, person, bicycle]: ids 1, 2, 3 right
    # (person, bicycle, dog); id 4 predicts person (GT bicycle), id 5 bicycle (GT person).
    gt = dict(F.RECOGNITION_GT, annotations=[
        dict(a, category_id=c) for a, c in zip(F.RECOGNITION_GT["annotations"], [1, 2, 3, 2, 1])])
    _, metrics = run_split(*setup(dataclasses.replace(CASES[3], gt=gt), tmp_path)[:3])
    assert metrics["accuracy"] == pytest.approx(60.0) == metrics["agg_metrics"]


def test_ovad_gives_attributes_in_gt_order_with_default_is_has(tmp_path, lavis_dirs, caplog):
    task, model, dataset, _ = setup(CASES[2], tmp_path)
    with caplog.at_level("WARNING"):
        run_split(task, model, dataset, epoch=0)
        run_split(task, model, dataset, epoch=1)
    assert model.attributes == [{"name": "color:red", "is_has_att": "has"},
                                {"name": "state:wet/damp", "is_has_att": "is"},
                                {"name": "texture:smooth", "is_has_att": "is"}]
    warnings = [r for r in caplog.records if "is_has_att" in r.getMessage()]
    assert len(warnings) == 1 and "1 of 3 attributes" in warnings[0].getMessage()


def test_recognition_gives_classes_in_gt_order(tmp_path, lavis_dirs):
    task, model, dataset, _ = setup(CASES[3], tmp_path)
    run_split(task, model, dataset)
    assert model.classes == ["dog", "person", "bicycle"]  # file order, not id order


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_tag_threshold_holds_during_evaluation_only(case, tmp_path, lavis_dirs, fake_scorers):
    task, model, dataset, _ = setup(case, tmp_path, TaskOptions(tag_threshold=0.8))
    config = model.config
    run_split(task, model, dataset)
    assert model.thresholds_seen and set(model.thresholds_seen) == {0.8}
    assert model.config is config and config.tag_threshold == 0.7


def test_tag_threshold_is_restored_when_prediction_fails(tmp_path):
    task, model, dataset, _ = setup(CASES[0], tmp_path, TaskOptions(tag_threshold=0.76))
    config = model.config

    def broken(samples, **kwargs):
        assert model.config.tag_threshold == 0.76
        raise RuntimeError("out of memory")

    model.predict_answers = broken
    with pytest.raises(RuntimeError, match="out of memory"):
        task.evaluation(model, F.loader(dataset), cuda_enabled=False)
    assert model.config is config


def test_without_option_the_model_threshold_is_kept(tmp_path, lavis_dirs, fake_scorers):
    task, model, dataset, _ = setup(CASES[0], tmp_path)
    run_split(task, model, dataset)
    assert set(model.thresholds_seen) == {0.7}


def test_injected_metric_function(tmp_path, lavis_dirs):
    from functools import partial

    from lavis_dynrefer.evaluation import evaluate_region_caption

    calls = []

    def scorer(references, candidates):
        calls.append(sorted(references))
        return F.fake_corpus_scores(references, candidates)

    task = RegionCaptionTask(metric_fn=partial(evaluate_region_caption, scorer=scorer))
    gt_path = F.write_json(tmp_path / "gt.json", F.CAPTION_GT)
    _, metrics = run_split(task, F.FakeModel(CAPTIONS), F.RegionDataset(gt_path))
    assert calls == [[11, 12, 21]] and metrics["agg_metrics"] == metrics["CIDEr"]


def test_after_evaluation_before_evaluation_is_an_error(lavis_dirs):
    with pytest.raises(RuntimeError, match="before evaluation"):
        OVADTask().after_evaluation(val_result=[], split_name="val", epoch=0)


def test_missing_region_is_a_loud_error(tmp_path, lavis_dirs):
    # A result file without one GT region must fail, not score it as zero.
    task, model, dataset, _ = setup(CASES[3], tmp_path)
    task.before_evaluation(model=model, dataset=dataset)
    results = task.evaluation(model, F.loader(dataset), cuda_enabled=False)
    with pytest.raises(ValueError, match="have no result"):
        task.after_evaluation(val_result=results[:-1], split_name="val", epoch=0)


def test_evaluation_needs_a_dataset_with_annotations(tmp_path):
    task, model, dataset, _ = setup(CASES[0], tmp_path)
    del dataset.annotations
    with pytest.raises(ValueError, match="no 'annotations'"):
        task.evaluation(model, F.loader(dataset), cuda_enabled=False)


def test_ovad_needs_attributes_before_predicting(tmp_path):
    gt = {k: v for k, v in F.OVAD_GT.items() if k != "attributes"}
    gt["annotations"] = [{k: v for k, v in a.items() if k != "att_vec"}
                         for a in gt["annotations"]]
    task, model, dataset, _ = setup(dataclasses.replace(CASES[2], gt=gt), tmp_path)
    with pytest.raises(ValueError, match="no 'attributes'"):
        task.evaluation(model, F.loader(dataset), cuda_enabled=False)
    assert model.thresholds_seen == []  # failed before any prediction
