"""Export a DynRefer checkpoint to safetensors.

    python -m lavis_dynrefer.weights.export --checkpoint CKPT.pth --out model.safetensors \\
        [--all-params] [--model-type tiny]

Without ``--all-params`` the checkpoint's state dict (a runner checkpoint's ``model``: the
trainable tensors, buffers and tied aliases) is written as it is. With ``--all-params`` the model
is built from the checkpoint's ``config.model`` (or the ``--model-type`` yaml), its configured
pretrained weights are loaded (``model.weights``), the checkpoint is loaded on top, and every
parameter is written, so the file alone restores the model. ``load_dynrefer_checkpoint`` (and
``DynReferModel.load_checkpoint``) read the result. Errors are one line on stderr, status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from lavis_dynrefer.weights.checkpoint_io import CheckpointError, model_state, read_checkpoint
from lavis_dynrefer.weights.safetensors_io import save_safetensors

logger = logging.getLogger("lavis_dynrefer.weights.export")


def export_checkpoint(checkpoint_path: str | Path, out: str | Path, all_params: bool = False,
                      model_type: str | None = None) -> Path:
    """Write ``checkpoint_path`` (a runner checkpoint or a state dict) as safetensors.

    Raises:
        CheckpointError: the file is not a state dict of tensors, or (``all_params``) the model
            cannot be built or refuses the checkpoint.
    """
    source = str(checkpoint_path)
    if not Path(source).is_file():
        raise CheckpointError(f"--checkpoint {source}: no such file")
    checkpoint = read_checkpoint(source)
    state = model_state(checkpoint, source)
    config = checkpoint.get("config") if isinstance(checkpoint, Mapping) else None
    if all_params:
        from lavis_dynrefer.weights.rebuild import rebuild_model

        model, section = rebuild_model(checkpoint, source, model_type)
        if not any(dataclasses.asdict(model.config.weights).values()):
            logger.warning("model.weights names no pretrained files: the frozen towers written "
                           "are the random initialisation of the build")
        state = model.state_dict()
        config = {**(config or {}), "model": section}
    return save_safetensors(state, out, config=config, model_type=model_type)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lavis_dynrefer.weights.export",
                                     description="Export a DynRefer checkpoint to safetensors.")
    parser.add_argument("--checkpoint", required=True, help="runner checkpoint or state dict")
    parser.add_argument("--out", required=True, help="the .safetensors file to write")
    parser.add_argument("--all-params", action="store_true",
                        help="build the model and write every parameter (frozen towers too)")
    parser.add_argument("--model-type", help="model yaml to build from (tiny, flant5xl) when the "
                                             "checkpoint carries no config")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    try:
        if out.suffix != ".safetensors":
            raise CheckpointError(f"--out {out}: expected a .safetensors file name")
        if not out.parent.is_dir():
            raise CheckpointError(f"--out {out}: folder {out.parent} does not exist")
        export_checkpoint(args.checkpoint, out, args.all_params, args.model_type)
    except (ValueError, FileNotFoundError) as err:  # CheckpointError, ConfigError
        sys.stderr.write(f"error: {err}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
