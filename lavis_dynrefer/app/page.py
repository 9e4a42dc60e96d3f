"""The DynRefer page (a Streamlit script; start it with ``python -m lavis_dynrefer.app``).

Pick the shipped scene or upload a photo, type boxes (one ``x1 y1 x2 y2`` per line), and see per
box the caption, tags, attributes, class and the chosen views as crops: the records of
``lavis_dynrefer.describe``. A text box grounds an expression in the typed boxes (or, without
boxes, in the selective-search proposals) with ``model.ground``. Bad input shows the one-line
errors of the commands.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
from typing import Any

import streamlit as st
from PIL import Image, UnidentifiedImageError

import lavis_dynrefer  # noqa: F401  (registers the model with LAVIS)
from lavis_dynrefer.cli import CliError, parse_box
from lavis_dynrefer.demo import draw, shipped_scene
from lavis_dynrefer.describe.api import proposal_boxes
from lavis_dynrefer.describe.regions import ImageRegions, cached_model, describe_regions
from lavis_dynrefer.ground import ground_image
from lavis_dynrefer.processors.image_io import ImageLoadError, load_image, to_rgb

TOP_ATTRIBUTES = 5
CROP_WIDTH = 120


def page_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-type", default="shapes")
    parser.add_argument("--checkpoint")
    return parser.parse_known_args(argv)[0]


@st.cache_resource(show_spinner="loading the model ...")
def model_and_processor(model_type: str, checkpoint: str | None):
    return cached_model(model_type, checkpoint)


def parse_boxes(text: str) -> list[list[float]]:
    """One box per non-empty line, ``x1 y1 x2 y2`` (commas allowed); CliError naming the line."""
    boxes = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.replace(",", " ").split()
        if not words:
            continue
        if len(words) != 4:
            raise CliError(f"boxes, line {number}: expected 4 numbers x1 y1 x2 y2, got {line!r}")
        boxes.append(parse_box(words))
    return boxes


def open_upload(name: str, data: bytes) -> Image.Image:
    """An uploaded file as upright RGB; CliError naming it if Pillow cannot read it."""
    try:
        return to_rgb(Image.open(io.BytesIO(data)))
    except UnidentifiedImageError:
        raise CliError(f"{name}: not an image file Pillow can read") from None
    except (ImageLoadError, OSError, ValueError) as err:
        raise CliError(f"{name}: cannot decode image, truncated or corrupt ({err})") from None


def chosen_image() -> tuple[str, Image.Image, str]:
    """(name, upright RGB image, default box text) of the shipped scene or an upload."""
    source = st.radio("Image", ["the shipped scene", "upload a photo"], horizontal=True)
    if source == "upload a photo":
        upload = st.file_uploader("Photo", type=["jpg", "jpeg", "png", "bmp", "webp", "tif",
                                                 "tiff", "gif"])
        if upload is None:
            st.info("Upload a photo, or pick the shipped scene.")
            st.stop()
        try:
            image = open_upload(upload.name, upload.getvalue())
        except CliError as err:
            st.error(f"error: {err}")
            st.stop()
        return upload.name, image, ""
    path, boxes = shipped_scene()
    return "shapes_scene.png", load_image(path), "\n".join(" ".join(map(str, b)) for b in boxes)


@st.cache_data(show_spinner="describing ...", max_entries=32)
def describe_cached(key: str, _model_key: tuple, boxes: tuple, _image: Image.Image
                    ) -> list[dict[str, Any]]:
    model, processor = model_and_processor(*_model_key)
    return describe_regions(model, processor, [ImageRegions(_image, [list(b) for b in boxes])]
                            )[0][0]


def show_region(index: int, record: dict[str, Any], image: Image.Image) -> None:
    box = ", ".join(f"{v:g}" for v in record["bbox"])
    st.markdown(f"**Region {index}** `[{box}]`")
    st.markdown(f"Caption: **{record['caption']}** (score {record['score']:.3f})")
    st.markdown(f"Tags: {', '.join(record['tags']) or '-'}")
    if "attributes" in record:
        top = list(record["attributes"].items())[:TOP_ATTRIBUTES]
        st.markdown("Attributes: " + ", ".join(f"{n} {s:.2f}" for n, s in top))
    if "class" in record:
        st.markdown(f"Class: {record['class']}")
    st.image([image.crop(tuple(v["box"])) for v in record["views"]],
             caption=[f"view t = {v['t']:g}" for v in record["views"]], width=CROP_WIDTH)


def main() -> None:
    args = page_args(sys.argv[1:])
    st.set_page_config(page_title="DynRefer", layout="wide")
    st.title("DynRefer: describe image regions")
    model_key = (args.model_type, args.checkpoint)
    try:
        model, processor = model_and_processor(*model_key)
    except CliError as err:
        st.error(f"error: {err}")
        st.stop()
    st.caption(f"model: dynrefer {args.model_type}" + (f" + {args.checkpoint}"
                                                       if args.checkpoint else ""))
    name, image, default_boxes = chosen_image()
    text = st.text_area("Boxes (one per line: x1 y1 x2 y2, pixels)", value=default_boxes,
                        key=f"boxes:{name}", height=150)
    try:
        boxes = parse_boxes(text)
    except CliError as err:
        st.error(f"error: {err}")
        st.stop()
    digest = hashlib.sha1(image.tobytes()).hexdigest()
    left, right = st.columns([1, 1])
    if boxes:
        try:
            records = describe_cached(f"{name}:{digest}", model_key,
                                      tuple(map(tuple, boxes)), image)
        except ValueError as err:
            st.error(f"error: {name}: {err}")
            st.stop()
        with left:
            st.image(draw(image, records), caption=f"{name}: {len(records)} region(s)")
        with right:
            for index, record in enumerate(records):
                show_region(index, record, image)
    else:
        with left:
            st.image(image, caption=name)
        with right:
            st.info("Type boxes to describe their regions.")
    expression = st.text_input("Ground an expression (press Enter)", key="expression")
    if expression.strip():
        candidates = boxes or proposal_boxes(image)
        result = ground_image(model, processor, image, candidates, [expression.strip()],
                              None)[0]
        if result["matches"]:
            st.success(f"{expression!r}: " + "; ".join(
                f"[{', '.join(f'{v:g}' for v in m['box'])}] score {m['score']:.3f}"
                for m in result["matches"]))
        else:
            best = result["best_other"]
            st.warning(f"{expression!r}: no region matches"
                       + (f" (best score {best:.3f})" if best is not None else ""))


if __name__ == "__main__":  # streamlit runs the page as __main__; importing it runs nothing
    main()
