"""The types and builders of souschef's flags: each range is said once, where it is checked.

A setting's flag (``--temperature``) parses with ``setting(name)``, which holds it to
``recipe_schema.limits.SETTINGS``: the range ``generation.GenerationConfig`` holds a saved state
to, so a flag and a state file cannot disagree. Only argparse and ``recipe_schema`` are
imported here (``souschef --help`` stays fast).
"""
from __future__ import annotations

import argparse
import math
from typing import Any


def setting(name: str) -> Any:
    """The argparse type of one setting: its range in ``recipe_schema.limits.SETTINGS``, the one
    that ``generation.GenerationConfig`` holds a saved state to."""
    from recipe_schema.limits import SETTINGS

    def parse(text: str) -> Any:
        try:
            return SETTINGS[name].parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return parse


def setting_range(name: str) -> str:
    """The range of one setting in words, for its help text (``a number from 0 to 2``)."""
    from recipe_schema.limits import SETTINGS

    return str(SETTINGS[name])


def positive_int(text: str) -> int:
    """The argparse type of a count that is not a generation setting (``--limit``, ``--servings``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def gate(text: str) -> tuple[str, float]:
    """The argparse type of ``--fail-under`` / ``--fail-over``: ``NAME=VALUE``, a known metric and a
    finite threshold."""
    from evaluation.config import LABELS

    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text!r}")
    if name not in LABELS:
        raise argparse.ArgumentTypeError(f"unknown metric {name!r}; choose from {', '.join(LABELS)}")
    try:
        threshold = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not math.isfinite(threshold):  # every comparison with nan is false: such a gate never fails
        raise argparse.ArgumentTypeError(f"not a finite number: {value!r}")
    return name, threshold


def sets(text: str) -> tuple[str, ...]:
    """The argparse type of ``evaluate --sets``: a comma-separated choice of the suite's sets."""
    from evaluation.config import SETS

    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in SETS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(SETS)}, not {text!r}")
    return names


WEIGHTS_HELP = ("int8: int8 weights, 1.86x fp32's tokens a second at batch 1, 1.5x at 8, 1.15x at 16 on "
                "2 x86 cores, slightly different answers; fp32: the weights as loaded; default auto: "
                "int8 on an x86-64 CPU with AVX2 or AVX512, else fp32 (docs/BENCHMARKS.md, \"int8 weights\")")


def add_weights_flag(parser: argparse.ArgumentParser) -> None:
    """``--weights {auto,fp32,int8}``: the weight format a command decodes with (``generation.int8``)."""
    from recipe_schema.limits import WEIGHTS

    parser.add_argument("--weights", choices=list(WEIGHTS), default="auto", help=WEIGHTS_HELP)


def add_config_flags(parser: argparse.ArgumentParser, config_cls: Any, required: tuple[str, ...]) -> None:
    """One flag per dataclass field, with the field's own help text and choices."""
    import dataclasses
    import typing

    hints = typing.get_type_hints(config_cls)
    for f in dataclasses.fields(config_cls):
        flag = "--" + f.name.replace("_", "-")
        meta = dict(f.metadata)
        kind = hints[f.name]
        base = [a for a in typing.get_args(kind) if a is not type(None)] or [kind]
        options: dict[str, Any] = {"help": meta.get("help"), "required": f.name in required}
        if kind is bool:
            action = argparse.BooleanOptionalAction if f.default is True else "store_true"
            options = {"help": meta.get("help"), "action": action, "default": None}
        elif meta.get("choices"):
            options.update(choices=[c for c in meta["choices"] if c is not None])
        elif typing.get_origin(kind) is list:
            options.update(nargs="+", metavar="PATH")
        elif "choices" not in options:
            options.update(type=base[0], metavar=f.name.upper())
        parser.add_argument(flag, **options)
