"""``startup`` suite: wall time of ``import lavis_dynrefer`` and of the README's first command.

Each is a fresh Python process (best of ``--repeats``); ``-X importtime`` of the import names
the top-level packages whose import takes longest (cumulative, self included).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from lavis_dynrefer.benchmark.machine import describe, machine, peak_rss_mib
from lavis_dynrefer.benchmark.table import SuiteResult

COLUMNS = ["what", "wall s", "note"]
IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-demo", action="store_true",
                        help="time the import only (the demo loads and runs the shapes model)")
    parser.add_argument("--top", type=int, default=6, help="packages to list from -X importtime")


def wall(command: list[str], repeats: int) -> float:
    best = float("inf")
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=os.environ.copy())
        best = min(best, time.perf_counter() - start)
    return best


def top_imports(top: int) -> list[tuple[str, float]]:
    """Top-level packages by the import seconds of their own modules (``-X importtime``'s
    self times summed per package, so nothing counts twice)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import lavis_dynrefer"],
                          check=True, capture_output=True, text=True, env=os.environ.copy())
    totals: dict[str, float] = defaultdict(float)
    for line in done.stderr.splitlines():
        match = IMPORTTIME.match(line)
        if match:
            totals[match.group(2).split(".")[0]] += int(match.group(1)) / 1e6
    return sorted(totals.items(), key=lambda item: -item[1])[:top]


def run(args: argparse.Namespace) -> SuiteResult:
    result = SuiteResult("startup", COLUMNS)
    python = sys.executable
    result.rows.append({"what": "python -c pass", "wall s": wall([python, "-c", "pass"],
                                                                   args.repeats),
                        "note": "the interpreter alone"})
    imports = top_imports(args.top)
    result.rows.append({
        "what": "import lavis_dynrefer",
        "wall s": wall([python, "-c", "import lavis_dynrefer"], args.repeats),
        "note": "; ".join(f"{name} {seconds:.2f} s" for name, seconds in imports)})
    if not args.skip_demo:
        with tempfile.TemporaryDirectory() as folder:
            out = str(Path(folder) / "demo.png")
            result.rows.append({
                "what": "python -m lavis_dynrefer.demo",
                "wall s": wall([python, "-m", "lavis_dynrefer.demo", "--out", out],
                               args.repeats),
                "note": "the README's first command (shapes model, shipped scene)"})
    info = machine()
    result.notes = [f"best of {args.repeats} fresh processes; note: import seconds of each "
                    "package's own modules (-X importtime self times), largest first",
                    f"this process's peak RSS {peak_rss_mib():.0f} MiB", describe(info)]
    result.extra = {"machine": info, "imports": dict(imports)}
    return result
