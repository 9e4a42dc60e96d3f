"""Configuration mistakes given to ``python -m lavis_dynrefer.train`` (in process).

The one-line errors of ``launch._check_config`` (missing file, unknown task/model/dataset, bad
``--options``) are tested in ``test_runner.py``; here: the DynRefer model section (a
``ConfigError`` while building ends in one line too) and the ``run:`` values
(``runners.run_checks``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import runner_tiny
import torch
import yaml

from lavis_dynrefer import evaluate, train


def _config(directory: Path, model: dict | None = None, **run) -> Path:
    path = runner_tiny.write_run_config(directory, **{"valid_splits": [], "test_splits": [],
                                                      **run})
    if model is not None:
        config = yaml.safe_load(path.read_text())
        config["model"] = model
        path.write_text(yaml.safe_dump(config))
    return path


def _one_line_error(main, path: Path, *options: str) -> str:
    argv = ["--cfg-path", str(path)] + (["--options", *options] if options else [])
    with pytest.raises(SystemExit) as info:
        main(argv)
    text = str(info.value.code)
    assert text.startswith("error: ") and "\n" not in text, text
    return text


@pytest.mark.parametrize("main", [train.main, evaluate.main], ids=["train", "evaluate"])
def test_misspelled_dynrefer_model_key_names_it(tmp_path, main):
    path = _config(tmp_path, model={"arch": "dynrefer", "model_type": "tiny",
                                    "resampler": {"widht": 64}})
    text = _one_line_error(main, path)
    assert text.startswith(f"error: {path}: model.resampler: unknown key 'widht' (did you mean "
                           f"'width'?); known keys: "), text


@pytest.mark.parametrize(("model", "message"), [
    ({"region_chunk": 0}, "model.region_chunk: must be >= 1, got 0"),
    ({"tag_threshold": 1.5}, "model.tag_threshold: must be in (0, 1), got 1.5"),
    ({"region": {"num_views": 0}}, "model.region.num_views: must be >= 1, got 0"),
])
def test_out_of_range_model_value_is_one_line(tmp_path, model, message):
    path = _config(tmp_path, model={"arch": "dynrefer", "model_type": "tiny", **model})
    assert _one_line_error(train.main, path) == f"error: {path}: {message}"


def test_other_build_errors_keep_their_traceback(tmp_path):
    # Only configuration mistakes become one line; a missing file named in the model yaml is
    # still a FileNotFoundError.
    path = _config(tmp_path, model={"arch": "dynrefer", "model_type": "tiny",
                                    "tag_list": str(tmp_path / "no_tags.txt")})
    with pytest.raises(FileNotFoundError, match="no_tags.txt"):
        train.main(["--cfg-path", str(path)])


@pytest.mark.parametrize(("change", "message"), [
    ("no_datasets", "missing 'datasets:' section"),
    ("no_seed", "run.seed is required"),
    ("cuda", "run.device is 'cuda' but no CUDA device is available"),
])
def test_launch_checks_are_one_line(tmp_path, change, message):
    if change == "cuda" and torch.cuda.is_available():
        pytest.skip("a CUDA device is available")
    path = _config(tmp_path, **({"seed": None} if change == "no_seed" else {}),
                   **({"device": "cuda"} if change == "cuda" else {}))
    if change == "no_datasets":
        config = yaml.safe_load(path.read_text())
        del config["datasets"]
        path.write_text(yaml.safe_dump(config))
    with pytest.raises(SystemExit) as info:
        train.main(["--cfg-path", str(path)])
    text = str(info.value.code)
    assert text.startswith("error: ") and message in text and "\n" not in text


# Without the checks these failed inside LAVIS without naming the key: TypeError: 'NoneType'
# object is not callable (lr_sched), ZeroDivisionError (accum_grad_iters), ValueError: invalid
# literal for int() (max_epoch), could not convert string to float (init_lr), a DataLoader
# ValueError (batch size), one split per letter ("train" iterated), torch's "Expected one of
# cpu, cuda, ..." (device).
@pytest.mark.parametrize(("key", "value", "expected"), [
    ("lr_sched", "no_such_schedule", "a registered LR scheduler (linear_warmup_cosine_lr, "
                                     "linear_warmup_step_cosine_lr, linear_warmup_step_lr), "
                                     "got 'no_such_schedule' (str)"),
    ("accum_grad_iters", 0, "an integer >= 1, got 0 (int)"),
    ("max_epoch", "two", "an integer >= 1, got 'two' (str)"),
    ("max_epoch", 0, "an integer >= 1, got 0 (int)"),
    ("max_epoch", 1.5, "an integer >= 1, got 1.5 (float)"),
    ("init_lr", "abc", "a number >= 0, got 'abc' (str)"),
    ("init_lr", -0.1, "a number >= 0, got -0.1 (float)"),
    ("weight_decay", True, "a number >= 0, got True (bool)"),
    # quoted in the yaml: LAVIS compares it with 0 as it is (TypeError)
    ("warmup_lr", "1.0e-6", "a number (negative: start at init_lr), got '1.0e-6' (str)"),
    ("batch_size_train", -8, "an integer >= 1, got -8 (int)"),
    ("batch_size_eval", 0, "an integer >= 1, got 0 (int)"),
    ("num_workers", -1, "an integer >= 0, got -1 (int)"),
    ("warmup_steps", -4, "an integer >= 0, got -4 (int)"),
    ("log_freq", 0, "an integer >= 1, got 0 (int)"),
    ("seed", "42", "an integer >= 0, got '42' (str)"),
    ("train_splits", "train", "a list of split names such as [train], got 'train' (str)"),
    ("valid_splits", [1], "a list of split names such as [train], got [1] (list)"),
    ("test_splits", None, "a list of split names such as [train], got None (NoneType)"),
    ("amp", "yes", "true or false, got 'yes' (str)"),
    ("evaluate", 1, "true or false, got 1 (int)"),
    ("distributed", "false", "true or false, got 'false' (str)"),
    ("device", "gpu", "a torch device such as 'cpu', 'cuda' or 'cuda:0', got 'gpu' (str)"),
    ("device", 0, "a torch device such as 'cpu', 'cuda' or 'cuda:0', got 0 (int)"),
    ("output_dir", ["out"], "a non-empty string, got ['out'] (list)"),
    ("beta2", 1.0, "a number in [0, 1), got 1.0 (float)"),
    ("max_grad_norm", 0, "a number > 0 or null, got 0 (int)"),
    ("max_grad_norm", "1.0", "a number > 0 or null, got '1.0' (str)"),
    # LAVIS's runner would download it.
    ("resume_ckpt_path", "https://example.org/checkpoint_3.pth",
     "a local file path (not a URL), got 'https://example.org/checkpoint_3.pth' (str)"),
])
def test_bad_run_values_are_one_line_errors_naming_the_key(tmp_path, key, value, expected):
    path = _config(tmp_path, **{key: value})
    assert _one_line_error(train.main, path) == f"error: {path}: run.{key}: expected {expected}"


@pytest.mark.parametrize(("run", "message"), [
    ({"init_lr": None}, "run.init_lr is required unless run.evaluate is true"),
    ({"lr_sched": None}, "run.lr_sched is required unless run.evaluate is true"),
    ({"output_dir": None}, "run.output_dir is required"),
    ({"lr_sched": "linear_warmup_step_lr"},
     "run.lr_decay_rate is required by lr_sched linear_warmup_step_lr"),
])
def test_missing_run_values_are_named(tmp_path, run, message):
    path = _config(tmp_path, **run)
    config = yaml.safe_load(path.read_text())
    config["run"] = {k: v for k, v in config["run"].items() if v is not None}
    path.write_text(yaml.safe_dump(config))
    assert _one_line_error(train.main, path) == f"error: {path}: {message}"


def test_bad_run_value_from_options_is_named(tmp_path):
    path = _config(tmp_path)
    text = _one_line_error(train.main, path, "run.batch_size_train=-1")
    assert text == f"error: {path}: run.batch_size_train: expected an integer >= 1, got -1 (int)"


def test_evaluation_needs_no_training_keys(tmp_path):
    # An eval yaml (run.evaluate: true) has no optimizer or schedule keys; the evaluate command
    # must not ask for them.
    training_only = ("lr_sched", "init_lr", "min_lr", "warmup_lr", "warmup_steps",
                     "weight_decay", "max_epoch")
    path = _config(tmp_path, evaluate=True, test_splits=["test"])
    config = yaml.safe_load(path.read_text())
    config["run"] = {k: v for k, v in config["run"].items() if k not in training_only}
    path.write_text(yaml.safe_dump(config))
    logs = evaluate.main(["--cfg-path", str(path)])
    assert set(logs) == {"test"}


@pytest.mark.parametrize(("key", "value"), [
    ("init_lr", "1.0e-2"),  # quoted numbers: LAVIS applies float() to these three
    ("min_lr", "0"),
    ("weight_decay", "5.0e-2"),
    ("warmup_lr", -1),  # LAVIS: start the warm-up at init_lr
    ("device", "cpu:0"),
    ("valid_splits", []),
    ("resume_ckpt_path", None),
    ("tag_threshold", "not checked here"),  # a task's own key, left to the task
])
def test_good_run_values_pass_the_checks(tmp_path, key, value):
    from lavis_dynrefer.runners.launch import _check_config, parse_args

    path = _config(tmp_path, **{key: value})
    config = _check_config(parse_args("test", ["--cfg-path", str(path)]))
    assert config.run[key] == value
