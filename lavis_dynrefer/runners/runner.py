"""LAVIS's epoch runner, made to run on CPU (and under torchrun with gloo), resumable and safe.

``RunnerBase`` (LAVIS 1.0.2) fails on CPU in these places, each fixed by one override below:

1. ``model`` moves and wraps the model only when it is not on the device yet, so on CPU (where
   it already is) it returns ``None``; DDP is given ``device_ids=[gpu]`` even on CPU.
2. ``PrefetchLoader`` creates a ``torch.cuda.Stream`` (and ``IterLoader`` sleeps 2 s per epoch).
3. ``train`` calls ``dist.barrier()`` with no process group in single-process runs.
4. ``eval_epoch`` calls ``task.evaluation`` without ``cuda_enabled``, whose default moves every
   batch to CUDA.
5. The metric logger all-reduces its meters on a ``"cuda"`` tensor (gloo runs on CPU fail).
6. ``lavis.runners`` and ``lavis.common.optims`` are not imported by ``import lavis``: this
   module imports both, so the runner and the LR schedulers are registered with it.

Also: ``output_dir`` is resolved against the working directory (LAVIS joins it onto its own
package dir), checkpoints are written atomically, resuming loads with ``weights_only=True`` and
accepts checkpoints without frozen parameters (LAVIS saves only trainable ones but then resumes
with a strict load), each epoch's randomness depends only on (seed, rank, epoch), so a
resumed run repeats the uninterrupted one exactly (checkpoints also record the best epoch and
its metric, and resuming carries ``checkpoint_best.pth`` over, so the test phase after a resume
uses the best epoch of the whole run, as LAVIS's resume does not), and a non-finite training
loss stops the run (``NonFiniteLossError``, naming the epoch and iteration) before that epoch's
checkpoint is written.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import pickle
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import lavis.common.optims  # noqa: F401  (CPU failure 6: registers the LR schedulers)
import torch
import torch.distributed as dist
from lavis.common.dist_utils import get_rank, get_world_size, main_process
from lavis.common.logger import SmoothedValue
from lavis.common.registry import registry
from lavis.common.utils import is_url
from lavis.runners.runner_base import RunnerBase  # CPU failure 6: registers runner_base
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from lavis_dynrefer import names
from lavis_dynrefer.atomic_files import replaced_atomically
from lavis_dynrefer.runners.distributed import seed_everything
from lavis_dynrefer.runners.grad_clip import clip_gradients_before_step
from lavis_dynrefer.runners.loaders import create_loaders, set_loader_epoch
from lavis_dynrefer.runners.lr_schedule import build_lr_scheduler

logger = logging.getLogger(__name__)

#: Substrings that exclude a parameter from weight decay (the release's rule, section 1.1).
NO_DECAY_MARKERS = ("bias", "ln", "bn")


def optimizer_param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """The release's two AdamW groups over the trainable parameters, in ``named_parameters`` order.

    Group 0 (``weight_decay``): tensors with ndim >= 2 and none of ``bias``/``ln``/``bn`` in the
    name; group 1 (no decay): the rest. Frozen parameters are left out.
    """
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if param.ndim < 2 or any(marker in name for marker in NO_DECAY_MARKERS):
            no_decay.append(param)
        else:
            decay.append(param)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file next to ``path``, then rename it over ``path``.

    A crash mid-write (a full disk, a killed job) leaves the previous checkpoint intact and no
    half-written file that a later resume would choke on.
    """
    with replaced_atomically(path) as tmp, tmp.open("wb") as f:
        torch.save(obj, f)


def load_trainable_state(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Load a runner checkpoint's ``model`` dict, which may lack frozen parameters.

    Raises:
        RuntimeError: a key the model does not have, or a missing key that is not a frozen
            parameter (a trainable parameter or a buffer).
    """
    expected = set(model.state_dict().keys())
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    unexpected = sorted(set(state_dict) - expected)
    missing = sorted(expected - set(state_dict) - frozen)
    if unexpected or missing:
        raise RuntimeError(f"checkpoint does not match the model: unexpected keys "
                           f"{unexpected[:5]} ({len(unexpected)}), missing trainable keys or "
                           f"buffers {missing[:5]} ({len(missing)})")
    model.load_state_dict(state_dict, strict=False)


class NonFiniteLossError(FloatingPointError):
    """A training step's loss was NaN or infinite; training stopped before its backward pass."""


def _check_finite_loss(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
    """Forward hook: raise ``NonFiniteLossError`` when ``output["loss"]`` is not finite.

    Names the epoch and iteration (LAVIS's ``_train_inner_loop`` puts ``epoch`` and ``iters``
    into the samples) and every scalar loss part the model returned (``loss_*``).
    """
    loss = output.get("loss") if isinstance(output, Mapping) else getattr(output, "loss", None)
    if not isinstance(loss, torch.Tensor) or bool(torch.isfinite(loss.detach()).all()):
        return
    samples = args[0] if args and isinstance(args[0], Mapping) else {}
    where = f"epoch {samples.get('epoch', '?')}, iteration {samples.get('iters', '?')}"
    if "num_iters_per_epoch" in samples:
        where += f" of {samples['num_iters_per_epoch']}"
    parts = [f"{k}={v.item():.4g}" for k, v in output.items()
             if k != "loss" and isinstance(v, torch.Tensor) and v.numel() == 1
             ] if isinstance(output, Mapping) else []
    value = loss.detach().float().flatten()[0].item()
    raise NonFiniteLossError(
        f"non-finite training loss {value} at {where}"
        + (f" ({', '.join(parts)})" if parts else "")
        + ": training stopped before this epoch's checkpoint was written")


def _synchronize_on_cpu(meter: SmoothedValue) -> None:
    """``SmoothedValue.synchronize_between_processes`` with its tensor on CPU (for gloo)."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    totals = torch.tensor([meter.count, meter.total], dtype=torch.float64)
    dist.barrier()
    dist.all_reduce(totals)
    meter.count, meter.total = int(totals[0]), float(totals[1])


@contextlib.contextmanager
def _meters_synchronized_on_cpu(active: bool) -> Iterator[None]:
    """CPU failure 5: LAVIS's tasks build their MetricLogger inside ``train_epoch``, out of the
    runner's reach, and its meters all-reduce a ``device="cuda"`` tensor. While ``active``
    (a gloo process group on CPU) the class method is swapped for a CPU one, then restored."""
    if not active:
        yield
        return
    original = SmoothedValue.synchronize_between_processes
    SmoothedValue.synchronize_between_processes = _synchronize_on_cpu
    try:
        yield
    finally:
        SmoothedValue.synchronize_between_processes = original


def _module_device(module: nn.Module) -> torch.device:
    tensor = next(module.parameters(), None)
    if tensor is None:
        tensor = next(module.buffers(), None)
    return tensor.device if tensor is not None else torch.device("cpu")


@registry.register_runner(names.RUNNER)
class DynReferRunner(RunnerBase):
    """``RunnerBase`` with the CPU fixes, atomic checkpoints and exact resume (module docstring).

    Extra ``run`` options: ``find_unused_parameters`` (DDP, default False),
    ``save_every_epoch`` (also write ``checkpoint_<epoch>.pth`` when there are validation
    splits, so a run can be resumed from its last epoch; default False as in LAVIS).
    """

    def setup_output_dir(self) -> None:
        """``<output_dir>/<job_id>`` with a relative ``output_dir`` taken from the working dir."""
        output_dir = Path(self.config.run_cfg.output_dir).expanduser().resolve() / self.job_id
        result_dir = output_dir / "result"
        result_dir.mkdir(parents=True, exist_ok=True)
        # registry.register_path refuses a second registration, which would forbid a second
        # runner in one process (tests, notebooks); the runner owns these two paths.
        registry.mapping["paths"]["result_dir"] = str(result_dir)
        registry.mapping["paths"]["output_dir"] = str(output_dir)
        self.result_dir, self.output_dir = result_dir, output_dir

    @property
    def model(self) -> nn.Module:
        """The model on ``run.device``, DDP-wrapped when distributed (CPU failure 1)."""
        if self._wrapped_model is None:
            if _module_device(self._model) != self.device:
                self._model = self._model.to(self.device)
            trainable = any(p.requires_grad for p in self._model.parameters())
            if self.use_distributed and trainable:
                self._wrapped_model = DDP(
                    self._model,
                    device_ids=[self.config.run_cfg.gpu] if self.cuda_enabled else None,
                    find_unused_parameters=self.config.run_cfg.get(
                        "find_unused_parameters", False),
                )
            else:
                self._wrapped_model = self._model
        return self._wrapped_model

    def unwrap_dist_model(self, model: nn.Module) -> nn.Module:
        return model.module if isinstance(model, DDP) else model

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """AdamW over the release's two parameter groups (``optimizer_param_groups``); with
        ``run.max_grad_norm`` the gradients are clipped to that norm before each step."""
        if self._optimizer is None:
            run_cfg = self.config.run_cfg
            groups = optimizer_param_groups(self.unwrap_dist_model(self.model),
                                            float(run_cfg.weight_decay))
            logger.info("number of trainable parameters: %d (%d tensors with weight decay, "
                        "%d without)", sum(p.numel() for g in groups for p in g["params"]),
                        len(groups[0]["params"]), len(groups[1]["params"]))
            self._optimizer = torch.optim.AdamW(groups, lr=float(run_cfg.init_lr),
                                                betas=(0.9, run_cfg.get("beta2", 0.999)))
            max_norm = run_cfg.get("max_grad_norm")
            if max_norm is not None:
                clip_gradients_before_step(self._optimizer, float(max_norm))
                logger.info("gradients clipped to a global norm of %g before each step",
                            max_norm)
        return self._optimizer

    @property
    def lr_scheduler(self) -> Any:
        """``run.lr_sched`` built as LAVIS builds it (``lr_schedule.build_lr_scheduler``); a
        step-based schedule also gets the training loader's steps per epoch."""
        if self._lr_sched is None:
            self._lr_sched = build_lr_scheduler(
                self.config.run_cfg, self.optimizer, max_epoch=self.max_epoch,
                min_lr=self.min_lr, init_lr=self.init_lr,
                iters_per_epoch=lambda: len(self.train_loader))
        return self._lr_sched

    @property
    def scaler(self) -> torch.amp.GradScaler | None:
        """A CUDA GradScaler when ``run.amp``; none on CPU, where LAVIS's autocast is CUDA-only."""
        if self.config.run_cfg.get("amp", False) and self._scaler is None:
            if self.cuda_enabled:
                self._scaler = torch.amp.GradScaler("cuda")
            elif not getattr(self, "_amp_ignored", False):
                logger.warning("run.amp is ignored on %s: training in float32", self.device)
                self._amp_ignored = True
        return self._scaler

    def create_loaders(self, datasets, num_workers, batch_sizes, is_trains, collate_fns,
                       dataset_ratios=None) -> list[Any]:
        """CPU failure 2: no CUDA prefetcher off CUDA, and epoch-addressed training loaders."""
        return create_loaders(datasets, batch_sizes, is_trains, collate_fns, dataset_ratios,
                              num_workers=num_workers, distributed=self.use_distributed,
                              use_dist_eval_sampler=self.use_dist_eval_sampler,
                              cuda=self.cuda_enabled)

    @property
    def _gloo_on_cpu(self) -> bool:
        return dist.is_available() and dist.is_initialized() and not self.cuda_enabled

    def _barrier(self) -> None:
        """CPU failure 3: ``dist.barrier()`` only when a process group exists."""
        if dist.is_available() and dist.is_initialized():
            dist.barrier()

    def train(self) -> None:
        """LAVIS's ``RunnerBase.train`` loop with a guarded barrier and per-epoch checkpoints on
        request; the best checkpoint is still written only when ``agg_metrics > 0``."""
        start_time = time.time()
        self.best_epoch, self.best_agg_metric = 0, 0
        self.log_config()
        if not self.evaluate_only and self.resume_ckpt_path is not None:
            self._load_checkpoint(self.resume_ckpt_path)
        save_every_epoch = bool(self.config.run_cfg.get("save_every_epoch", False))
        cur_epoch = self.start_epoch
        for cur_epoch in range(self.start_epoch, self.max_epoch):
            if not self.evaluate_only:
                logger.info("Start training epoch %d", cur_epoch)
                self.log_stats(split_name="train", stats=self.train_epoch(cur_epoch))
            for split_name in self.valid_splits:
                logger.info("Evaluating on %s.", split_name)
                val_log = self.eval_epoch(split_name=split_name, cur_epoch=cur_epoch)
                if val_log is not None and get_rank() == 0:
                    assert "agg_metrics" in val_log, "No agg_metrics found in validation log."
                    if val_log["agg_metrics"] > self.best_agg_metric and split_name == "val":
                        self.best_epoch, self.best_agg_metric = cur_epoch, val_log["agg_metrics"]
                        self._save_checkpoint(cur_epoch, is_best=True)
                    val_log.update({"best_epoch": self.best_epoch})
                    self.log_stats(val_log, split_name)
            if not self.evaluate_only and (not self.valid_splits or save_every_epoch):
                self._save_checkpoint(cur_epoch, is_best=False)
            if self.evaluate_only:
                break
            self._barrier()
        test_epoch = "best" if self.valid_splits else cur_epoch
        self.evaluate(cur_epoch=test_epoch, skip_reload=self.evaluate_only)
        logger.info("Training time %s", datetime.timedelta(seconds=int(time.time() - start_time)))

    def train_epoch(self, epoch: int) -> dict[str, str]:
        """One epoch whose randomness depends only on (seed, rank, epoch): reseeding here and
        restarting the sampler at ``epoch`` makes a resumed run repeat the uninterrupted one.
        Raises ``NonFiniteLossError`` at the first step whose loss is NaN or infinite.

        The epoch seeds (seed + (epoch + 1) * world_size + rank) differ across ranks and epochs
        and from the start-up seeds (seed + rank) that initialised the model.
        """
        seed = self.config.run_cfg.get("seed")
        if seed is not None:
            seed_everything(int(seed) + (epoch + 1) * get_world_size() + get_rank())
        set_loader_epoch(self.train_loader, epoch)
        self.model.train()
        # A NaN loss would otherwise train on, then be saved: stop at the step (the hook sees
        # the model's output before LAVIS calls backward on it).
        guard = self.unwrap_dist_model(self.model).register_forward_hook(_check_finite_loss)
        with guard, _meters_synchronized_on_cpu(self._gloo_on_cpu):
            return self.task.train_epoch(
                epoch=epoch,
                model=self.model,
                data_loader=self.train_loader,
                optimizer=self.optimizer,
                scaler=self.scaler,
                lr_scheduler=self.lr_scheduler,
                cuda_enabled=self.cuda_enabled,
                log_freq=self.log_freq,
                accum_grad_iters=self.accum_grad_iters,
            )

    @torch.no_grad()
    def eval_epoch(self, split_name: str, cur_epoch: int | str,
                   skip_reload: bool = False) -> dict[str, Any] | None:
        """CPU failure 4: ``task.evaluation`` gets ``cuda_enabled`` from the device.

        With ``cur_epoch="best"`` the best checkpoint is reloaded unless ``skip_reload``, or,
        when no epoch reached ``agg_metrics > 0`` (so none was saved), the current weights are
        evaluated with a warning.
        """
        data_loader = self.dataloaders.get(split_name, None)
        assert data_loader, f"data_loader for split {split_name} is None."
        model = self.unwrap_dist_model(self.model)
        if not skip_reload and cur_epoch == "best":
            model = self._reload_best_model(model)
        model.eval()
        self.task.before_evaluation(model=model, dataset=self.datasets[split_name])
        with _meters_synchronized_on_cpu(self._gloo_on_cpu):
            results = self.task.evaluation(model, data_loader, cuda_enabled=self.cuda_enabled)
        if results is None:
            return None
        return self.task.after_evaluation(val_result=results, split_name=split_name,
                                          epoch=cur_epoch)

    @main_process
    def _save_checkpoint(self, cur_epoch: int, is_best: bool = False) -> None:
        """LAVIS's checkpoint (trainable parameters, optimizer, config, scaler, epoch) plus the
        best epoch and metric so far, written atomically."""
        model = self.unwrap_dist_model(self.model)
        frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
        state_dict = {k: v for k, v in model.state_dict().items() if k not in frozen}
        save_obj = {
            "model": state_dict,
            "optimizer": self.optimizer.state_dict(),
            "config": self.config.to_dict(),
            "scaler": self.scaler.state_dict() if self.scaler else None,
            "epoch": cur_epoch,
            # So that a resumed run keeps comparing against the best epoch before the crash.
            "best_epoch": self.best_epoch,
            "best_agg_metric": float(self.best_agg_metric),
        }
        save_to = self.output_dir / f"checkpoint_{'best' if is_best else cur_epoch}.pth"
        logger.info("Saving checkpoint at epoch %d to %s.", cur_epoch, save_to)
        atomic_torch_save(save_obj, save_to)

    @staticmethod
    def _read_checkpoint(url_or_filename: str) -> dict[str, Any]:
        if is_url(url_or_filename):
            raise RuntimeError(f"{url_or_filename} is a URL: nothing is downloaded here, "
                               "download it and give the local file")
        if not os.path.isfile(url_or_filename):
            raise RuntimeError(f"checkpoint url or path is invalid: {url_or_filename}")
        # Runner checkpoints hold only tensors, numbers, strings and plain containers.
        try:
            checkpoint = torch.load(url_or_filename, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, OSError, EOFError, KeyError,
                ValueError) as err:
            # torch.load names neither the file nor the problem for an empty or cut-off file
            # ("EOFError", "[Errno 22] Invalid argument", "KeyError: 101").
            raise RuntimeError(f"cannot read checkpoint {url_or_filename}: it is truncated, "
                               f"corrupt, not a torch.save file, or holds pickled objects other "
                               f"than tensors and plain containers ({type(err).__name__}: "
                               f"{(str(err).strip().splitlines() or [''])[-1]})") from err
        if not (isinstance(checkpoint, Mapping) and isinstance(checkpoint.get("model"), Mapping)):
            raise RuntimeError(f"{url_or_filename} is not a runner checkpoint: expected a dict "
                               f"with a 'model' state dict, got {type(checkpoint).__name__}"
                               + (f" with keys {sorted(checkpoint)[:5]}"
                                  if isinstance(checkpoint, Mapping) else ""))
        return checkpoint

    def _reload_best_model(self, model: nn.Module) -> nn.Module:
        path = self.output_dir / "checkpoint_best.pth"
        if not path.is_file():
            logger.warning("No %s (no validation epoch had agg_metrics > 0): evaluating the "
                           "current weights.", path)
            return model
        logger.info("Loading checkpoint from %s.", path)
        load_trainable_state(model, self._read_checkpoint(str(path))["model"])
        return model

    def _load_checkpoint(self, url_or_filename: str) -> None:
        """Resume: model (trainable part), optimizer, scaler; continue after the saved epoch."""
        checkpoint = self._read_checkpoint(url_or_filename)
        lacking = [k for k in ("optimizer", "epoch") if k not in checkpoint]
        if lacking:
            raise RuntimeError(f"{url_or_filename} cannot be resumed from: it lacks {lacking} "
                               f"(a model-only file: name it in model.weights.checkpoint instead)")
        load_trainable_state(self.unwrap_dist_model(self.model), checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        if self.scaler is not None and checkpoint.get("scaler"):
            self.scaler.load_state_dict(checkpoint["scaler"])
        self.start_epoch = checkpoint["epoch"] + 1
        logger.info("Resume checkpoint from %s (continuing at epoch %d)", url_or_filename,
                    self.start_epoch)
        if "best_agg_metric" in checkpoint:
            self.best_epoch = int(checkpoint["best_epoch"])
            self.best_agg_metric = float(checkpoint["best_agg_metric"])
            self._carry_best_checkpoint(Path(url_or_filename).parent)

    def _carry_best_checkpoint(self, previous_dir: Path) -> None:
        """Copy the interrupted run's ``checkpoint_best.pth`` into this run's folder.

        The test phase reloads ``<output_dir>/checkpoint_best.pth``; without the copy a resumed
        run would test its own best epoch only, not the best of the whole run.
        """
        if self.best_agg_metric <= 0 or get_rank() != 0:
            return
        source = previous_dir / "checkpoint_best.pth"
        target = self.output_dir / "checkpoint_best.pth"
        if source.resolve() == target.resolve():
            return
        if not source.is_file():
            logger.warning("%s not found: the test phase will use the best epoch from %d on "
                           "(the best so far, epoch %d, is not available)", source,
                           self.start_epoch, self.best_epoch)
            return
        best = self._read_checkpoint(str(source))
        if best.get("epoch") != self.best_epoch:
            logger.warning("%s holds epoch %s, not the best epoch %d: not carried over", source,
                           best.get("epoch"), self.best_epoch)
            return
        logger.info("Carrying %s (best epoch %d) over to %s", source, self.best_epoch, target)
        atomic_torch_save(best, target)
