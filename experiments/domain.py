"""Issue 6's experiments: what keeps the assistant in its domain, measured with the suite.

From the repository root:

    python -m experiments.domain --out runs/experiments            # train, evaluate, summarize
    python -m experiments.domain --out runs/experiments --json     # the summary as JSON only

Trains the tiny preset (same seed and epochs) on three data mixtures, then evaluates
each model with the evaluation suite with the domain guard on and off:

- ``recipes``: the seed's setting: shipped recipes + in-domain exchanges, no off-domain data;
- ``mixed-half``: plus half of the off-domain exchanges (replies), chosen by hash;
- ``mixed``: plus all 206 off-domain exchanges (what ``souschef train`` uses by default).

Without the guard the model chooses the output form itself (the union schema: recipe
or reply), which is what the mixtures teach; with the guard, the prompt is routed before
decoding. Models and reports are reused when they exist. Prints a Markdown table of
contamination (all topics and unseen ones), false refusals and ROUGE-L with intervals,
and writes ``summary.json`` and ``tradeoff.png`` under --out.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

KEYS = ("contamination", "contamination_unseen", "false_refusal", "rougeL", "steps_given_ingredients_rougeL")


def mixtures(out: Path) -> dict[str, list[str]]:
    """Training files per experiment (written under ``out/data``)."""
    from souschef import corpus
    exchanges = corpus.rows(corpus.EXCHANGES)
    cooking = [e for e in exchanges if "reply" not in e["answer"]]
    off = [e for e in exchanges if "reply" in e["answer"]]
    half = [e for e in off if hashlib.sha256(e["prompt"].encode()).digest()[0] % 2 == 0]
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, rows in (("cooking", cooking), ("off-half", half), ("off-all", off)):
        path = data / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        files[name] = str(path)
    recipes = str(corpus.path(corpus.RECIPES))
    return {
        "recipes": [recipes, files["cooking"]],
        "mixed-half": [recipes, files["cooking"], files["off-half"]],
        "mixed": [recipes, files["cooking"], files["off-all"]],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.domain",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "experiments")
    parser.add_argument("--epochs", type=float, default=4.0)
    parser.add_argument("--only", nargs="+", help="run only these experiments")
    parser.add_argument("--guard", choices=("both", "on", "off"), default="both",
                        help="evaluate with the guard on, off or both (default)")
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args(argv)

    from evaluation.report import write_report
    from evaluation.suite import SuiteConfig, run_suite
    from souschef.training import TrainConfig, train

    rows = []
    for name, files in mixtures(opts.out).items():
        if opts.only and name not in opts.only:
            continue
        model = opts.out / name / "model"
        if not (model / "souschef.json").is_file():
            print(f"== training {name}", file=sys.stderr, flush=True)
            train(TrainConfig(data=files, from_scratch="tiny", out=str(model), epochs=opts.epochs,
                              mix_offdomain=False))  # the mixture is exactly what is listed
        for guard in {"both": (False, True), "on": (True,), "off": (False,)}[opts.guard]:
            folder = opts.out / name / ("guard" if guard else "no-guard")
            if not (folder / "report.json").is_file():
                print(f"== evaluating {name}, guard {'on' if guard else 'off'}", file=sys.stderr, flush=True)
                report, samples = run_suite(SuiteConfig(model=str(model), guard=guard))
                write_report(folder, report, samples)
            report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
            rows.append({"experiment": name, "guard": guard,
                         **{k: report["metrics"][k] for k in KEYS}})
    (opts.out / "summary.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    plot(rows, opts.out / "tradeoff.png")
    if opts.json:
        print(json.dumps(rows, indent=2))
    else:
        print(table(rows))
    return 0


def _cell(m: dict) -> str:
    if m["value"] is None:
        return "-"
    interval = f" [{m['low']:.3f}, {m['high']:.3f}]" if m.get("low") is not None else ""
    return f"{m['value']:.3f}{interval}"


def table(rows: list[dict]) -> str:
    head = "| experiment | guard | " + " | ".join(KEYS) + " |"
    lines = [head, "|" + "---|" * (len(KEYS) + 2)]
    for r in rows:
        lines.append(f"| {r['experiment']} | {'on' if r['guard'] else 'off'} | "
                     + " | ".join(_cell(r[k]) for k in KEYS) + " |")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4))
    ax = fig.subplots()
    keys = ("contamination", "contamination_unseen", "false_refusal", "rougeL")
    width = 0.8 / len(rows)
    for i, r in enumerate(rows):
        xs = [k + (i - len(rows) / 2) * width + width / 2 for k in range(len(keys))]
        values = [r[k]["value"] or 0.0 for k in keys]
        lows = [r[k]["low"] if r[k]["low"] is not None else v for v, k in zip(values, keys, strict=True)]
        highs = [r[k]["high"] if r[k]["high"] is not None else v for v, k in zip(values, keys, strict=True)]
        errors = [[v - lo for v, lo in zip(values, lows, strict=True)],
                  [hi - v for v, hi in zip(values, highs, strict=True)]]
        ax.bar(xs, values, width, yerr=errors, capsize=2,
               label=f"{r['experiment']}, guard {'on' if r['guard'] else 'off'}")
    ax.set_xticks(range(len(keys)), keys)
    ax.set_ylim(0, 1)
    ax.set_ylabel("fraction (95% interval)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})


if __name__ == "__main__":
    raise SystemExit(main())
