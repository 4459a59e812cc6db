"""The ``souschef`` command: thin adapters over the Python API.

Exit codes, for every command: 0 success; 1 the input or result is not good
(invalid recipe, failed gate, unfinished generation); 2 usage errors (bad flags,
missing files, a model directory that cannot be loaded). Errors are one line on
stderr, never a traceback. Heavy libraries are imported inside the commands that
need them, so ``souschef --help`` stays fast.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any

from recipe_schema.errors import InputFileError, InvalidRecipeError, SouschefError

from . import __version__

PROG = "souschef"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2), like every other error here."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _emit(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _read_text(path: str) -> str:
    """A whole input file as text; bytes that are not UTF-8 make it an invalid recipe."""
    from recipe_schema import SchemaError, read_bytes

    raw = read_bytes(path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidRecipeError([SchemaError("/", f"not UTF-8 text (byte {e.start})")]) from None


# --------------------------------------------------------------------- schema
def cmd_schema(args: argparse.Namespace) -> int:
    from recipe_schema import load_schema

    _emit(json.dumps(load_schema(), indent=2, ensure_ascii=False))
    return 0


# ------------------------------------------------------------------- validate
def _validate_file(path: str) -> dict[str, Any]:
    from postprocess import answer_errors, loads_strict

    kind = "recipe"
    try:
        data = loads_strict(_read_text(path))
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
            _emit(f"{path}: valid" + (" (a reply)" if result["kind"] == "reply" else ""))
        for err in result["errors"]:
            _emit(f"{path}: {err['pointer']}: {err['message']}")
        if result["omitted"]:
            _emit(f"{path}: ... and {result['omitted']} more errors")
    if args.json:
        _emit(json.dumps(results, ensure_ascii=False, indent=2))
    if unreadable:
        return 2
    return 0 if all(r["valid"] for r in results) else 1


# --------------------------------------------------------------------- render
def cmd_render(args: argparse.Namespace) -> int:
    from postprocess import process_answer, scale_recipe
    from recipe_schema import Recipe, ScalingError, refuse_overwriting_inputs

    refuse_overwriting_inputs({"-o/--output": args.output}, {"FILE": args.file})
    answer = process_answer(_read_text(args.file))  # a recipe, or a generated {"reply": ...}
    if args.servings is not None:
        if not isinstance(answer, Recipe):
            raise ScalingError("a reply has no servings to scale")
        answer = scale_recipe(answer, args.servings)
    _write_output(_render_answer(answer, args.format), args.output)
    return 0


def _render_answer(answer: Any, fmt: str) -> str:
    """A recipe (normalized) or a reply, as markdown, json or jsonld text."""
    from postprocess import normalize, to_jsonld, to_markdown
    from recipe_schema import Reply

    if isinstance(answer, Reply):
        if fmt == "markdown":
            return answer.reply + "\n"
        return json.dumps({"reply": answer.reply}, ensure_ascii=False) + "\n"
    recipe = normalize(answer)
    if fmt == "markdown":
        return to_markdown(recipe)
    if fmt == "jsonld":
        return json.dumps(to_jsonld(recipe), indent=2, ensure_ascii=False) + "\n"
    return recipe.model_dump_json(indent=2, exclude_none=True) + "\n"


def _write_output(text: str, path: str | None) -> None:
    """To ``path`` atomically when given, else to stdout."""
    from recipe_schema import atomic_write

    if path:
        atomic_write(path, text)
        print(f"wrote {path}", file=sys.stderr)
    else:
        sys.stdout.write(text)


# ----------------------------------------------------------- parse-ingredient
def cmd_parse_ingredient(args: argparse.Namespace) -> int:
    from postprocess import parse_ingredient

    rows = [parse_ingredient(line).to_dict() for line in args.lines]
    if args.json:
        for row in rows:
            _emit(json.dumps(row, ensure_ascii=False))
        return 0
    columns = ["quantity", "quantity_max", "unit", "item", "note"]
    cells = [[("" if row[c] is None else str(row[c])) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    _emit("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for r in cells:
        _emit("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    return 0


# ------------------------------------------------------------------- generate
DEFAULT_STATE_FILE = "souschef-state.json"


def cmd_generate(args: argparse.Namespace) -> int:
    from generation import GenerationState, RecipeGenerator
    from recipe_schema import UnfinishedGenerationError, UsageError, atomic_write, refuse_overwriting_inputs

    if (args.prompt is None) == (args.resume is None):
        raise UsageError("give a PROMPT, or --resume FILE to continue a saved generation")
    # --save-state may be the --resume file (that is how a resumed run saves by default)
    refuse_overwriting_inputs({"-o/--output": args.output, "--save-state": args.save_state},
                              {"--model": args.model})
    refuse_overwriting_inputs({"-o/--output": args.output}, {"--resume": args.resume})
    sampling = {k: getattr(args, k) for k in ("temperature", "top_k", "top_p", "repetition_penalty", "seed",
                                              "max_total_tokens", "mode") if getattr(args, k) is not None}
    if args.resume:  # what a started generation fixed cannot change: refused, not ignored
        for flag, given in (("--mode", args.mode is not None), ("--no-guard", not args.guard)):
            if given:
                raise UsageError(f"{flag} cannot apply on --resume: the saved generation's mode was chosen "
                                 "when it started")
        state = GenerationState.from_json(_read_text(args.resume))
    print(f"loading {args.model}", file=sys.stderr, flush=True)
    generator = RecipeGenerator.from_pretrained(args.model, guard=args.guard)
    if args.resume:
        changes = {k: v for k, v in sampling.items() if getattr(state.settings, k) != v}
        saved, state = state.settings, generator.with_settings(state, **changes)
        generator.check(state)  # refused before anything is said about it
        for name, value in changes.items():
            print(f"{PROG}: resume: {name} changes from {getattr(saved, name)} to {value} for the "
                  "rest of this generation", file=sys.stderr)
        save_to = args.save_state or args.resume
    else:
        state = generator.start(args.prompt, **sampling)
        save_to = args.save_state

    def after_call(st: GenerationState) -> None:
        done = "finished" if st.finished else "continuing"
        print(f"call {st.calls}: {len(st.generated_ids)} tokens, {done}", file=sys.stderr, flush=True)
        if save_to:
            atomic_write(save_to, st.to_json())

    result = generator.continue_(state, args.max_new_tokens_per_call, args.max_calls, after_call)
    if not result.finished:
        path = save_to or DEFAULT_STATE_FILE
        if not save_to:
            atomic_write(path, result.state.to_json())
        raise UnfinishedGenerationError(
            f"stopped after {args.max_calls} calls ({result.tokens} tokens) before the answer was "
            f"complete; continue with: souschef generate --resume {path} --model {args.model}",
            result.state,
        )
    _write_output(_render_answer(result.answer, args.format), args.output)
    return 0


# ---------------------------------------------------------------------- train
def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from training import TrainConfig, train

    config = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)
                            if getattr(args, f.name, None) is not None})
    result = train(config)
    losses = f"train loss {result.train_loss:.3f}" if result.train_loss is not None else ""
    if result.val_loss is not None:
        losses += f", validation loss {result.initial_val_loss:.3f} -> {result.val_loss:.3f}"
    print(f"saved {result.output_dir} after {result.steps} steps ({losses})", file=sys.stderr)
    return 0


def _add_config_flags(parser: argparse.ArgumentParser, config_cls: Any, required: tuple[str, ...]) -> None:
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


# ------------------------------------------------------------------- evaluate
def _gate(text: str) -> tuple[str, float]:
    from evaluation.suite import LABELS

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


def cmd_evaluate(args: argparse.Namespace) -> int:
    from evaluation.report import check_report_dir, write_report
    from evaluation.suite import SuiteConfig, check_gates, run_suite

    check_report_dir(args.out, {"--model": args.model, "--heldout": args.heldout,
                                "--offdomain": args.offdomain, "--indomain": args.indomain,
                                "--train": args.train})
    config = SuiteConfig(model=args.model, heldout=args.heldout, offdomain=args.offdomain,
                         indomain=args.indomain, train=args.train or [], limit=args.limit, seed=args.seed,
                         guard=args.guard, temperature=args.temperature,
                         max_total_tokens=args.max_total_tokens)
    report, samples = run_suite(config, progress=not args.quiet)
    paths = write_report(args.out, report, samples)
    failed = check_gates(report, dict(args.fail_under), dict(args.fail_over))
    if args.json:
        _emit(json.dumps({"report": str(paths["report"]), "metrics": report["metrics"],
                          "failed_gates": failed}, indent=2))
    else:
        metrics = report["metrics"]
        for key in ("rougeL", "steps_given_ingredients_rougeL", "contamination", "contamination_unseen",
                    "false_refusal", "validity", "completion"):
            m = metrics[key]
            value = "no samples" if m["value"] is None else f"{m['value']:.3f}"
            interval = f"  [{m['low']:.3f}, {m['high']:.3f}]" if m["low"] is not None else ""
            _emit(f"{key:32} {value}{interval}")
        for path in paths.values():
            print(f"wrote {path}", file=sys.stderr)
    for line in failed:
        print(f"{PROG}: gate failed: {line}", file=sys.stderr)
    return 1 if failed else 0


def cmd_report_compare(args: argparse.Namespace) -> int:
    from evaluation.compare import compare_reports, format_comparison
    from evaluation.report import load_report

    a, b = load_report(args.a), load_report(args.b)
    result = compare_reports(a, b)
    _emit(json.dumps(result, indent=2) if args.json else format_comparison(result, args.a, args.b))
    return 0


# --------------------------------------------------------------------- parser
def _setting(name: str) -> Any:
    """The argparse type of one setting: its range in ``recipe_schema.limits.SETTINGS``, the one
    that ``generation.Settings`` holds a saved state to."""
    from recipe_schema.limits import SETTINGS

    def parse(text: str) -> Any:
        try:
            return SETTINGS[name].parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return parse


def _range(name: str) -> str:
    from recipe_schema.limits import SETTINGS

    return str(SETTINGS[name])


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


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

    p = sub.add_parser(
        "schema",
        help="print the recipe JSON Schema",
        description="Print the recipe JSON Schema (draft 2020-12).",
        epilog="example:\n  souschef schema > recipe.schema.json",
        formatter_class=fmt,
    )
    p.set_defaults(func=cmd_schema)

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
    p.add_argument("--servings", type=_positive_int, metavar="N", help="scale to N servings")
    p.add_argument("-o", "--output", metavar="OUT", help="write here (atomically) instead of stdout")
    p.set_defaults(func=cmd_render)

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

    p = sub.add_parser(
        "generate",
        help="generate a complete, valid recipe (or reply) with a model",
        description=(
            "Generate an answer constrained to the recipe schema, call after call (each at most\n"
            "--max-new-tokens-per-call tokens) until it is complete, past the model's context\n"
            "window and within --max-total-tokens. A domain guard reads the question first: one\n"
            'that is not about cooking gets a reply instead ({"reply": "..."}). --max-calls stops\n'
            "early on purpose: the state is saved and the command exits 1 naming the --resume command."
        ),
        epilog=(
            "examples:\n  souschef generate 'How do I make shakshuka?' --model runs/tiny\n"
            "  souschef generate 'Pancakes?' --model runs/tiny --format json --seed 1 --temperature 0.8\n"
            "  souschef generate 'Lasagne?' --model runs/tiny --max-calls 2 --save-state s.json\n"
            "  souschef generate --resume s.json --model runs/tiny"
        ),
        formatter_class=fmt,
    )
    p.add_argument("prompt", nargs="?", metavar="PROMPT", help="the question")
    p.add_argument("--model", required=True, metavar="DIR", help="a model directory (souschef train --out)")
    p.add_argument("--format", choices=["markdown", "json", "jsonld"], default="markdown",
                   help="markdown (default), json (a Recipe, or {\"reply\": ...}), schema.org jsonld")
    p.add_argument("--mode", choices=["any", "recipe", "reply"],
                   help="recipe or reply; default any: the domain guard chooses (the model, with --no-guard)")
    p.add_argument("--no-guard", dest="guard", action="store_false",
                   help="no domain guard: in mode any the model itself chooses recipe or reply")
    p.add_argument("--max-new-tokens-per-call", type=_setting("max_new_tokens_per_call"), default=256,
                   metavar="N", help=f"tokens per call (default 256; {_range('max_new_tokens_per_call')})")
    p.add_argument("--max-total-tokens", type=_setting("max_total_tokens"), metavar="N",
                   help=f"the answer closes within N tokens (default 2048; {_range('max_total_tokens')})")
    p.add_argument("--max-calls", type=_setting("max_calls"), metavar="N",
                   help="stop after N calls, resumable")
    p.add_argument("--temperature", type=_setting("temperature"), metavar="T",
                   help=f"0 is greedy (default); {_range('temperature')}")
    p.add_argument("--top-p", type=_setting("top_p"), metavar="P",
                   help=f"nucleus sampling (default 1.0; {_range('top_p')})")
    p.add_argument("--top-k", type=_setting("top_k"), metavar="K",
                   help="sample among the K best (default 0: all)")
    p.add_argument("--repetition-penalty", type=_setting("repetition_penalty"), metavar="R",
                   help="divide the scores of tokens already in the context by R (default 1.2; 1 is off; "
                        f"{_range('repetition_penalty')})")
    p.add_argument("--seed", type=_setting("seed"), metavar="S", help="sampling seed (default 0)")
    p.add_argument("--save-state", metavar="FILE", help="rewrite the resumable state here after every call")
    p.add_argument("--resume", metavar="FILE",
                   help="continue the generation saved in FILE; --mode and --no-guard cannot apply, a "
                        "sampling or budget flag changes that setting from here on (said on stderr)")
    p.add_argument("-o", "--output", metavar="OUT", help="write the answer here (atomically)")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser(
        "train",
        help="fine-tune a model (or train a tiny one) on recipes and chat exchanges",
        description=(
            "Fine-tune a causal language model on recipes and chat exchanges; without --data,\n"
            "on the corpus souschef ships. Works unchanged under torchrun / accelerate launch.\n"
            "Progress goes to stderr; a killed run continues with --resume."
        ),
        epilog=(
            "examples:\n  souschef train --from-scratch tiny --out runs/tiny --max-steps 300\n"
            "  souschef train --data mine.jsonl --out runs/mine                # fine-tunes gpt2\n"
            "  torchrun --nproc_per_node 8 -m souschef train --base gpt2 --out runs/gpt2 --resume"
        ),
        formatter_class=fmt,
    )
    from training.config import TrainConfig  # light: no torch

    _add_config_flags(p, TrainConfig, required=("out",))
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "evaluate",
        help="score a model: held-out ROUGE, off-domain contamination, validity, speed",
        description=(
            "Run the evaluation suite: generate answers for held-out recipes (title -> recipe, and\n"
            "title + ingredients -> steps), off-domain and in-domain prompts, as a user gets them\n"
            "(through the domain guard unless --no-guard), and write report.json, samples.jsonl,\n"
            "report.md and plots to OUT. Sets left out are the ones souschef ships. Gates compare a\n"
            "metric's point estimate (names: the keys of report.json's metrics, listed in\n"
            "docs/EVALUATION.md); a failed gate exits 1."
        ),
        epilog=(
            "examples:\n  souschef evaluate --model runs/tiny --out reports/tiny --limit 20\n"
            "  souschef evaluate --model runs/tiny --heldout val.jsonl --out reports/val \\\n"
            "      --fail-under rougeL=0.15 --fail-over contamination=0.05"
        ),
        formatter_class=fmt,
    )
    p.add_argument("--model", required=True, metavar="DIR", help="a model directory (souschef train --out)")
    p.add_argument("--out", required=True, metavar="DIR", help="write the report here")
    p.add_argument("--heldout", metavar="PATH",
                   help="held-out recipes, any format train reads (default: shipped)")
    p.add_argument("--offdomain", metavar="PATH", help="JSONL of {prompt, topic} (default: shipped, 132)")
    p.add_argument("--indomain", metavar="PATH", help="JSONL of {prompt} (default: shipped, 60)")
    p.add_argument("--train", nargs="+", metavar="PATH",
                   help="recipes the nearest-recipe baselines retrieve from (default: shipped training set)")
    p.add_argument("--limit", type=_positive_int, metavar="N", help="at most N records of each set")
    p.add_argument("--seed", type=_setting("seed"), default=0, metavar="S",
                   help="sampling and bootstrap seed (default 0)")
    p.add_argument("--temperature", type=_setting("temperature"), default=0.0, metavar="T",
                   help=f"0 is greedy (default); {_range('temperature')}")
    p.add_argument("--max-total-tokens", type=_setting("max_total_tokens"), default=1024, metavar="N",
                   help="token budget per answer (default 1024)")
    p.add_argument("--no-guard", dest="guard", action="store_false", help="turn the domain guard off")
    p.add_argument("--fail-under", type=_gate, action="append", default=[], metavar="NAME=VALUE",
                   help="exit 1 when metric NAME is below VALUE (repeatable)")
    p.add_argument("--fail-over", type=_gate, action="append", default=[], metavar="NAME=VALUE",
                   help="exit 1 when metric NAME is above VALUE (repeatable)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "report",
        help="work with evaluation reports",
        description="Work with evaluation reports written by souschef evaluate.",
        epilog="example:\n  souschef report compare reports/before reports/after",
        formatter_class=fmt,
    )
    report_sub = p.add_subparsers(dest="report_command", metavar="COMMAND", parser_class=_Parser)
    report_sub.required = True
    p = report_sub.add_parser(
        "compare",
        help="two reports side by side with their differences",
        description="Show two reports side by side: every metric, B - A, and whether the intervals overlap.",
        epilog="example:\n  souschef report compare reports/before reports/after",
        formatter_class=fmt,
    )
    p.add_argument("a", metavar="A", help="a report folder or report.json")
    p.add_argument("b", metavar="B", help="a report folder or report.json")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.set_defaults(func=cmd_report_compare)
    from chat.cli import add_commands

    add_commands(sub, fmt)
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
