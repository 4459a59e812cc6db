"""``souschef generate | train | evaluate | report compare``: the commands that use a model.

``add_commands(sub, formatter_class)`` registers them on the ``souschef`` parser, as
``chat_cli`` does for ``chat`` and ``feedback``. Each command is a thin adapter over one
library call, returns an exit code and raises ``recipe_schema`` errors for bad input;
torch, transformers and the rest are imported inside the commands.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .flags import add_config_flags, add_weights_flag, gate, positive_int, sets, setting, setting_range
from .output import PROG, emit, read_text, render_answer, write_output

# ------------------------------------------------------------------- generate
DEFAULT_STATE_FILE = "souschef-state.json"
MODEL_HELP = ("a model or LoRA adapter directory (souschef train --out), a base name "
              "(smollm2-135m-instruct), a .gguf file or a hub id; default: the assistant souschef ships")


def cmd_generate(args: argparse.Namespace) -> int:
    from generation import GenerationState, RecipeGenerator
    from recipe_schema import (
        StateError,
        UnfinishedGenerationError,
        UsageError,
        atomic_write,
        refuse_overwriting_inputs,
    )

    if (args.prompt is None) == (args.resume is None):
        raise UsageError("give a PROMPT, or --resume FILE to continue a saved generation")
    # --save-state may be the --resume file (that is how a resumed run saves by default)
    refuse_overwriting_inputs({"-o/--output": args.output, "--save-state": args.save_state},
                              {"--model": args.model})
    refuse_overwriting_inputs({"-o/--output": args.output}, {"--resume": args.resume})
    sampling = {k: getattr(args, k) for k in ("temperature", "top_k", "top_p", "repetition_penalty",
                                              "no_repeat_ngram", "jump_forward", "seed", "max_total_tokens",
                                              "mode")
                if getattr(args, k) is not None}
    if args.resume:  # what a started generation fixed cannot change: refused, not ignored
        for flag, given in (("--mode", args.mode is not None), ("--no-guard", not args.guard)):
            if given:
                raise UsageError(f"{flag} cannot apply on --resume: the saved generation's mode was chosen "
                                 "when it started")
        state = GenerationState.from_json(read_text(args.resume))
    print(f"loading {args.model or 'the assistant souschef ships'}", file=sys.stderr, flush=True)
    generator = RecipeGenerator.from_pretrained(args.model, guard=args.guard, weights=args.weights)
    if args.resume and state.model != generator.model_id:
        from generation.int8 import weights_of

        raise StateError(f"the state was made with another model, or this one with other weights "
                         f"({state.model}, not {generator.model_id} with {weights_of(generator.model)} "
                         "weights): resume with the --weights it was made with (fp32 for a state the "
                         "Python API made, by default)")
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
            f"complete; continue with: souschef generate --resume {path}"
            + (f" --model {args.model}" if args.model else ""),
            result.state,
        )
    write_output(render_answer(result.answer, args.format), args.output)
    return 0


def register_generate(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Register ``generate`` on the subparsers ``sub``."""
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
            "examples:\n  souschef generate 'How do I make shakshuka?'\n"
            "  souschef generate 'Pancakes?' --format json --seed 1 --temperature 0.8\n"
            "  souschef generate 'Lasagne?' --max-calls 1 --max-new-tokens-per-call 64 --save-state s.json\n"
            "  souschef generate --resume s.json\n"
            "  souschef generate 'Shakshuka?' --model runs/tiny"
        ),
        formatter_class=fmt,
    )
    p.add_argument("prompt", nargs="?", metavar="PROMPT", help="the question")
    p.add_argument("--model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("--format", choices=["markdown", "json", "jsonld"], default="markdown",
                   help="markdown (default), json (a Recipe, or {\"reply\": ...}), schema.org jsonld")
    p.add_argument("--mode", choices=["any", "recipe", "reply"],
                   help="recipe or reply; default any: the domain guard chooses (the model, with --no-guard)")
    p.add_argument("--no-guard", dest="guard", action="store_false",
                   help="no domain guard: in mode any the model itself chooses recipe or reply")
    p.add_argument("--max-new-tokens-per-call", type=setting("max_new_tokens_per_call"), default=256,
                   metavar="N",
                   help=f"tokens per call (default 256; {setting_range('max_new_tokens_per_call')})")
    p.add_argument("--max-total-tokens", type=setting("max_total_tokens"), metavar="N",
                   help="the answer closes within N tokens "
                        f"(default 2048; {setting_range('max_total_tokens')})")
    p.add_argument("--max-calls", type=setting("max_calls"), metavar="N",
                   help="stop after N calls, resumable")
    p.add_argument("--temperature", type=setting("temperature"), metavar="T",
                   help=f"0 is greedy (default); {setting_range('temperature')}")
    p.add_argument("--top-p", type=setting("top_p"), metavar="P",
                   help=f"nucleus sampling (default 1.0; {setting_range('top_p')})")
    p.add_argument("--top-k", type=setting("top_k"), metavar="K",
                   help="sample among the K best (default 0: all)")
    p.add_argument("--repetition-penalty", type=setting("repetition_penalty"), metavar="R",
                   help="divide the scores of tokens already in the context by R (default: the model's "
                        f"own, else 1.2; 1 is off; {setting_range('repetition_penalty')})")
    p.add_argument("--no-repeat-ngram", type=setting("no_repeat_ngram"), metavar="N",
                   help="never repeat an N-gram of the answer's tokens (default: the model's own, else 0: "
                        f"off; {setting_range('no_repeat_ngram')})")
    p.add_argument("--jump-forward", action=argparse.BooleanOptionalAction, default=None,
                   help="take the text the schema forces (keys, brackets) without sampling, in one "
                        "forward pass (default: the model's own, else off)")
    p.add_argument("--seed", type=setting("seed"), metavar="S", help="sampling seed (default 0)")
    add_weights_flag(p)
    p.add_argument("--save-state", metavar="FILE", help="rewrite the resumable state here after every call")
    p.add_argument("--resume", metavar="FILE",
                   help="continue the generation saved in FILE; --mode and --no-guard cannot apply, a "
                        "sampling or budget flag changes that setting from here on (said on stderr)")
    p.add_argument("-o", "--output", metavar="OUT", help="write the answer here (atomically)")
    p.set_defaults(func=cmd_generate)


# ---------------------------------------------------------------------- train
def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from souschef.training import TrainConfig, train

    config = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)
                            if getattr(args, f.name, None) is not None})
    result = train(config)
    losses = f"train loss {result.train_loss:.3f}" if result.train_loss is not None else ""
    if result.val_loss is not None:
        losses += f", validation loss {result.initial_val_loss:.3f} -> {result.val_loss:.3f}"
    print(f"saved {result.output_dir} after {result.steps} steps ({losses})", file=sys.stderr)
    return 0


def register_train(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Register ``train`` on the subparsers ``sub``."""
    p = sub.add_parser(
        "train",
        help="fine-tune a model (or train a tiny one) on recipes and chat exchanges",
        description=(
            "Fine-tune a causal language model on recipes and chat exchanges; without --data,\n"
            "on the corpus souschef ships. Works unchanged under torchrun / accelerate launch.\n"
            "Progress goes to stderr; a killed run continues with --resume."
        ),
        epilog=(
            "examples:\n  souschef train --data mine.jsonl --lora --out runs/mine   # a SmolLM2 adapter\n"
            "  souschef train --from-scratch tiny --out runs/tiny --max-steps 300\n"
            "  torchrun --nproc_per_node 8 -m souschef train --base gpt2 --out runs/gpt2 --resume"
        ),
        formatter_class=fmt,
    )
    from souschef.training.config import TrainConfig  # light: no torch

    add_config_flags(p, TrainConfig, required=("out",))
    p.set_defaults(func=cmd_train)


# ------------------------------------------------------------------- evaluate
def cmd_evaluate(args: argparse.Namespace) -> int:
    from evaluation.report import check_report_dir, write_report
    from evaluation.suite import SuiteConfig, check_gates, run_suite

    check_report_dir(args.out, {"--model": args.model, "--heldout": args.heldout,
                                "--offdomain": args.offdomain, "--indomain": args.indomain,
                                "--train": args.train})
    config = SuiteConfig(model=args.model, heldout=args.heldout, offdomain=args.offdomain,
                         indomain=args.indomain, train=args.train or [], limit=args.limit, seed=args.seed,
                         guard=args.guard, temperature=args.temperature,
                         max_total_tokens=args.max_total_tokens, repetition_penalty=args.repetition_penalty,
                         no_repeat_ngram=args.no_repeat_ngram, jump_forward=args.jump_forward, sets=args.sets,
                         batch_size=args.batch_size, weights=args.weights)
    report, samples = run_suite(config, progress=not args.quiet)
    paths = write_report(args.out, report, samples)
    failed = check_gates(report, dict(args.fail_under), dict(args.fail_over))
    if args.json:
        emit(json.dumps({"report": str(paths["report"]), "metrics": report["metrics"],
                          "failed_gates": failed}, indent=2))
    else:
        metrics = report["metrics"]
        for key in ("rougeL", "steps_given_ingredients_rougeL", "on_topic_heldout", "on_topic_dish",
                    "contamination", "contamination_unseen", "false_refusal", "validity", "completion"):
            m = metrics.get(key, {"value": None, "low": None})
            value = "no samples" if m["value"] is None else f"{m['value']:.3f}"
            interval = f"  [{m['low']:.3f}, {m['high']:.3f}]" if m["low"] is not None else ""
            emit(f"{key:32} {value}{interval}")
        for key, d in report.get("differences", {}).items():
            interval = f"  [{d['low']:+.3f}, {d['high']:+.3f}]" if d.get("low") is not None else ""
            emit(f"{key + ' - ' + d['baseline']:32} {d['difference']:+.3f}{interval}")
        for path in paths.values():
            print(f"wrote {path}", file=sys.stderr)
    for line in failed:
        print(f"{PROG}: gate failed: {line}", file=sys.stderr)
    return 1 if failed else 0


def register_evaluate(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Register ``evaluate`` on the subparsers ``sub``."""
    from evaluation.config import EVALUATE_BATCH, SETS  # light: no torch, no evaluate

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
            "examples:\n  souschef evaluate --out reports/assistant --limit 20\n"
            "  souschef evaluate --model runs/tiny --heldout val.jsonl --out reports/val \\\n"
            "      --fail-under rougeL=0.15 --fail-over contamination=0.05"
        ),
        formatter_class=fmt,
    )
    p.add_argument("--model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("--out", required=True, metavar="DIR",
                   help="write the report here: a new folder, or one whose report files souschef wrote")
    p.add_argument("--heldout", metavar="PATH",
                   help="held-out recipes, any format train reads (default: shipped)")
    p.add_argument("--offdomain", metavar="PATH", help="JSONL of {prompt, topic} (default: shipped, 132)")
    p.add_argument("--indomain", metavar="PATH", help="JSONL of {prompt} (default: shipped, 60)")
    p.add_argument("--train", nargs="+", metavar="PATH",
                   help="recipes the nearest-recipe baselines retrieve from (default: shipped training set)")
    p.add_argument("--limit", type=positive_int, metavar="N", help="at most N records of each set")
    p.add_argument("--seed", type=setting("seed"), default=0, metavar="S",
                   help="sampling and bootstrap seed (default 0)")
    p.add_argument("--temperature", type=setting("temperature"), default=0.0, metavar="T",
                   help=f"0 is greedy (default); {setting_range('temperature')}")
    p.add_argument("--max-total-tokens", type=setting("max_total_tokens"), default=1024, metavar="N",
                   help="token budget per answer (default 1024)")
    p.add_argument("--repetition-penalty", type=setting("repetition_penalty"), metavar="R",
                   help="decoding's repetition penalty (default: the model's own, else 1.2)")
    p.add_argument("--no-repeat-ngram", type=setting("no_repeat_ngram"), metavar="N",
                   help="never repeat an N-gram of an answer's tokens (default: the model's own, else off)")
    p.add_argument("--jump-forward", action=argparse.BooleanOptionalAction, default=None,
                   help="take the text the schema forces without sampling (default: the model's own, "
                        "else off)")
    p.add_argument("--batch-size", type=positive_int, default=EVALUATE_BATCH, metavar="B",
                   help=f"answers decoded together, one forward pass per step for all (default "
                        f"{EVALUATE_BATCH}; 8 needs up to 1 GB less memory; 1: one after another)")
    add_weights_flag(p)
    p.add_argument("--sets", type=sets, default=SETS, metavar="NAME[,NAME...]",
                   help="the sets to generate for: heldout, offdomain, indomain (default: all three; "
                        "held-out quality depends on the model, contamination and refusals on the guard)")
    p.add_argument("--no-guard", dest="guard", action="store_false", help="turn the domain guard off")
    p.add_argument("--fail-under", type=gate, action="append", default=[], metavar="NAME=VALUE",
                   help="exit 1 when metric NAME is below VALUE (repeatable)")
    p.add_argument("--fail-over", type=gate, action="append", default=[], metavar="NAME=VALUE",
                   help="exit 1 when metric NAME is above VALUE (repeatable)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_evaluate)


def cmd_report_compare(args: argparse.Namespace) -> int:
    from evaluation.compare import compare_reports, format_comparison, format_paired, paired_differences
    from evaluation.report import load_report, load_samples

    a, b = load_report(args.a), load_report(args.b)
    result = compare_reports(a, b)
    samples_a, samples_b = load_samples(args.a), load_samples(args.b)
    if samples_a is not None and samples_b is not None:  # the same prompts: a paired test
        result["paired"] = paired_differences(samples_a, samples_b)
    elif samples_a is not None or samples_b is not None:
        print(f"{PROG}: no paired differences: {args.b if samples_b is None else args.a} has no "
              "samples.jsonl beside its report", file=sys.stderr)
    if args.json:
        emit(json.dumps(result, indent=2))
    else:
        text = format_comparison(result, args.a, args.b)
        emit(text + ("\n" + format_paired(result["paired"], args.a, args.b) if "paired" in result else ""))
    return 0


def register_report(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Register ``report`` on the subparsers ``sub``."""
    p = sub.add_parser(
        "report",
        help="work with evaluation reports",
        description="Work with evaluation reports written by souschef evaluate.",
        epilog="example:\n  souschef report compare reports/before reports/after",
        formatter_class=fmt,
    )
    report_sub = p.add_subparsers(dest="report_command", metavar="COMMAND", parser_class=type(p))
    report_sub.required = True
    p = report_sub.add_parser(
        "compare",
        help="two reports side by side with their differences",
        description=(
            "Show two reports side by side: every metric, B - A, and whether the intervals overlap.\n"
            "When both folders hold their samples.jsonl, the prompts both answered are paired: each\n"
            "per-prompt score's mean B - A with a paired bootstrap 95% interval (1,000 resamples,\n"
            "seed 0), and how many answers are the same text (\"paired\" in --json)."
        ),
        epilog="example:\n  souschef report compare reports/before reports/after",
        formatter_class=fmt,
    )
    p.add_argument("a", metavar="A", help="a report folder or report.json")
    p.add_argument("b", metavar="B", help="a report folder or report.json")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.set_defaults(func=cmd_report_compare)


def add_commands(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Register ``generate``, ``train``, ``evaluate`` and ``report`` on the subparsers ``sub``."""
    register_generate(sub, fmt)
    register_train(sub, fmt)
    register_evaluate(sub, fmt)
    register_report(sub, fmt)
