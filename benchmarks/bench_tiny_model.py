"""Seconds for forward + backward + generate of 4 regions with the tiny model on CPU.

    python benchmarks/bench_tiny_model.py [--regions 4] [--repeats 3]

The tiny configuration's target is "well under 5 s" for 4 regions; this prints the measured
time and its ratio to that target (wall clock on a shared machine: compare ratios).
"""

import argparse
import time

import torch
from PIL import Image

import lavis_dynrefer  # noqa: F401
from lavis_dynrefer.paths import asset_path

TARGET_S = 5.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--regions", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from lavis.models import load_model_and_preprocess

    model, vis, _ = load_model_and_preprocess("dynrefer", "tiny", is_eval=True, device="cpu")
    image = Image.open(asset_path("astronaut.jpg"))
    boxes = [[10 + 20 * i, 20 + 10 * i, 200 + 20 * i, 260 + 10 * i] for i in range(args.regions)]
    views = vis["train"](image, boxes)
    samples = {"image": views.images, "region_boxes": views.boxes,
               "caption": ["a red circle left of the blue square"] * args.regions,
               "tags": [["red", "circle"]] * args.regions}
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        model.train()
        model(samples)["loss"].backward()
        model.eval()
        model.predict_answers(samples)
        times.append(time.perf_counter() - start)
    best = min(times)
    print(f"tiny model, {args.regions} regions x {views.images.shape[1]} views, "
          f"{torch.get_num_threads()} threads")
    print(f"forward + backward + generate: {best:.3f} s (target < {TARGET_S:.0f} s, "
          f"ratio {best / TARGET_S:.3f})")


if __name__ == "__main__":
    main()
