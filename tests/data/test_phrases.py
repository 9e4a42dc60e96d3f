"""Noun/adjective phrase parsing: the tag targets and control words of a caption."""

from __future__ import annotations

import pytest

from lavis_dynrefer.data import phrases


@pytest.mark.parametrize("caption, expected", [
    ("the small red car on the road", ["car", "red", "red car", "road", "small", "small red car"]),
    ("a man wearing a blue shirt", ["blue", "blue shirt", "man", "shirt"]),
    ("Tall green trees behind the fence.",
     ["fence", "green", "green tree", "tall", "tall green tree", "tree"]),
    ("man wearing black pants and white shirt",
     ["black", "black pants", "man", "pants", "shirt", "white", "white shirt"]),
    ("two people walking on the sidewalk", ["people", "sidewalk"]),
    ("glasses on the man's face", ["face", "glasses", "man"]),
    ("sign on the pole is red", ["pole", "red", "sign"]),
    ("", []),
    ("!!! ...", []),
])
def test_parse_phrases(caption, expected):
    assert phrases.parse_phrases(caption) == expected


@pytest.mark.parametrize("tagged, expected", [
    # "black and white dog": the conjunction ends the first run, which has no noun
    ([("a", "DT"), ("black", "JJ"), ("and", "CC"), ("white", "JJ"), ("dog", "NN")],
     ["black", "dog", "white", "white dog"]),
    # an adjective after a noun starts a new noun phrase
    ([("blue", "JJ"), ("shirt", "NN"), ("white", "JJ"), ("cups", "NNS")],
     ["blue", "blue shirt", "cup", "shirt", "white", "white cup"]),
    # noun modifiers count as phrases, only the head is singularized
    ([("tennis", "NN"), ("rackets", "NNS")], ["racket", "tennis", "tennis racket"]),
    ([("is", "VBZ"), ("on", "IN")], []),
])
def test_phrases_from_tagged_is_tagger_independent(tagged, expected):
    assert phrases.phrases_from_tagged(tagged) == expected


def test_tokenize():
    assert phrases.tokenize("The man\u2019s T-shirt, (blue)! 2 cats") == [
        "the", "man", "'s", "t-shirt", "blue", "2", "cats"]


def test_pos_tag_keeps_tokens():
    tagged = phrases.pos_tag(["a", "red", "car"])
    assert [word for word, _ in tagged] == ["a", "red", "car"]
    assert [pos for _, pos in tagged] == ["DT", "JJ", "NN"]
    assert phrases.pos_tag([]) == []


def test_singular_keeps_plural_only_nouns():
    assert [phrases.singular(w) for w in ["trees", "pants", "people", "women", "glasses"]] == [
        "tree", "pants", "people", "woman", "glasses"]


def test_results_are_fresh_lists():
    first = phrases.parse_phrases("a red car")
    first.append("mutated")
    assert phrases.parse_phrases("a red car") == ["car", "red", "red car"]
