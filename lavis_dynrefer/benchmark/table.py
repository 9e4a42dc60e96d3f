"""A suite's result: a titled table for people and the same numbers as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class SuiteResult:
    """What a suite measured.

    Attributes:
        suite: the suite's name.
        columns: column headers of the table.
        rows: one dict per row, keyed by the headers (numbers or strings).
        notes: lines printed under the table (the machine, what a column means).
        extra: more JSON-only data (settings, raw timings).
        text: a table the suite formats itself (printed instead of ``columns`` / ``rows``).
    """

    suite: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    text: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"suite": self.suite, "columns": self.columns, "rows": self.rows,
                "notes": self.notes, **self.extra}


def format_cell(value: Any) -> str:
    """Numbers to 3 significant digits (integers as they are); anything else as ``str``."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def format_table(result: SuiteResult) -> str:
    """A plain-text table with aligned columns, the notes below it."""
    if result.text is not None:
        return "\n".join([f"{result.suite}:", result.text, *result.notes])
    cells = [result.columns] + [[format_cell(row.get(c)) for c in result.columns]
                                for row in result.rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(result.columns))]
    lines = [f"{result.suite}:"]
    for n, line in enumerate(cells):
        lines.append("  ".join(cell.rjust(width) for cell, width in zip(line, widths)))
        if n == 0:
            lines.append("  ".join("-" * width for width in widths))
    lines.extend(result.notes)
    return "\n".join(lines)


def write_json(result: SuiteResult, path: str | Path) -> None:
    Path(path).write_text(json.dumps(result.as_json(), indent=1) + "\n")
