"""Throughput of the multi-view processor on a dense-captioning-sized image.

    python benchmarks/bench_views.py [--regions 250] [--size 224]

Prints seconds per image for view selection (hashing) and for rendering, regions per second, and
the ratio of distinct hashed boxes to the naive count (R * (1 + N)), which the per-image cache
saves. Timings are wall clock on a shared machine: compare ratios, not absolute numbers.
"""

import argparse
import time

import numpy as np
from PIL import Image

from lavis_dynrefer.processors import multi_view
from lavis_dynrefer.processors.multi_view import MultiViewConfig, MultiViewProcessor


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--regions", type=int, default=250)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from skimage import data

    image = Image.fromarray(data.astronaut()).resize((800, 600))
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 700, (args.regions, 2)) * [1, 0.75]
    wh = rng.uniform(10, 300, (args.regions, 2))
    boxes = np.concatenate([xy, xy + wh], 1)
    proc = MultiViewProcessor(MultiViewConfig(image_size=args.size))

    hashers = []
    original = multi_view.ViewHasher

    class Counting(original):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            hashers.append(self)

    multi_view.ViewHasher = Counting
    plan_times, render_times = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        plan = proc.plan(image, boxes)
        plan_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        proc.render(image, plan.view_boxes)
        render_times.append(time.perf_counter() - start)
    multi_view.ViewHasher = original

    naive = args.regions * (1 + len(proc.candidates))
    plan_s, render_s = min(plan_times), min(render_times)
    print(f"regions per image: {args.regions}, view side {args.size}")
    print(f"select views: {plan_s:.3f} s/image ({args.regions / plan_s:.0f} regions/s)")
    print(f"render views: {render_s:.3f} s/image ({args.regions / render_s:.0f} regions/s)")
    print(f"distinct boxes hashed / naive count: {hashers[0].num_hashed}/{naive} = "
          f"{hashers[0].num_hashed / naive:.3f}")


if __name__ == "__main__":
    main()
