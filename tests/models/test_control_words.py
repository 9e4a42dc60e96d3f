"""Control-word prefixes: training sampling and deterministic inference order."""

import torch

from lavis_dynrefer.models.control_words import (
    inference_control_words,
    join_control_words,
    training_control_words,
)


def test_join():
    assert join_control_words(["red car", "car"]) == "red car,car|"
    assert join_control_words([]) == "|"


def test_drop_all_and_keep_all():
    g = torch.Generator().manual_seed(0)
    assert training_control_words(["car", "red car"], drop_all_p=1.0, generator=g) == "|"
    kept = training_control_words(["car", "red car", "car", " "], drop_all_p=0.0, keep_p=1.0,
                                  generator=g)
    assert kept.endswith("|") and sorted(kept[:-1].split(",")) == ["car", "red car"]
    assert training_control_words([], drop_all_p=0.0) == "|"


def test_keep_probability():
    g = torch.Generator().manual_seed(1)
    words = [f"w{i}" for i in range(10)]
    counts = [len(training_control_words(words, drop_all_p=0.0, keep_p=0.5,
                                         generator=g)[:-1].split(",")) for _ in range(2000)]
    # Each of 10 words kept with p = 0.5: mean 5 (an empty keep gives "" -> one empty field).
    assert 4.8 < sum(counts) / len(counts) < 5.2


def test_reproducible_with_a_generator():
    a = training_control_words(["a", "b", "c"], 0.0, 0.5, torch.Generator().manual_seed(3))
    b = training_control_words(["a", "b", "c"], 0.0, 0.5, torch.Generator().manual_seed(3))
    assert a == b


def test_inference_order_by_score_then_name():
    assert inference_control_words(["car", "red", "blue"], [0.8, 0.9, 0.8]) == "red,blue,car|"
