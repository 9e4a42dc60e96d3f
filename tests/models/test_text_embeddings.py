"""CLIP BPE tokenizer, OVAD "the" prompts, per-attribute max, and the cached text tables."""

import pytest
import torch
from torch import nn

from lavis_dynrefer.models.text_embeddings import (
    TextEmbeddingTable,
    class_prompts,
    max_over_prompts,
    ovad_attribute_prompts,
    refresh_tables,
)
from lavis_dynrefer.models.text_tokenizer import ClipTextTokenizer
from lavis_dynrefer.models.text_tower import TextTower, TextTowerConfig, load_text_tower_weights

SOT, EOT = 49406, 49407
# Tiny tower on the real BPE vocabulary, with a short context to keep it fast.
TINY = TextTowerConfig(vocab_size=49408, width=16, layers=1, heads=2, context_length=16,
                       embed_dim=8)


@pytest.fixture(scope="module")
def tokenizer() -> ClipTextTokenizer:
    return ClipTextTokenizer(context_length=TINY.context_length)


@pytest.fixture()
def tower() -> TextTower:
    torch.manual_seed(0)
    return TextTower(TINY).lock()


# ---- tokenizer ----------------------------------------------------------------------------


def test_tokenizer_a_red_car():
    ids = ClipTextTokenizer()(["a red car"])
    assert ids.shape == (1, 77) and ids.dtype == torch.long
    # CLIP BPE ids of "a</w>", "red</w>", "car</w>".
    assert ids[0, :5].tolist() == [SOT, 320, 736, 1615, EOT]
    assert not ids[0, 5:].any()


def test_tokenizer_specials_and_vocab(tokenizer):
    assert (tokenizer.sot_id, tokenizer.eot_id, tokenizer.vocab_size) == (SOT, EOT, 49408)
    assert tokenizer.decode(tokenizer(["A  Red car "])[0]) == "a red car"


def test_tokenizer_truncates_keeping_eot_last():
    long_text = " ".join(["car"] * 100)
    ids = ClipTextTokenizer()([long_text, "car"])
    assert ids[0].tolist() == [SOT] + [1615] * 75 + [EOT]
    assert ids[1, :3].tolist() == [SOT, 1615, EOT]
    # 75 pieces fit exactly; LAVIS's own tokenize would instead cut the EOT of longer texts.
    exact = ClipTextTokenizer()([" ".join(["car"] * 75)])
    assert exact[0].tolist() == [SOT] + [1615] * 75 + [EOT]


def test_tokenizer_small_context_and_edge_inputs():
    tok = ClipTextTokenizer(context_length=3)
    assert tok(["a red car"]).tolist() == [[SOT, 320, EOT]]
    assert tok("a").tolist() == [[SOT, 320, EOT]]
    assert tok([]).shape == (0, 3)
    with pytest.raises(ValueError):
        ClipTextTokenizer(context_length=1)


# ---- OVAD prompts -------------------------------------------------------------------------

ATTRIBUTES = [
    {"id": 0, "name": "cleanliness:clean/neat", "is_has_att": "is"},
    {"id": 1, "name": "color:gray/grey", "is_has_att": "has"},
    {"id": 2, "name": "maturity:young/baby", "is_has_att": "is"},
    {"id": 3, "name": "color tone:warm", "is_has_att": "has"},
]


def test_ovad_the_prompts_follow_the_ovad_rule():
    prompts = ovad_attribute_prompts(ATTRIBUTES)
    young = ["young", "baby", "kid", "kids", "child", "toddler", "boy", "girl"]
    expected = (
        ["the clean", "the is clean", "the neat", "the is neat"]
        + ["the gray color", "the has gray color", "the grey color", "the has grey color"]
        + [text for syn in young for text in (f"the {syn}", f"the is {syn}")]
        + ["the warm color", "the has warm color"]  # " tone" is dropped from the object word
    )
    assert list(prompts.templates) == expected
    assert list(prompts.attribute_index) == [0] * 4 + [1] * 4 + [2] * 16 + [3] * 2
    assert prompts.synonyms[:4] == ("clean", "clean", "neat", "neat")
    assert prompts.num_attributes == 4
    assert prompts.index_tensor().tolist() == list(prompts.attribute_index)


def test_ovad_prompts_with_an_object_word_and_the_adult_extension():
    attributes = [{"name": "cleanliness:clean", "is_has_att": "is"},
                  {"name": "maturity:adult/old/aged", "is_has_att": "is"},
                  {"name": "color:red", "is_has_att": "has"}]
    prompts = ovad_attribute_prompts(attributes, noun="object")
    assert prompts.templates[:2] == ("the clean object", "the object is clean")
    assert prompts.synonyms[2::2] == ("adult", "old", "aged", "teen", "elder", "red")
    assert prompts.templates[-2:] == ("the red color object", "the object has red color")


@pytest.mark.parametrize("attribute, message", [
    ({"name": "clean", "is_has_att": "is"}, "type:syn1/syn2"),
    ({"name": "cleanliness:clean", "is_has_att": "are"}, "is_has_att"),
    ({"id": 5, "name": "cleanliness:clean", "is_has_att": "is"}, "sorted by id"),
])
def test_ovad_prompts_reject_malformed_attributes(attribute, message):
    with pytest.raises(ValueError, match=message):
        ovad_attribute_prompts([attribute])


def test_max_over_prompts_by_hand():
    scores = torch.tensor([[0.1, 0.7, 0.3, 0.2, 0.9], [0.5, 0.4, 0.8, 0.6, -1.0]])
    index = torch.tensor([0, 0, 1, 1, 2])
    out = max_over_prompts(scores, index, 3)
    torch.testing.assert_close(out, torch.tensor([[0.7, 0.3, 0.9], [0.5, 0.8, -1.0]]))
    with pytest.raises(ValueError, match="cover"):
        max_over_prompts(scores, torch.tensor([0, 0, 1, 1, 1]), 3)


def test_class_prompts_are_lower_cased_the_prompts():
    assert class_prompts(["Traffic Light", "dog"]) == ["the traffic light", "the dog"]


# ---- cached tables ------------------------------------------------------------------------


def test_table_is_a_non_persistent_untrained_cache(tower, tokenizer):
    texts = ["red car", "dog", "the clean", "a very long caption about a person", "tree"]
    table = TextEmbeddingTable(texts, TINY.embed_dim, chunk_size=2)
    with pytest.raises(RuntimeError, match="refresh"):
        table()
    values = table.refresh(tower, tokenizer)

    assert values.shape == (5, TINY.embed_dim) and not values.requires_grad
    torch.testing.assert_close(table(), tower(tokenizer(texts)))
    assert list(table.state_dict()) == [] and list(table.parameters()) == []
    assert len(table) == 5 and table.ready


def test_table_tracks_the_tower_weights(tower, tokenizer):
    table = TextEmbeddingTable(["dog"], TINY.embed_dim)
    table.refresh(tower, tokenizer)
    assert table.is_current(tower) and table.tower_version == 0

    torch.manual_seed(1)
    source = TextTower(TINY)
    load_text_tower_weights(tower, {f"text.{k}": v for k, v in source.state_dict().items()})
    assert not table.is_current(tower)
    table.refresh(tower, tokenizer)
    assert table.is_current(tower)
    torch.testing.assert_close(table(), source.eval()(tokenizer(["dog"])))


def test_refresh_tables_fills_every_table_of_a_model(tower, tokenizer):
    model = nn.Module()
    model.tags = TextEmbeddingTable(["car", "dog", "tree"], TINY.embed_dim)
    model.attributes = TextEmbeddingTable(ovad_attribute_prompts(ATTRIBUTES).templates,
                                          TINY.embed_dim)
    model.classes = TextEmbeddingTable(class_prompts(["Person"]), TINY.embed_dim)
    model.empty = TextEmbeddingTable([], TINY.embed_dim)

    names = refresh_tables(model, tower, tokenizer)

    assert sorted(names) == ["attributes", "classes", "empty", "tags"]
    assert model.attributes().shape == (26, TINY.embed_dim)
    assert model.empty().shape == (0, TINY.embed_dim)
    assert model.state_dict() == {}


def test_table_built_on_meta_is_filled_on_the_tower_device(tower, tokenizer):
    with torch.device("meta"):
        table = TextEmbeddingTable(["car", "dog"], TINY.embed_dim)
    assert table.embeddings.is_meta
    table.refresh(tower, tokenizer)
    assert table().device.type == "cpu"
    torch.testing.assert_close(table(), tower(tokenizer(["car", "dog"])))
