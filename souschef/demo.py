"""``make demo``: what souschef does, end to end, with the assistant it ships.

1. answer three cooking questions with the shipped assistant (SmolLM2-135M-Instruct and
   its LoRA adapter), print the recipes, and say whether each is the dish asked for;
2. stop a generation after one short call, save its state, and resume it to the end in
   a second call (what "continued across calls" means);
3. ask an off-domain question: the domain guard routes it to a reply;
4. fine-tune for a few LoRA steps on the shipped corpus, printing the loss;
5. run the evaluation suite on a few held-out recipes and prompts, and say where the
   report and its plots are.

Each step prints a heading on stderr and its result on stdout; progress bars go to
stderr. A failure stops the demo with a one-line message and exit code 1.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from recipe_schema import SouschefError

RUN_DIR = Path("runs/demo")
QUESTIONS = (
    ("How do I make shakshuka?", "shakshuka"),
    ("Can you give me a recipe for a big Greek moussaka for a family dinner?", "moussaka"),
    ("Something vegan for dinner?", None),
)
RESUMED = "How do I make a lemon drizzle cake?"
OFF_DOMAIN = "How can I implement a binary search algorithm in Python?"


def _step(title: str) -> None:
    print(f"\n==> {title}", file=sys.stderr, flush=True)


def answer_questions(generator: Any, max_total_tokens: int) -> None:
    """Three recipes, printed as Markdown, each title checked against the dish asked for."""
    from evaluation.metrics.on_topic.on_topic import names_dish
    from postprocess import normalize, to_markdown

    for question, dish in QUESTIONS:
        started = time.perf_counter()
        result = generator.generate(question, max_total_tokens=max_total_tokens)
        seconds = time.perf_counter() - started
        if result.recipe is None:
            print(f"\n{question!r} -> a reply, not a recipe: {result.reply}")
            continue
        verdict = "" if dish is None else (
            f"; titled as asked ({dish}: the title only, not the ingredients, is checked)"
            if names_dish(result.recipe.title, dish) else f"; NOT titled {dish}: off topic")
        score = "" if result.guard_score is None else f", guard score {result.guard_score:.2f}"
        print(f"\n{question!r} -> {result.recipe.title!r}: {result.tokens} tokens in {result.calls} call(s), "
              f"{seconds:.1f} s{score}{verdict}\n")
        print(to_markdown(normalize(result.recipe)))


def stop_and_resume(generator: Any, state_file: Path, max_total_tokens: int) -> None:
    """One short call, the state saved as JSON, then a second call that finishes the answer."""
    from generation import GenerationState
    from recipe_schema import atomic_write

    first = generator.generate(RESUMED, max_new_tokens_per_call=48, max_calls=1,
                               max_total_tokens=max_total_tokens)
    atomic_write(state_file, first.state.to_json())
    print(f"{RESUMED!r}: call 1 stopped after {first.tokens} tokens (finished: {first.finished}); "
          f"state saved to {state_file} ({state_file.stat().st_size:,} bytes)")
    print(f"  so far: {first.text[:120]}...")
    state = GenerationState.from_json(state_file.read_text(encoding="utf-8"))
    done = generator.continue_(state)
    print(f"call {done.calls}: resumed from the file and finished at {done.tokens} tokens; "
          f"valid recipe {done.recipe.title!r}" if done.recipe else f"finished: {done.text}")


def off_domain(generator: Any, max_total_tokens: int) -> None:
    result = generator.generate(OFF_DOMAIN, max_total_tokens=max_total_tokens)
    if result.guard_score is not None:
        print(f"the guard scores it {result.guard_score:.2f} for cooking and routes it to a reply")
    print(f"answer: {result.reply if result.reply is not None else result.text}")


def fine_tune(out: Path, steps: int) -> None:
    """A few LoRA steps on the shipped corpus: the loss printed, the adapter saved."""
    from souschef.training import TrainConfig, train

    result = train(TrainConfig(lora=True, out=str(out), max_steps=steps, batch_size=1, grad_accum=1,
                               seq_len=512, eval_fraction=0, logging_steps=1))
    size = (out / "adapter_model.safetensors").stat().st_size
    print(f"fine-tuned {steps} LoRA steps of SmolLM2 on the shipped corpus: training loss "
          f"{result.train_loss:.3f}; adapter in {out} ({size:,} bytes); "
          f"use it with: souschef generate 'Pancakes?' --model {out}")


def evaluate(generator: Any, out: Path, limit: int, max_total_tokens: int) -> None:
    from evaluation.report import write_report
    from evaluation.suite import SuiteConfig, run_suite

    config = SuiteConfig(model=None, limit=limit, max_total_tokens=max_total_tokens, weights="auto")
    report, samples = run_suite(config, generator=generator)
    paths = write_report(out, report, samples)
    metrics = report["metrics"]
    for key in ("rougeL", "steps_given_ingredients_rougeL", "on_topic_heldout", "on_topic_dish",
                "contamination", "false_refusal", "validity", "completion"):
        m = metrics[key]
        interval = "" if m["low"] is None else f" (95% interval {m['low']:.3f}-{m['high']:.3f}, n={m['n']})"
        value = "no samples" if m["value"] is None else f"{m['value']:.3f}"
        print(f"{key:32} {value}{interval}")
    for key, d in report["differences"].items():
        print(f"{key + ' - ' + d['baseline']:32} {d['difference']:+.3f} (n={d['n']}: too few to conclude)")
    print(f"report: {paths['markdown']}")
    print(f"plots:  {paths['metrics_plot']}, {paths['contamination_plot']}")


def run(args: argparse.Namespace) -> None:
    from generation import RecipeGenerator

    args.run_dir.mkdir(parents=True, exist_ok=True)
    name = args.model or "the assistant souschef ships (SmolLM2-135M-Instruct + its LoRA adapter)"
    _step(f"1/5 load {name} and answer three questions")
    generator = RecipeGenerator.from_pretrained(args.model, weights="auto")  # as the CLI decodes
    answer_questions(generator, args.max_total_tokens)
    _step("2/5 stop a generation after one short call, save it, resume it in a second call")
    stop_and_resume(generator, args.run_dir / "state.json", args.max_total_tokens)
    _step(f"3/5 an off-domain question: {OFF_DOMAIN!r}")
    off_domain(generator, args.max_total_tokens)
    if args.steps:
        _step(f"4/5 fine-tune: {args.steps} LoRA steps on the shipped corpus")
        fine_tune(args.run_dir / "lora", args.steps)
    _step(f"5/5 evaluate on {args.limit} records of each shipped evaluation set")
    evaluate(generator, args.run_dir / "report", args.limit, args.max_total_tokens)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m souschef.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR,
                        help="where the state, adapter and report go")
    parser.add_argument("--model", help="use this model instead of the shipped assistant")
    parser.add_argument("--steps", type=int, default=3, help="LoRA steps to fine-tune (0 skips the step)")
    parser.add_argument("--limit", type=int, default=3, help="records of each evaluation set")
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
