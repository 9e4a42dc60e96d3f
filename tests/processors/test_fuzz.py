"""Property-based checks of the processor and the views command's argument parsing."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from lavis_dynrefer.cli import CliError, parse_box
from lavis_dynrefer.processors.multi_view import MultiViewConfig, MultiViewProcessor

PROC = MultiViewProcessor(MultiViewConfig(image_size=8))
coordinate = st.one_of(
    st.floats(min_value=-50, max_value=150, allow_nan=False),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 0.0]),
    st.integers(min_value=-50, max_value=150),
)
box = st.lists(coordinate, min_size=4, max_size=4)


def expected_error(values, width, height):
    """Why a box must be refused, derived independently of the implementation, or None."""
    if not all(math.isfinite(v) for v in values):
        return "finite"
    x1, y1, x2, y2 = values
    if x2 < x1 or y2 < y1:
        return "reversed"
    if min(x2, width) <= max(x1, 0) or min(y2, height) <= max(y1, 0):
        return "empty after clipping"
    return None


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(width=st.integers(1, 40), height=st.integers(1, 40), boxes=st.lists(box, max_size=4),
       mode=st.sampled_from(["train", "eval"]))
def test_processor_accepts_or_names_the_bad_box(width, height, boxes, mode):
    image = Image.new("RGB", (width, height), (30, 60, 90))
    errors = [expected_error(b, width, height) for b in boxes]
    bad = next((i for i, e in enumerate(errors) if e), None)
    if bad is not None:
        with pytest.raises(ValueError) as info:
            PROC.plan(image, boxes, mode=mode)
        assert str(info.value).startswith(f"box {bad}:") and errors[bad] in str(info.value)
        return
    plan = PROC.plan(image, boxes, mode=mode)
    views = plan.view_boxes
    assert views.shape == (len(boxes), 3, 4)
    assert (views[..., 0] >= 0).all() and (views[..., 1] >= 0).all()
    assert (views[..., 2] <= width).all() and (views[..., 3] <= height).all()
    assert (views[..., 2] > views[..., 0]).all() and (views[..., 3] > views[..., 1]).all()
    assert np.allclose(plan.boxes[:, 0], [0, 0, 8, 8])
    assert (plan.ts[:, 0] == 0).all()
    assert all(len(set(row[1:].tolist())) == 2 for row in plan.ts)


@settings(max_examples=200, deadline=None)
@given(words=st.lists(st.text(max_size=8), min_size=4, max_size=4))
def test_parse_box_gives_four_finite_numbers_or_a_cli_error(words):
    try:
        values = parse_box(words)
    except CliError as err:
        assert "--box" in str(err)
        return
    assert len(values) == 4 and all(math.isfinite(v) for v in values)
