"""Loading weights into a DynReferModel: the release files, their pretrained sources, and ours.

A faithful release model is assembled from five files (release-checkpoints.md section 1.4):

    model = build_dynrefer(config, meta=True)     # no memory; every loader below accepts it
    load_eva_vit(model, "eva_vit_g.pth")           # vision.vit
    load_flan_t5(model, "flan-t5-xl/")             # language.t5 (before the release file: it
                                                   #   lets the release's LLM check run)
    load_blip2_checkpoint(model, "blip2_pretrained_flant5xl.pth")  # query_tokens, ln_vision, ...
    load_text_tower(model, "eva_clip_psz14.pt")    # text_tower (text tables refresh on use)
    load_release_checkpoint(model, "vg1.2_5e.pth") # the 347 trained tensors

Every loader reads with ``torch.load(weights_only=True)``, checks the whole file before changing
the model (unexpected keys, missing keys and shape mismatches are refused with the key names),
casts values to each parameter's dtype, logs a ``LoadReport`` and returns it. Parameters on the
``meta`` device are replaced by the loaded values (on the device of the model's materialised
parameters, else CPU), so no ``to_empty`` is needed; ``report.notes`` lists what is still on
meta. ``load_any_checkpoint`` picks the loader from the keys (for
``DynReferModel.load_checkpoint``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from transformers import T5ForConditionalGeneration

from lavis_dynrefer import names
from lavis_dynrefer.models.meta_init import is_meta
from lavis_dynrefer.models.text_tower import causal_mask, load_text_tower_weights
from lavis_dynrefer.paths import resolve_path
from lavis_dynrefer.weights.checkpoint_io import (
    CheckpointError,
    LoadReport,
    Source,
    examples,
    load_state,
    model_state,
    open_source,
    read_checkpoint,
    target_device,
)
from lavis_dynrefer.weights.checkpoint_mapping import (
    LORA_MARKERS,
    detect_layout,
    names_from,
    ours_to_release,
    release_to_ours,
)
from lavis_dynrefer.weights.config_compat import architecture_differences, recorded_config
from lavis_dynrefer.weights.safetensors_io import is_safetensors_path, read_safetensors

if TYPE_CHECKING:
    from lavis_dynrefer.models.dynrefer import DynReferModel

logger = logging.getLogger(__name__)

RELEASE_ARCH = "dynrefer_t5"
VIT_PREFIX, T5_PREFIX = "vision.vit.", "language.t5.model."


def _logged(report: LoadReport) -> LoadReport:
    logger.info(report.summary())
    return report


def _param_names(model: nn.Module) -> list[str]:
    return [n for n, _ in model.named_parameters()]


def _check_config(checkpoint: Any, arch: str, model: DynReferModel, source: str) -> None:
    """Refuse a runner checkpoint whose ``config.model`` names another arch or view count, or
    (ours) describes another architecture than the model's (``config_compat``)."""
    config = checkpoint.get("config") if isinstance(checkpoint, Mapping) else None
    model_cfg = config.get("model") if isinstance(config, Mapping) else None
    if not isinstance(model_cfg, Mapping):
        return
    if model_cfg.get("arch", arch) != arch:
        raise CheckpointError(f"{source}: config.model.arch is {model_cfg['arch']!r}, "
                              f"expected {arch!r}")
    if model_cfg.get("finetune_llm"):
        raise CheckpointError(f"{source}: finetune_llm=True (LoRA on the LLM) is not supported")
    views = model_cfg.get("num_views", (model_cfg.get("region") or {}).get("num_views"))
    if views is not None and views != model.config.region.num_views:
        raise CheckpointError(f"{source}: trained with num_views {views}, the model has "
                              f"{model.config.region.num_views}")
    if arch != names.MODEL:
        return
    recorded = recorded_config(model_cfg, model.PRETRAINED_MODEL_CONFIG_DICT)
    differences = architecture_differences(recorded, model.config) if recorded else []
    if differences:
        raise CheckpointError(
            f"{source}: the checkpoint's recorded config describes another architecture than "
            f"the model's: {'; '.join(differences)}. Build the model with the checkpoint's "
            f"values (yaml model.<stage>.<field>)")


# ---------------------------------------------------------------- release and BLIP-2 files
def _release(model: DynReferModel, checkpoint: Any, source: str, owned: bool,
             check_llm_alias: bool) -> LoadReport:
    state = model_state(checkpoint, source)
    lora = [k for k in state if any(marker in k for marker in LORA_MARKERS)]
    if lora:
        raise CheckpointError(f"{source} refused: keys of a finetune_llm=True (LoRA) model, e.g. "
                              f"{examples(lora, 3)}; only finetune_llm=False is supported")
    _check_config(checkpoint, RELEASE_ARCH, model, source)
    report = load_state(
        model, state, kind="release", source=source, owned=owned,
        rename=lambda k: release_to_ours(k, "release"), file_name=ours_to_release,
        check_llm_alias=check_llm_alias,
        required=names_from("release", _param_names(model)))
    if model.text_tower.weights_version == 0:
        report.notes.append("the text tower has no loaded weights yet (load_text_tower): tag, "
                            "attribute and class tables would come from a random tower")
    return _logged(report)


def load_release_checkpoint(model: DynReferModel, path_or_dict: Source,
                            check_llm_alias: bool = True) -> LoadReport:
    """Load the authors' ``vg1.2_5e.pth`` / ``refcocog_ft.pth`` (a LAVIS runner checkpoint).

    Accepts ``{"model": state, "config": ..., ...}`` or the state itself. Requires exactly the
    347 trained tensors under the release's names (renamed by ``checkpoint_mapping.RENAMES``),
    with the release's shapes. Drops ``Qformer.bert.embeddings.position_ids`` (checked to be
    ``arange``) and the two ``t5_model.*.embed_tokens.weight`` aliases (bf16 copies of
    Flan-T5-XL's embedding, compared with the model's T5 embedding when ``load_flan_t5`` has
    loaded it, which identifies the LLM; skipped with a note otherwise).

    Refuses: LoRA / ``t5_model.base_model.`` keys (finetune_llm=True), a ``config`` whose arch
    is not ``dynrefer_t5`` or whose num_views differs from the model's, any missing, unexpected
    or mis-shaped key, an alias that differs from the loaded T5 (unless ``check_llm_alias`` is
    False). ``query_tokens`` and ``ln_vision`` are not in the file: load the BLIP-2 file too.
    """
    checkpoint, source, owned = open_source(path_or_dict)
    return _release(model, checkpoint, source, owned, check_llm_alias)


def _blip2(model: DynReferModel, checkpoint: Any, source: str, owned: bool,
           strict: bool) -> LoadReport:
    if not (isinstance(checkpoint, Mapping) and isinstance(checkpoint.get("model"), Mapping)):
        raise CheckpointError(f"{source} refused: a BLIP-2 checkpoint has its state dict under "
                              f"'model' (as LAVIS's Blip2Base.load_from_pretrained requires)")
    return _logged(load_state(
        model, checkpoint["model"], kind="blip2", source=source, owned=owned, strict=strict,
        rename=lambda k: release_to_ours(k, "blip2"), file_name=ours_to_release,
        required=names_from("blip2", _param_names(model))))


def load_blip2_checkpoint(model: DynReferModel, path: Source, strict: bool = True) -> LoadReport:
    """Load a BLIP-2 stage-2 file (``blip2_pretrained_flant5xl.pth``): ``checkpoint["model"]``.

    Loads ``query_tokens``, ``ln_vision.*``, ``Qformer.bert.*`` and ``t5_proj.*`` (259 tensors);
    drops ``position_ids`` and the T5 embedding aliases as ``load_release_checkpoint`` does.
    With ``strict`` (default) any other key or a missing one is refused; ``strict=False``
    loads what matches and reports the rest (the real file's extra keys are not known).
    """
    checkpoint, source, owned = open_source(path)
    return _blip2(model, checkpoint, source, owned, strict)


# ---------------------------------------------------------------- the ViT
def _eva_vit(model: DynReferModel, checkpoint: Any, source: str, owned: bool) -> LoadReport:
    state = model_state(checkpoint, source)
    dropped, others = [], 0
    if any(k.startswith("visual.") for k in state):
        # EVA-CLIP: BLIP-2 uses the penultimate layer, so the last block, norm and head go.
        last = f"blocks.{model.config.vision.depth}."
        visual = {}
        for key, value in state.items():
            if not key.startswith("visual."):
                others += 1
            elif key[7:].startswith((last, "norm.", "head.")):
                dropped.append(key)
            else:
                visual[key[7:]] = value
        state = visual
    report = load_state(model, state, kind="eva_vit", source=source, owned=owned,
                        rename=lambda k: VIT_PREFIX + k,
                        file_name=lambda n: n[len(VIT_PREFIX):],
                        required=names_from("eva_vit", _param_names(model)))
    report.dropped += dropped
    if others:
        report.notes.append(f"ignored {others} keys outside 'visual.' (e.g. the text tower)")
    return _logged(report)


def load_eva_vit(model: DynReferModel, path: Source) -> LoadReport:
    """Load the EVA ViT-g: flat ``eva_vit_g.pth`` (511 keys, no prefix; ``{"model": ...}``
    also accepted) or EVA-CLIP's ``eva_clip_psz14.pt`` (``visual.*``: block 39, ``norm`` and
    ``head`` are dropped, non-visual keys ignored) -> ``vision.vit.*``.

    fp16 values are cast to the parameters' dtype. A shape mismatch (e.g. another image size's
    ``pos_embed``) is refused, not interpolated. ``ln_vision`` comes from the BLIP-2 file.
    """
    checkpoint, source, owned = open_source(path)
    return _eva_vit(model, checkpoint, source, owned)


# ---------------------------------------------------------------- Flan-T5 from a HF folder
def _hf_files(directory: Path) -> list[Path]:
    """The weight files of a HF folder: safetensors (if installed) first, like HF, else .bin."""
    try:
        import safetensors  # noqa: F401

        kinds = ("model.safetensors", "pytorch_model.bin")
    except ImportError:
        kinds = ("pytorch_model.bin",)
    for kind in kinds:
        index = directory / f"{kind}.index.json"
        if index.is_file():
            weight_map = json.loads(index.read_text())["weight_map"]
            return [directory / f for f in sorted(set(weight_map.values()))]
        if (directory / kind).is_file():
            return [directory / kind]
    found = sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []
    hint = (" (safetensors files need the safetensors package, which is not installed)"
            if any(".safetensors" in f for f in found) else "")
    raise CheckpointError(f"{directory}: no Hugging Face weights (pytorch_model.bin, "
                          f"model.safetensors or their sharded index) found{hint}; has {found}")


def read_hf_state_dict(directory: str | Path) -> dict[str, torch.Tensor]:
    """Every tensor of a local Hugging Face model folder (single or sharded, .bin/.safetensors)."""
    state: dict[str, torch.Tensor] = {}
    for file in _hf_files(Path(directory)):
        if file.suffix == ".safetensors":
            from safetensors.torch import load_file

            state.update(load_file(str(file), device="cpu"))
        else:
            state.update(read_checkpoint(file))
    return state


def load_t5_state_dict(model: DynReferModel, state: Mapping[str, Any], source: str,
                       owned: bool = False) -> LoadReport:
    """Load a HF ``T5ForConditionalGeneration`` state dict into ``language.t5.model``.

    Every T5 parameter is required (Flan-T5's ``lm_head`` is untied, so it must be there).
    ``encoder/decoder.embed_tokens.weight`` must equal ``shared.weight`` and are dropped; keys
    HF itself ignores (``_keys_to_ignore_on_load_unexpected``) are dropped too.
    """
    ignored = T5ForConditionalGeneration._keys_to_ignore_on_load_unexpected or []
    skip = [k for k in state if any(re.search(p, k) for p in ignored)]
    kept = {k: v for k, v in state.items() if k not in skip}
    report = load_state(model, kept, kind="flan_t5", source=source, owned=owned,
                        rename=lambda k: T5_PREFIX + k,
                        file_name=lambda n: n[len(T5_PREFIX):],
                        required=names_from("flan_t5", _param_names(model)))
    report.dropped += skip
    return _logged(report)


def _check_t5_config(model: DynReferModel, directory: Path) -> None:
    """Head layout is invisible in weight shapes: compare ``config.json``'s with the model's."""
    file = directory / "config.json"
    if not file.is_file():
        return
    theirs, ours = json.loads(file.read_text()), model.language.t5.model.config
    wrong = [f"{k} {theirs[k]} vs {getattr(ours, k)}" for k in ("num_heads", "d_kv")
             if k in theirs and theirs[k] != getattr(ours, k)]
    if wrong:
        raise CheckpointError(f"{directory}: T5 config differs from the model's: {wrong}")


def load_flan_t5(model: DynReferModel, directory: str | Path) -> LoadReport:
    """Load Flan-T5 from a local Hugging Face folder (``save_pretrained`` layout:
    ``pytorch_model.bin``, ``model.safetensors``, or either sharded with its index json).

    Marks the T5 as pretrained (``model.language.t5.weights_source``), which enables the LLM
    identity check of later release / BLIP-2 loads. LAVIS's exact-GELU override is part of the
    model's config, not of the weights.
    """
    directory = Path(directory)
    _check_t5_config(model, directory)
    return load_t5_state_dict(model, read_hf_state_dict(directory), str(directory), owned=True)


# ---------------------------------------------------------------- text tower
def load_text_tower(model: DynReferModel, path: Source) -> LoadReport:
    """Load the EVA-CLIP text tower with ``text_tower.load_text_tower_weights`` (``text.*`` keys
    of ``eva_clip_psz14.pt``; all 150 required). A tower on meta is materialised first (and put
    back on meta if the file is refused). The loader bumps ``weights_version``, so the cached
    text tables (tags, attributes, classes) are recomputed on their next use.
    """
    checkpoint, source, _ = open_source(path)
    tower = model.text_tower
    was_meta = is_meta(tower)
    if was_meta:
        tower.to_empty(device=target_device(model))
    try:
        result = load_text_tower_weights(tower, checkpoint)
    except ValueError as err:
        if was_meta:  # leave it as it was: parameters on meta, the mask real
            tower.to("meta")
            tower.attn_mask = causal_mask(tower.config.context_length, device=target_device(model))
        raise CheckpointError(f"{source}: {err}") from err
    report = LoadReport("text", source, loaded=[f"text_tower.{n}" for n in result.loaded],
                        dropped=list(result.dropped))
    if result.other_keys:
        report.notes.append(f"ignored {result.other_keys} keys outside 'text.'")
    if result.unwrapped or result.stripped_module_prefix:
        report.notes.append(f"unwrapped {list(result.unwrapped)}, 'module.' stripped: "
                            f"{result.stripped_module_prefix}")
    return _logged(report)


# ---------------------------------------------------------------- our own checkpoints
def _open_ours(path: Source) -> tuple[Any, str, bool]:
    """``open_source``, plus ``.safetensors`` files of our names (``safetensors_io``)."""
    if is_safetensors_path(path):
        return read_safetensors(path), str(path), True
    return open_source(path)


def _dynrefer(model: DynReferModel, checkpoint: Any, source: str, owned: bool,
              check_llm_alias: bool) -> LoadReport:
    _check_config(checkpoint, names.MODEL, model, source)
    params = list(model.named_parameters())
    report = load_state(model, model_state(checkpoint, source), kind="dynrefer", source=source,
                        owned=owned, rename=lambda k: k,
                        required=[n for n, p in params if p.requires_grad],
                        optional=[n for n, p in params if not p.requires_grad],
                        check_llm_alias=check_llm_alias)
    if report.missing:
        report.notes.append(f"{len(report.missing)} frozen parameters not in file (frozen, from "
                            f"pretrained sources)")
    return _logged(report)


def load_dynrefer_checkpoint(model: DynReferModel, path: Source,
                             check_llm_alias: bool = True) -> LoadReport:
    """Load one of our checkpoints: a LAVIS runner file (``{"model": trainable tensors, buffers
    and tied aliases, "optimizer", "config", "scaler", "epoch"}``) or a full state dict.

    Every trainable parameter is required; frozen ones may be absent (reported as missing: they
    come from the pretrained sources). Unexpected keys and shape mismatches are refused; a
    ``config`` naming another arch than ``dynrefer`` is refused. Loading text-tower tensors
    invalidates the cached text tables. A ``.safetensors`` file (``python -m
    lavis_dynrefer.weights.export``) is read with ``safetensors_io.read_safetensors``.
    """
    checkpoint, source, owned = _open_ours(path)
    return _dynrefer(model, checkpoint, source, owned, check_llm_alias)


# ---------------------------------------------------------------- towers pre-trained by us
PRETRAINED_TOWER_PREFIXES = ("vision.",)
PRETRAINING_ONLY_PREFIXES = ("head.",)


def load_pretrained_towers(model: DynReferModel, path: Source) -> LoadReport:
    """Load the ViT of a tower pre-training run of ours (``shapes.towers``): every
    ``vision.*`` tensor of the model must be in the file; its pre-training ``head.*`` is
    skipped (reported as dropped); any other key is refused.

    Raises:
        CheckpointError: naming missing, unexpected or misshapen keys; the model is unchanged.
    """
    checkpoint, source, owned = open_source(path)
    state = model_state(checkpoint, source)
    towers = {k: v for k, v in state.items() if not k.startswith(PRETRAINING_ONLY_PREFIXES)}
    required = [n for n in _param_names(model) if n.startswith(PRETRAINED_TOWER_PREFIXES)]
    report = load_state(model, towers, kind="pretrained towers", source=source,
                        rename=lambda key: key if key.startswith(PRETRAINED_TOWER_PREFIXES)
                        else None, required=required, owned=owned)
    report.dropped.extend(k for k in state if k.startswith(PRETRAINING_ONLY_PREFIXES))
    return _logged(report)


def load_any_checkpoint(model: DynReferModel, path: Source) -> LoadReport:
    """Pick the loader from the contents: a folder is Flan-T5; a file is ours, the release's,
    BLIP-2's or a flat EVA ViT by its key names (``checkpoint_mapping.detect_layout``); a
    ``.safetensors`` file is read without pickle and goes through the same detection. Meant
    for ``DynReferModel.load_checkpoint``, which LAVIS calls for ``pretrained``/``finetuned``.

    Raises:
        CheckpointError: an unknown layout (e.g. ``eva_clip_psz14.pt``, which holds two towers:
            use ``load_eva_vit`` / ``load_text_tower``), a URL, or any loader's refusal.
    """
    if not isinstance(path, Mapping) and Path(path).is_dir():
        return load_flan_t5(model, path)
    return load_opened_checkpoint(model, *_open_ours(path))


def load_opened_checkpoint(model: DynReferModel, checkpoint: Any, source: str,
                           owned: bool = True) -> LoadReport:
    """``load_any_checkpoint`` for a file already read (``read_checkpoint``): ``source`` names
    it in every message; ``owned``: its tensors may be kept without copying."""
    try:
        layout = detect_layout(model_state(checkpoint, source))
    except ValueError as err:
        raise CheckpointError(f"{source}: {err}") from err
    logger.info("%s: detected a %s checkpoint", source, layout)
    if layout == "release":
        return _release(model, checkpoint, source, owned, check_llm_alias=True)
    if layout == "blip2":
        return _blip2(model, checkpoint, source, owned, strict=True)
    if layout == "eva_vit":
        return _eva_vit(model, checkpoint, source, owned)
    return _dynrefer(model, checkpoint, source, owned, check_llm_alias=True)


def load_configured_weights(model: DynReferModel) -> list[LoadReport]:
    """Load the files named in ``model.config.weights`` (yaml ``model.weights``), in the order
    ViT, Flan-T5, BLIP-2, text tower, pre-trained towers, DynRefer checkpoint; returns their
    reports. Paths are
    taken from the working directory, else from the installed package (shipped weights)."""
    weights = model.config.weights
    steps = [("eva_vit", load_eva_vit), ("flan_t5", load_flan_t5),
             ("blip2", load_blip2_checkpoint), ("text_tower", load_text_tower),
             ("towers", load_pretrained_towers), ("checkpoint", load_any_checkpoint)]
    reports = []
    for name, loader in steps:
        path = getattr(weights, name)
        if path:
            if str(path).startswith(("http://", "https://")):
                raise CheckpointError(f"model.weights.{name}: {path} is a URL: nothing is "
                                      "downloaded here, download it and give the local file")
            try:
                path = resolve_path(path)
            except FileNotFoundError as err:
                raise FileNotFoundError(f"model.weights.{name}: {err}") from None
            reports.append(loader(model, path))
    return reports
