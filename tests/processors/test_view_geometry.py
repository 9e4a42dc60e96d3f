"""View boxes and the box in a view's frame, against values computed by hand."""

import numpy as np
import pytest

from lavis_dynrefer.processors.view_geometry import box_in_view, validate_boxes, view_boxes


def test_view_boxes_t0_half_one():
    # b = (10, 20, 30, 40) in a 100 x 80 image; b_t = b + (I - b) t.
    # t = 0.5: (10 - 5, 20 - 10, 30 + 35, 40 + 20) = (5, 10, 65, 60).
    boxes = validate_boxes([[10, 20, 30, 40]], 100, 80)
    out = view_boxes(boxes, [0.0, 0.5, 1.0], 100, 80)
    assert out.dtype == np.int64
    assert out.tolist() == [[[10, 20, 30, 40], [5, 10, 65, 60], [0, 0, 100, 80]]]


def test_view_boxes_clip_then_interpolate():
    # (-10, 5, 50, 90) clipped to 100 x 80 -> (0, 5, 50, 80);
    # t = 0.5: (0, 2.5, 75, 80) -> truncated (0, 2, 75, 80).
    boxes = validate_boxes([[-10, 5, 50, 90]], 100, 80)
    assert boxes.tolist() == [[0, 5, 50, 80]]
    assert view_boxes(boxes, [0.0, 0.5], 100, 80).tolist() == [[[0, 5, 50, 80], [0, 2, 75, 80]]]


def test_view_boxes_truncate_not_round():
    # t = 0.1: x1 = 10.7 - 1.07 = 9.63 -> 9; y1 = 20.2 - 2.02 = 18.18 -> 18;
    # x2 = 30.9 + 6.91 = 37.81 -> 37; y2 = 40.5 + 3.95 = 44.45 -> 44.
    boxes = validate_boxes([[10.7, 20.2, 30.9, 40.5]], 100, 80)
    assert view_boxes(boxes, [0.0, 0.1], 100, 80).tolist() == [
        [[10, 20, 30, 40], [9, 18, 37, 44]]
    ]


def test_view_boxes_at_least_one_pixel():
    # (10.2, 10.2, 10.7, 10.9) truncates to an empty (10, 10, 10, 10); widened to 1 px.
    boxes = validate_boxes([[10.2, 10.2, 10.7, 10.9], [99.5, 79.5, 100, 80]], 100, 80)
    out = view_boxes(boxes, [0.0], 100, 80)
    assert out[:, 0].tolist() == [[10, 10, 11, 11], [99, 79, 100, 80]]


def test_view_boxes_match_release_float32_arithmetic():
    # The release computes bbox_f32 + (image_f32 - bbox_f32) * w with w = (i + 1) / 10 (float64
    # python scalars, which numpy 1.x applies in float32), then truncates.
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 300, size=(200, 2))
    wh = rng.uniform(1, 200, size=(200, 2))
    raw = np.concatenate([xy, np.minimum(xy + wh, [640, 480])], 1)
    boxes = validate_boxes(raw, 640, 480)
    ts = [(i + 1) / 10 for i in range(10)]
    ours = view_boxes(boxes, ts, 640, 480)
    image = np.array([0, 0, 640, 480], np.float32)
    for r, box in enumerate(boxes):
        for n, t in enumerate(ts):
            expected = (box + (image - box) * np.float32(t)).astype(np.int64)
            assert ours[r, n].tolist() == expected.tolist()


def test_box_in_view_frame():
    # view (5, 10, 65, 60) of b = (10, 20, 30, 40), S = 224:
    # x1' = 5 * 224 / 60 = 18.667, y1' = 10 * 224 / 50 = 44.8,
    # x2' = 25 * 224 / 60 = 93.333, y2' = 30 * 224 / 50 = 134.4.
    box = np.array([[10, 20, 30, 40]], np.float32)
    views = np.array([[[10, 20, 30, 40], [5, 10, 65, 60]]])
    out = box_in_view(box, views, 224, release=False)
    np.testing.assert_allclose(out[0, 0], [0, 0, 224, 224])
    np.testing.assert_allclose(out[0, 1], [18.6666667, 44.8, 93.3333333, 134.4], rtol=1e-6)
    # The release's integer frame truncates the same products.
    release = box_in_view(box, views, 224)
    np.testing.assert_array_equal(release[0], [[0, 0, 224, 224], [18, 44, 93, 134]])


def _torchvision_release_frame(box, view, size):
    """The release's cascade_region_process for one view: int64 target minus the view corner,
    then torchvision v2 Resize((S, S)) on an int64 BoundingBoxes of the crop's canvas."""
    import torch
    from torchvision import tv_tensors
    from torchvision.transforms import v2

    x1, y1, x2, y2 = view
    region = torch.tensor(box, dtype=torch.int64) - torch.tensor([x1, y1, x1, y1])
    target = tv_tensors.BoundingBoxes(region[None], format="XYXY", canvas_size=(y2 - y1, x2 - x1))
    return v2.Resize((size, size))(target).data[0].tolist()


@pytest.mark.parametrize("side", [23, 46, 83, 92, 224, 300])
def test_box_in_view_release_frame_is_torchvision_resize(side):
    # A box 40 px wide and `side` px high is its own t = 0 view. float32(224 / side) * side is
    # 223.99998 for 23, 46, 83 and 92, so the release maps the box to (0, 0, 224, 223).
    box = np.array([[10, 20, 50, 20 + side]])
    ours = box_in_view(box, box[:, None, :], 224)[0, 0].tolist()
    assert ours == _torchvision_release_frame(box[0].tolist(), box[0].tolist(), 224)
    assert ours == [0, 0, 224, 223 if side in (23, 46, 83, 92) else 224]


def test_box_in_view_release_frame_random_views():
    rng = np.random.default_rng(0)
    for _ in range(300):
        x1, y1 = rng.integers(0, 400, 2)
        box = np.array([x1, y1, x1 + rng.integers(1, 300), y1 + rng.integers(1, 300)])
        grow = rng.integers(0, 200, 4)
        view = box + np.array([-min(grow[0], box[0]), -min(grow[1], box[1]), grow[2], grow[3]])
        size = int(rng.choice([112, 224, 364]))
        ours = box_in_view(box[None], view[None, None], size)[0, 0].tolist()
        assert ours == _torchvision_release_frame(box.tolist(), view.tolist(), size), (box, view)


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ([1, 2, 3], "expected 4 numbers"),
        ([1, 2, 3, 4, 5], "expected 4 numbers"),
        (["a", 2, 3, 4], "expected 4 numbers"),
        (None, "expected 4 numbers"),
        ([float("nan"), 2, 3, 4], "finite"),
        ([1, 2, float("inf"), 4], "finite"),
        ([30, 2, 10, 4], "reversed"),
        ([1, 40, 3, 4], "reversed"),
        ([200, 10, 300, 20], "empty after clipping"),
        ([5, 5, 5, 9], "empty after clipping"),
    ],
)
def test_bad_boxes_name_index_and_value(bad, fragment):
    with pytest.raises(ValueError) as info:
        validate_boxes([[0, 0, 10, 10], bad], 100, 80)
    message = str(info.value)
    assert message.startswith("box 1:")
    assert fragment in message


def test_zero_boxes():
    assert validate_boxes([], 10, 10).shape == (0, 4)
    assert validate_boxes(np.zeros((0, 4)), 10, 10).shape == (0, 4)
    assert view_boxes(np.zeros((0, 4), np.float32), [0.0, 0.5], 10, 10).shape == (0, 2, 4)
