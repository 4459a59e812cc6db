"""The ``souschef`` command: thin adapters over the Python API.

Exit codes, for every command: 0 success; 1 the input or result is not good
(invalid recipe, failed gate, unfinished generation); 2 usage errors (bad flags,
missing files, a model directory that cannot be loaded). Errors are one line on
stderr, never a traceback. Heavy libraries are imported inside the commands that
need them, so ``souschef --help`` stays fast.

Each command's adapter (``cmd_*``) sits beside the function that registers its parser
(``register_*``), in the way of simonw/llm. This module holds the entry point and the
commands on documents (schema, validate, render, parse-ingredient); ``model_cli`` the
ones that use a model (generate, train, evaluate, report), ``chat_cli`` chat and
feedback; ``flags`` their argument types and ``output`` how they read and write. No
command writes over one of its inputs (``recipe_schema.refuse_overwriting_inputs``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from recipe_schema.errors import InputFileError, InvalidRecipeError, SouschefError

from . import __version__
from .flags import positive_int
from .output import PROG, emit, read_text, render_answer, write_output


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2), like every other error here."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


# --------------------------------------------------------------------- schema
def cmd_schema(args: argparse.Namespace) -> int:
    from recipe_schema import load_schema

    emit(json.dumps(load_schema(), indent=2, ensure_ascii=False))
    return 0


def register_schema(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Register ``schema`` on the subparsers ``sub``."""
    p = sub.add_parser(
        "schema",
        help="print the recipe JSON Schema",
        description="Print the recipe JSON Schema (draft 2020-12).",
        epilog="example:\n  souschef schema > recipe.schema.json",
        formatter_class=fmt,
    )
    p.set_defaults(func=cmd_schema)


# ------------------------------------------------------------------- validate
def _validate_file(path: str) -> dict[str, Any]:
    from postprocess import answer_errors, loads_strict

    kind = "recipe"
    try:
        data = loads_strict(read_text(path))
        kind = "reply" if isinstance(data, dict) and "reply" in data else "recipe"
        errors, omitted = answer_errors(data)  # every finished `generate --format json` validates
    except InvalidRecipeError as e:
        errors, omitted = e.errors, e.omitted
    return {
        "file": path,
        "kind": kind,
        "valid": not errors,
        "errors": [{"pointer": err.pointer, "message": err.message} for err in errors],
        "omitted": omitted,
    }


def cmd_validate(args: argparse.Namespace) -> int:
    results, unreadable = [], False
    for path in args.files:
        try:
            result = _validate_file(path)
        except InputFileError as e:  # reported, and the other files still checked
            print(f"{PROG}: error: {e}", file=sys.stderr)
            unreadable = True
            continue
        results.append(result)
        if args.json:
            continue
        if result["valid"]:
            emit(f"{path}: valid" + (" (a reply)" if result["kind"] == "reply" else ""))
        for err in result["errors"]:
            emit(f"{path}: {err['pointer']}: {err['message']}")
        if result["omitted"]:
            emit(f"{path}: ... and {result['omitted']} more errors")
    if args.json:
        emit(json.dumps(results, ensure_ascii=False, indent=2))
    if unreadable:
        return 2
    return 0 if all(r["valid"] for r in results) else 1


def register_validate(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Register ``validate`` on the subparsers ``sub``."""
    p = sub.add_parser(
        "validate",
        help="check recipe JSON files against the schema",
        description=(
            "Check recipe JSON files against the schema and list every error with its JSON\n"
            "pointer. A generated answer that is a reply ({\"reply\": ...}) is checked as a reply.\n"
            "Exit 0 when all are valid, 1 when any is invalid, 2 when any cannot be read."
        ),
        epilog=(
            "examples:\n  souschef validate pancakes.json\n"
            "  cat pancakes.json | souschef validate - --json"
        ),
        formatter_class=fmt,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="recipe JSON files; - reads stdin")
    p.add_argument("--json", action="store_true", help="print one JSON array of results")
    p.set_defaults(func=cmd_validate)


# --------------------------------------------------------------------- render
def cmd_render(args: argparse.Namespace) -> int:
    from postprocess import process_answer, scale_recipe
    from recipe_schema import Recipe, ScalingError, refuse_overwriting_inputs

    refuse_overwriting_inputs({"-o/--output": args.output}, {"FILE": args.file})
    answer = process_answer(read_text(args.file))  # a recipe, or a generated {"reply": ...}
    if args.servings is not None:
        if not isinstance(answer, Recipe):
            raise ScalingError("a reply has no servings to scale")
        answer = scale_recipe(answer, args.servings)
    write_output(render_answer(answer, args.format), args.output)
    return 0


def register_render(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Register ``render`` on the subparsers ``sub``."""
    p = sub.add_parser(
        "render",
        help="validate, normalize and render a recipe",
        description=(
            "Validate, normalize and render a recipe. FILE may be a JSON document or model\n"
            "output that wraps it in prose or code fences; a generated {\"reply\": ...} renders\n"
            "as its text (markdown) or as itself (json, jsonld)."
        ),
        epilog=(
            "examples:\n  souschef render pancakes.json\n"
            "  souschef render pancakes.json --servings 8 --format jsonld -o pancakes.jsonld"
        ),
        formatter_class=fmt,
    )
    p.add_argument("file", metavar="FILE", help="the recipe; - reads stdin")
    p.add_argument("--format", choices=["markdown", "jsonld", "json"], default="markdown",
                   help="markdown (default), schema.org jsonld, or the normalized recipe as json")
    p.add_argument("--servings", type=positive_int, metavar="N", help="scale to N servings")
    p.add_argument("-o", "--output", metavar="OUT", help="write here (atomically) instead of stdout")
    p.set_defaults(func=cmd_render)


# ----------------------------------------------------------- parse-ingredient
def cmd_parse_ingredient(args: argparse.Namespace) -> int:
    from postprocess import parse_ingredient

    rows = [parse_ingredient(line).to_dict() for line in args.lines]
    if args.json:
        for row in rows:
            emit(json.dumps(row, ensure_ascii=False))
        return 0
    columns = ["quantity", "quantity_max", "unit", "item", "note"]
    cells = [[("" if row[c] is None else str(row[c])) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    emit("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for r in cells:
        emit("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    return 0


def register_parse_ingredient(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Register ``parse-ingredient`` on the subparsers ``sub``."""
    p = sub.add_parser(
        "parse-ingredient",
        help="split ingredient lines into quantity, unit, item and note",
        description="Split ingredient lines into quantity, unit, item and note.",
        epilog=(
            "examples:\n  souschef parse-ingredient '2-3 cloves garlic, minced' 'salt to taste'\n"
            "  souschef parse-ingredient '1 1/2 cups flour' --json"
        ),
        formatter_class=fmt,
    )
    p.add_argument("lines", nargs="+", metavar="LINE", help="ingredient lines")
    p.add_argument("--json", action="store_true", help="one JSON object per line (JSON Lines)")
    p.set_defaults(func=cmd_parse_ingredient)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface; its help texts are the CLI reference."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=PROG,
        description="Small language models as cooking assistants whose answers can be trusted.",
        epilog="Exit codes: 0 success, 1 invalid input or result, 2 usage error.",
        formatter_class=fmt,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    register_schema(sub, fmt)
    register_validate(sub, fmt)
    register_render(sub, fmt)
    register_parse_ingredient(sub, fmt)
    from .chat_cli import add_commands as add_chat_commands
    from .model_cli import add_commands as add_model_commands

    add_model_commands(sub, fmt)  # generate, train, evaluate, report
    add_chat_commands(sub, fmt)  # chat, feedback
    return parser


def _log_to_stderr() -> None:
    """Library progress and warnings (the ``souschef.*`` loggers) reach the user on stderr."""
    import logging

    class ToStderr(logging.Handler):  # looks sys.stderr up at each record: it may be replaced
        def emit(self, record: logging.LogRecord) -> None:
            sys.stderr.write(self.format(record) + "\n")

    logger = logging.getLogger("souschef")
    if not any(type(h).__name__ == "ToStderr" for h in logger.handlers):
        handler = ToStderr()
        handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _log_to_stderr()
    try:
        return int(args.func(args))
    except InvalidRecipeError as e:
        # every error goes to stdout-free stderr, one per line, as validate prints them
        for err in e.errors:
            print(f"{PROG}: invalid recipe: {err}", file=sys.stderr)
        if e.omitted:
            print(f"{PROG}: ... and {e.omitted} more errors", file=sys.stderr)
        return e.exit_code
    except SouschefError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # a bug, not the user's fault: still one line, unless asked for more
        if os.environ.get("SOUSCHEF_DEBUG"):
            raise
        print(f"{PROG}: internal error: {type(e).__name__}: {e} (SOUSCHEF_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 1
