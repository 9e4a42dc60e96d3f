"""The tasks with the real pieces: the tiny DynRefer model, and the Java caption scorers."""

from __future__ import annotations

import json
import shutil

import pytest
import task_fakes as F
import torch

from lavis_dynrefer.tasks import OVADTask, RegionCaptionTask, RegionRecognitionTask, TaskOptions

ASTRONAUT = [{"id": 1, "file_name": "astronaut.jpg", "width": 512, "height": 512}]
BOXES = [[150, 40, 320, 220], [0, 0, 100, 100], [300, 300, 420, 510]]


class ViewDataset(F.RegionDataset):
    """GT regions of the bundled astronaut photo, as multi-view crops by the real processor."""

    def __init__(self, annotation_path, processor):
        super().__init__(annotation_path)
        from PIL import Image

        from lavis_dynrefer.paths import asset_path

        self.image = Image.open(asset_path("astronaut.jpg")).convert("RGB")
        self.processor = processor

    def __getitem__(self, index):
        region = self.regions[index]
        views = self.processor(self.image, [region["bbox"]])
        return {**region, "image": views.images[0], "region_boxes": views.boxes[0]}


@pytest.fixture(scope="module")
def tiny():
    from lavis.models import load_model_and_preprocess

    torch.manual_seed(0)
    model, vis, _ = load_model_and_preprocess("dynrefer", "tiny", is_eval=True, device="cpu")
    return model, vis["eval"]


def test_tiny_model_through_ovad_and_recognition(tiny, tmp_path, lavis_dirs, run_command):
    model, processor = tiny
    annotations = [{"id": 7 + k, "image_id": 1, "bbox": box, "att_vec": vec, "category_id": cat}
                   for k, (box, vec, cat) in enumerate(zip(
                       BOXES, [[1, 0, -1], [0, 1, 1], [1, 1, 0]], [3, 1, 3]))]
    gt = {"images": ASTRONAUT, "annotations": annotations, "attributes": F.OVAD_ATTRIBUTES,
          "categories": F.RECOGNITION_GT["categories"]}
    gt_path = F.write_json(tmp_path / "gt.json", gt)
    dataset = ViewDataset(gt_path, processor)
    threshold = model.config.tag_threshold
    for task, command, field, size in [
            (OVADTask(TaskOptions(tag_threshold=0.9)), "ovad", "attr", 3),
            (RegionRecognitionTask(), "recognition", "cls", 3)]:
        task.before_evaluation(model=model, dataset=dataset)
        results = task.evaluation(model, F.loader(dataset, batch_size=3),
                                  cuda_enabled=False)
        assert [r["id"] for r in results] == [7, 8, 9]
        assert all(len(r[field]) == size and isinstance(r["caption"], str) for r in results)
        metrics = task.after_evaluation(val_result=results, split_name=command, epoch=0)
        expected = {k: v for k, v in metrics.items() if k != "agg_metrics"}
        assert run_command(command, gt_path, lavis_dirs["result_dir"] / f"{command}_epoch0.json"
                           ) == json.loads(json.dumps(expected).replace("NaN", "null"))
    assert model.config.tag_threshold == threshold


@pytest.mark.slow
def test_region_caption_with_the_real_scorers(tmp_path, lavis_dirs):
    # The default scorers (PTB tokenizer, METEOR 1.5: Java) once, on the case the metrics
    # command's own test computes by hand: a prediction equal to its reference after the PTB
    # tokenizer scores METEOR, BLEU-4 and ROUGE-L 100; CIDEr is 0, as a single reference
    # document gives every n-gram idf log(1/1) = 0. (The fake-scorer tests show the task and
    # the command agree; this one shows the task runs the Java scorers.)
    if shutil.which("java") is None:
        pytest.skip("java not found")
    gt = {"images": F.images(1), "annotations": [
        {"id": 5, "image_id": 1, "bbox": [0, 0, 50, 50], "caption": "A man riding a brown horse."}]}
    dataset = F.RegionDataset(F.write_json(tmp_path / "gt.json", gt))
    task, model = RegionCaptionTask(), F.FakeModel({5: "a man riding a brown horse"})
    results = task.evaluation(model, F.loader(dataset), cuda_enabled=False)
    metrics = task.after_evaluation(val_result=results, split_name="val", epoch=0)
    assert metrics == pytest.approx({"METEOR": 100.0, "CIDEr": 0.0, "BLEU_4": 100.0,
                                     "ROUGE_L": 100.0, "agg_metrics": 0.0}, abs=1e-4)
