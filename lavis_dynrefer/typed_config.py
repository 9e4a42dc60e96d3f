"""Typed dataclass configs built from LAVIS yaml sections, failing loudly on misspelled keys.

LAVIS hands every stage an OmegaConf node; each stage of this plugin reads it through a frozen
dataclass whose field defaults are the only defaults. Unknown keys are an error with a suggestion,
values are checked against the field's type, so a typo in yaml never silently falls back to a
default.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A yaml section that does not match its typed config."""


class FieldError(ConfigError):
    """A dataclass's ``__post_init__`` refusing one field's value; ``from_mapping`` reports it
    under the field's yaml key (``model.region_chunk: must be >= 1, got 0``)."""

    def __init__(self, owner: str, key: str, problem: str):
        super().__init__(f"{owner}.{key}: {problem}")
        self.key, self.problem = key, problem


def _type_ok(value: Any, annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, arg) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if origin in (tuple, list):
        if not isinstance(value, (tuple, list)):
            return False
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return all(_type_ok(v, args[0]) for v in value) if args else True
    if origin is typing.Literal:
        return value in typing.get_args(annotation)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True


def _coerce(value: Any, annotation: Any) -> Any:
    """Turn yaml lists into tuples for tuple fields and ints into floats for float fields."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None) and _type_ok(value, arg):
                return _coerce(value, arg)
        return value
    if origin is tuple and isinstance(value, (list, tuple)):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return tuple(_coerce(v, args[0]) if args else v for v in value)
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _plain(node: Any) -> Any:
    """OmegaConf node (or anything mapping-like) -> plain Python containers."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(node, (DictConfig, ListConfig)):
            return OmegaConf.to_container(node, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf ships with LAVIS
        pass
    return node


def from_mapping(cls: type[T], mapping: Mapping[str, Any] | None, where: str,
                 ignore: tuple[str, ...] = ()) -> T:
    """Build the dataclass ``cls`` from a yaml mapping.

    Args:
        cls: a dataclass type.
        mapping: the yaml section (dict or OmegaConf node); ``None`` means all defaults.
        where: how the section is named in messages, e.g. ``"vis_processor.eval"``.
        ignore: keys LAVIS itself puts in the section (e.g. ``name``) that ``cls`` does not model.

    Raises:
        ConfigError: on an unknown key (with the closest known key) or a value of the wrong type.
    """
    mapping = _plain(mapping) or {}
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(mapping).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in mapping.items():
        if key in ignore:
            continue
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"{where}: unknown key {key!r}{hint}; known keys: {', '.join(sorted(fields))}"
            )
        annotation = hints[key]
        if not _type_ok(value, annotation):
            raise ConfigError(
                f"{where}.{key}: expected {getattr(annotation, '__name__', annotation)}, "
                f"got {value!r} ({type(value).__name__})"
            )
        kwargs[key] = _coerce(value, annotation)
    try:
        return cls(**kwargs)
    except FieldError as err:
        raise ConfigError(f"{where}.{err.key}: {err.problem}") from None
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: {err}") from err
