"""Tag lists: the validating loader and the vocabulary builder with its min-count cut-off."""

from __future__ import annotations

import pytest
from raw_formats import write_json

from lavis_dynrefer.data import build_tag_vocab
from lavis_dynrefer.data.tag_list import (
    TagListError,
    load_tag_list,
    tag_index,
    tags_in_vocabulary,
    write_tag_list,
)


def test_load_tag_list(tmp_path):
    path = tmp_path / "tags.txt"
    path.write_text("Car\n red car \nroad\n\n\n", encoding="utf-8")
    assert load_tag_list(path) == ["Car", "red car", "road"]


def test_tag_case_is_the_releases(tmp_path):
    # The release reads its list with fr.readlines() and tag.strip() (dataset.py, dynrefer_t5.py):
    # 18 RAM tags keep capitals, and they are control-word text.
    text = "3D CG rendering\nFrench fries\n french toast\nWii controller \ncar\n"
    path = tmp_path / "ram.txt"
    path.write_text(text, encoding="utf-8")
    release = [tag.strip() for tag in path.open().readlines()]
    assert load_tag_list(path) == release
    # Caption phrases are lower-case: they still find the capitalised tags.
    index = tag_index(release)
    assert tags_in_vocabulary(["french fries", "wii controller", "Car"], index) == [1, 3]
    assert index["French fries"] == index["french fries"] == 1


@pytest.mark.parametrize("text, message", [
    ("", "tag list is empty"),
    ("\n\n", "tag list is empty"),
    ("car\n\nroad\n", "tags.txt:2: blank line"),
    ("car\nroad\ncar\n", "tags.txt:3: duplicate tag 'car' \\(first on line 1\\)"),
    ("car\nroad\nCar\n", "tags.txt:3: duplicate tag 'Car' \\(first on line 1\\)"),
])
def test_load_tag_list_rejects(tmp_path, text, message):
    path = tmp_path / "tags.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TagListError, match=message):
        load_tag_list(path)


def test_load_tag_list_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no_such_tags.txt"):
        load_tag_list(tmp_path / "no_such_tags.txt")


def test_write_then_load_and_map(tmp_path):
    path = write_tag_list(["car", "red car", "road"], tmp_path / "sub" / "tags.txt")
    tags = load_tag_list(path)
    assert tags_in_vocabulary(["road", "small", "car"], tag_index(tags)) == [0, 2]
    with pytest.raises(TagListError, match="duplicate"):
        write_tag_list(["car", "car"], tmp_path / "bad.txt")


def _region_file(path, captions_and_phrases):
    annotations = []
    for i, (caption, stored) in enumerate(captions_and_phrases, start=1):
        extra = {} if stored is None else {"phrases": stored}
        annotations.append({"id": i, "image_id": 1, "bbox": [0, 0, 1, 1], "caption": caption,
                            "extra_info": extra})
    images = [{"id": 1, "file_name": "1.jpg", "width": 10, "height": 10}]
    return write_json(path, {"images": images, "annotations": annotations})


@pytest.fixture
def train_files(tmp_path):
    # counts by hand (one per annotation): car 3, red 3, red car 2, bus 1, red bus 1, vintage 1
    first = _region_file(tmp_path / "a.json", [
        ("red car", ["car", "red", "red car", "vintage"]),  # stored phrases are used as they are
        ("a red car", None),                                # parsed here
        ("the red bus", None),
        ("", None),
    ])
    second = _region_file(tmp_path / "b.json", [("a car", None)])
    return [first, second]


def test_min_count_cut_off(train_files):
    assert build_tag_vocab.build_vocabulary(train_files, min_count=2) == ["car", "red", "red car"]
    assert build_tag_vocab.build_vocabulary(train_files, min_count=3) == ["car", "red"]
    assert build_tag_vocab.build_vocabulary(train_files, min_count=1) == [
        "car", "red", "red car", "bus", "red bus", "vintage"]
    assert build_tag_vocab.build_vocabulary(train_files, min_count=1, max_tags=2) == ["car", "red"]
    assert "vintage" not in build_tag_vocab.build_vocabulary(train_files, 1, reparse=True)


def test_main_writes_a_loadable_list(train_files, tmp_path, capsys):
    out = tmp_path / "tags.txt"
    build_tag_vocab.main(["--annotations", *map(str, train_files), "--min-count", "2",
                          "--out", str(out)])
    assert load_tag_list(out) == ["car", "red", "red car"]
    with pytest.raises(SystemExit) as exit_info:
        build_tag_vocab.main(["--annotations", *map(str, train_files), "--min-count", "9",
                              "--out", str(tmp_path / "none.txt")])
    assert exit_info.value.code == 2
    assert "no tag reaches --min-count 9" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_tag_vocab.main(["--annotations", str(tmp_path / "gone.json"), "--out", str(out)])
    assert "gone.json" in capsys.readouterr().err
