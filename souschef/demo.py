"""``make demo``: what souschef does, end to end, on what the repository ships.

1. train a tiny model on the shipped corpus (reused when ``runs/demo/model`` exists);
2. generate three recipes, schema-constrained and resumable, at least one of them
   longer than the model's 256-token context window, and print one as Markdown;
3. ask an off-domain question: the domain guard routes it to a reply;
4. run the evaluation suite on a few held-out recipes and prompts, and say where the
   report and its plots are.

Each step prints a heading on stderr and its result on stdout; progress bars go to
stderr. A failure stops the demo with a one-line message and exit code 1.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from recipe_schema import SouschefError

RUN_DIR = Path("runs/demo")
QUESTIONS = (
    "How do I make shakshuka?",
    "Can you give me a recipe for a big Greek moussaka for a family dinner?",
    "Something vegan for dinner?",
)
OFF_DOMAIN = "How can I implement a binary search algorithm in Python?"


def _step(title: str) -> None:
    print(f"\n==> {title}", file=sys.stderr, flush=True)


def train_model(model_dir: Path, epochs: float) -> None:
    """Train the tiny model unless a finished one is already there."""
    if (model_dir / "souschef.json").is_file():
        print(f"reusing the model in {model_dir} (delete it to train again)")
        return
    from training import TrainConfig, train

    result = train(TrainConfig(from_scratch="tiny", out=str(model_dir), epochs=epochs))
    print(f"trained {model_dir}: {result.steps} steps, validation loss "
          f"{result.initial_val_loss:.2f} -> {result.val_loss:.2f}")


def generate(model_dir: Path, max_total_tokens: int) -> None:
    from generation import RecipeGenerator
    from postprocess import normalize, to_markdown

    generator = RecipeGenerator.from_pretrained(model_dir)
    window = generator.n_positions
    longest = None
    for question in QUESTIONS:
        started = time.perf_counter()
        result = generator.generate(question, mode="recipe", max_total_tokens=max_total_tokens)
        seconds = time.perf_counter() - started
        if result.recipe is None:
            raise SouschefError(f"no recipe for {question!r}")
        context = len(result.state.prompt_ids) + result.tokens
        past = "past" if context > window else "within"
        print(f"{question!r}: {result.recipe.title!r}, {result.tokens} tokens in {result.calls} calls, "
              f"{seconds:.1f} s; prompt + answer = {context} tokens, {past} the {window}-token window")
        if longest is None or result.tokens > longest.tokens:
            longest = result
    assert longest is not None and longest.recipe is not None
    _step(f"the longest one ({longest.tokens} tokens), validated and rendered as Markdown")
    print(to_markdown(normalize(longest.recipe)))

    _step(f"3/4 an off-domain question: {OFF_DOMAIN!r}")
    result = generator.generate(OFF_DOMAIN, max_total_tokens=max_total_tokens)
    score = result.guard_score
    if score is not None:
        print(f"the guard scores it {score:.2f} for cooking and routes it to a reply")
    print(f"answer: {result.text}")


def evaluate(model_dir: Path, out: Path, limit: int, max_total_tokens: int) -> None:
    from evaluation.report import write_report
    from evaluation.suite import SuiteConfig, run_suite

    config = SuiteConfig(model=str(model_dir), limit=limit, max_total_tokens=max_total_tokens)
    report, samples = run_suite(config)
    paths = write_report(out, report, samples)
    metrics = report["metrics"]
    for key in ("rougeL", "steps_given_ingredients_rougeL", "contamination", "false_refusal", "validity",
                "completion"):
        m = metrics[key]
        interval = ""
        if m["low"] is not None:
            interval = f" (95% interval {m['low']:.3f}-{m['high']:.3f}, n={m['n']})"
        print(f"{key:32} {m['value']:.3f}{interval}")
    nearest = report["baselines"].get("nearest_title", {}).get("rougeL")
    if nearest:
        print(f"{'baseline: nearest recipe rougeL':32} {nearest['value']:.3f}")
    print(f"report: {paths['markdown']}")
    print(f"plots:  {paths['metrics_plot']}, {paths['contamination_plot']}")


def run(args: argparse.Namespace) -> None:
    model_dir = args.model or args.run_dir / "model"
    if args.model:
        _step(f"1/4 use the model in {model_dir}")
    else:
        _step(f"1/4 train a tiny model on the shipped corpus -> {model_dir}")
        train_model(model_dir, args.epochs)
    _step("2/4 generate three recipes, constrained to the schema, continued across calls")
    generate(model_dir, args.max_total_tokens)
    _step(f"4/4 evaluate on {args.limit} records of each shipped evaluation set")
    evaluate(model_dir, args.run_dir / "report", args.limit, args.max_total_tokens)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m souschef.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR, help="where the model and report go")
    parser.add_argument("--epochs", type=float, default=4.0, help="training epochs for the tiny model")
    parser.add_argument("--limit", type=int, default=10, help="records of each evaluation set")
    parser.add_argument("--model", type=Path, help="use this model directory instead of training one")
    parser.add_argument("--max-total-tokens", type=int, default=1024, help="token budget per answer")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        run(args)
    except SouschefError as e:
        print(f"demo failed: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("demo interrupted", file=sys.stderr)
        return 130
    print(f"\ndemo finished in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
