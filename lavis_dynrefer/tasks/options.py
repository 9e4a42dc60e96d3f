"""Task options read from the LAVIS ``run:`` section, typed and checked.

``run:`` mixes LAVIS's own keys (``lr_sched``, ``batch_size_eval``, ``use_dist_eval_sampler``, ...)
with the task's, and LAVIS itself accepts any key there. So a key that the task does not model is
left alone, unless it is a near-miss of a task option (``tag_treshold``): that is a typo that would
otherwise silently fall back to a default, and it fails with a suggestion.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from typing import Any

from lavis_dynrefer.typed_config import ConfigError, from_mapping

# How close (difflib ratio) an unknown run key must be to a task option to count as its typo.
TYPO_CUTOFF = 0.8


@dataclasses.dataclass(frozen=True)
class TaskOptions:
    """Options shared by the region tasks.

    Attributes:
        tag_threshold: sigmoid threshold of predicted tags during evaluation (method.md section
            3: 0.7 by default, 0.8 for VG region captioning, 0.76 for RefCOCOg); None keeps the
            model's own ``config.tag_threshold``.
    """

    tag_threshold: float | None = None

    def __post_init__(self) -> None:
        if self.tag_threshold is not None and not 0.0 < self.tag_threshold < 1.0:
            raise ConfigError(f"run.tag_threshold must lie in (0, 1), got {self.tag_threshold}")

    @classmethod
    def from_run_cfg(cls, run_cfg: Mapping[str, Any] | None) -> TaskOptions:
        """The task options of a ``run:`` section (OmegaConf node or dict; None = defaults).

        Raises:
            ConfigError: a near-miss of an option name, or an option of the wrong type.
        """
        run_cfg = run_cfg if run_cfg is not None else {}
        names = [field.name for field in dataclasses.fields(cls)]
        for key in run_cfg.keys():
            if key in names:
                continue
            close = difflib.get_close_matches(str(key), names, n=1, cutoff=TYPO_CUTOFF)
            if close:
                raise ConfigError(f"run: unknown key {key!r} (did you mean {close[0]!r}?); "
                                  f"task options: {', '.join(names)}")
        return from_mapping(cls, {k: run_cfg[k] for k in names if k in run_cfg}, "run")
