"""Test-only LAVIS components for the runner tests: a tiny regressor on synthetic data.

Importing this module registers, under names prefixed ``test_runner_`` (so they cannot collide
with the plugin's), a model, a dataset builder and a task. The plugin's own datasets and tasks
are not needed, so the runner is tested on its own. Subprocesses import it through
``runner_launch.py``; import it under this one module name only (LAVIS refuses a second
registration).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import yaml
from lavis.common.registry import registry
from lavis.datasets.builders.base_dataset_builder import BaseDatasetBuilder
from lavis.models.base_model import BaseModel
from lavis.tasks.base_task import BaseTask
from torch import nn
from torch.utils.data import Dataset, default_collate

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
MODEL = "test_runner_tiny_regressor"
DATASET = "test_runner_synthetic"
TASK = "test_runner_regression"


@registry.register_model(MODEL)
class TinyRegressor(BaseModel):
    """x [B, I] -> y [B, 1] through a frozen linear map, a trainable MLP with LayerNorm.

    Parameters cover every case of the weight-decay rule: 2-d weights (decay), biases, LayerNorm,
    a 2-d parameter with ``ln`` in its name, a 0-d scale (no decay), and a frozen weight (left
    out of the optimizer and of checkpoints). Dropout makes the resume test depend on the RNG.
    """

    PRETRAINED_MODEL_CONFIG_DICT = {"default": str(CONFIG_DIR / "tiny_model.yaml")}

    def __init__(self, in_dim: int = 8, hidden: int = 16, dropout: float = 0.1):
        super().__init__()
        self.frozen = nn.Linear(in_dim, in_dim, bias=False)
        self.frozen.weight.requires_grad_(False)
        self.encoder = nn.Linear(in_dim, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.ln_gate = nn.Parameter(torch.ones(1, hidden))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, 1)
        self.scale = nn.Parameter(torch.tensor(1.0))
        self.register_buffer("offset", torch.zeros(1))

    @classmethod
    def from_config(cls, cfg: Any) -> TinyRegressor:
        return cls(in_dim=cfg.in_dim, hidden=cfg.hidden, dropout=cfg.dropout)

    def predict(self, samples: dict[str, torch.Tensor]) -> torch.Tensor:
        """Predictions [B, 1]."""
        hidden = self.norm(torch.relu(self.encoder(self.frozen(samples["x"])))) * self.ln_gate
        return self.head(self.dropout(hidden)) * self.scale + self.offset

    def forward(self, samples: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"loss": F.mse_loss(self.predict(samples), samples["y"])}


class SyntheticRegression(Dataset):
    """``n`` samples of y = x . w + noise with a fixed w; the same ``seed`` gives the same data."""

    def __init__(self, n: int, in_dim: int, seed: int):
        gen = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, in_dim, generator=gen)
        weights = torch.linspace(-1.0, 1.0, in_dim)
        self.y = (self.x @ weights).unsqueeze(1) + 0.05 * torch.randn(n, 1, generator=gen)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"x": self.x[index], "y": self.y[index], "instance_id": index}

    def collater(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        return default_collate(samples)


@registry.register_builder(DATASET)
class SyntheticBuilder(BaseDatasetBuilder):
    DATASET_CONFIG_DICT = {"default": str(CONFIG_DIR / "tiny_dataset.yaml")}

    def build_datasets(self) -> dict[str, Dataset]:
        cfg = self.config
        return {split: SyntheticRegression(size, cfg.in_dim, seed=cfg.seed + i)
                for i, (split, size) in enumerate(cfg.sizes.items())}


@registry.register_task(TASK)
class RegressionTask(BaseTask):
    """agg_metrics = 1 / (1 + MSE); 0 with ``run.test_runner_zero_metric`` (no best epoch);
    1 / (1 + epoch) with ``run.test_runner_best_first`` (epoch 0 stays the best)."""

    def __init__(self, zero_metric: bool = False, best_first: bool = False):
        super().__init__()
        self.zero_metric = zero_metric
        self.best_first = best_first

    @classmethod
    def setup_task(cls, cfg: Any) -> RegressionTask:
        return cls(zero_metric=bool(cfg.run_cfg.get("test_runner_zero_metric", False)),
                   best_first=bool(cfg.run_cfg.get("test_runner_best_first", False)))

    def valid_step(self, model: TinyRegressor, samples: dict[str, Any]) -> list[float]:
        return ((model.predict(samples) - samples["y"]) ** 2).squeeze(1).tolist()

    def after_evaluation(self, val_result: list[float], split_name: str, epoch: Any,
                         **kwargs: Any) -> dict[str, float]:
        mse = sum(val_result) / len(val_result)
        if self.zero_metric:
            agg = 0.0
        elif self.best_first and isinstance(epoch, int):
            agg = 1.0 / (1.0 + epoch)
        else:
            agg = 1.0 / (1.0 + mse)
        return {"agg_metrics": agg, "mse": mse}


def write_run_config(directory: Path, **run: Any) -> Path:
    """A LAVIS run yaml for the tiny setup in ``directory``; ``run`` overrides ``run:`` keys."""
    run_cfg = {
        "task": TASK,
        "lr_sched": "linear_warmup_cosine_lr",
        "init_lr": 1e-2,
        "min_lr": 0.0,
        "warmup_lr": 1e-3,
        "warmup_steps": 4,
        "weight_decay": 0.05,
        "max_epoch": 2,
        "batch_size_train": 8,
        "batch_size_eval": 16,
        "num_workers": 0,
        "seed": 42,
        "output_dir": str(directory / "output"),
        "amp": False,
        "evaluate": False,
        "train_splits": ["train"],
        "valid_splits": ["val"],
        "test_splits": ["test"],
        "device": "cpu",
        "dist_url": "env://",
        "log_freq": 4,
    }
    run_cfg.update(run)
    config = {"model": {"arch": MODEL, "model_type": "default"},
              "datasets": {DATASET: {"type": "default"}}, "run": run_cfg}
    path = directory / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path
