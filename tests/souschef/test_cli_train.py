"""`souschef train`: a thin shell over training.train, with the CLI's exit codes."""
from __future__ import annotations

import json

import pytest

from souschef import corpus


def test_train_saves_a_model_that_generate_loads(cli, tmp_path):
    data = tmp_path / "mine.jsonl"
    data.write_text("\n".join(corpus.path(corpus.EXCHANGES).read_text(encoding="utf-8").splitlines()[:16]))
    out = tmp_path / "model"
    # --eval-fraction 0: no validation split (it once died tokenizing the empty split)
    code, _, err = cli(["train", "--data", str(data), "--from-scratch", "tiny", "--out", str(out),
                        "--max-steps", "2", "--seq-len", "128", "--batch-size", "2", "--eval-fraction", "0"])
    assert code == 0, err
    assert f"saved {out} after 2 steps" in err
    assert json.loads((out / "souschef.json").read_text())
    code, answer, err = cli(["generate", "Toast?", "--model", str(out), "--format", "json",
                                     "--max-total-tokens", "60"])
    assert code == 0, err
    assert json.loads(answer)


@pytest.mark.parametrize("args, code, message", [
    (["train", "--from-scratch", "tiny"], 2, "required: --out"),
    (["train", "--out", "{out}", "--batch-size", "0"], 2, "batch_size: must be at least 1"),
    (["train", "--out", "{out}", "--from-scratch", "huge"], 2, "invalid choice: 'huge'"),
    (["train", "--out", "{out}", "--data", "{missing}", "--from-scratch", "tiny"], 2, "no such file"),
    (["train", "--out", "{out}", "--data", "{bad}", "--from-scratch", "tiny"], 1, "bad.jsonl:1:"),
    (["train", "--out", "{out}", "--merge"], 2, "merge: merges a LoRA adapter; it needs lora"),
    (["train", "--out", "{out}", "--base", "{missing_gguf}", "--lora"], 2, "no such file"),
    (["train", "--out", "{out}", "--data", "{huge}", "--from-scratch", "tiny"], 1,
     "huge.jsonl:1: too long (5000058 characters; the limit is 200000)"),
    (["train", "--out", "{out}", "--data", "{huge}", "--from-scratch", "tiny", "--on-bad-record", "fail"], 1,
     "huge.jsonl:1: too long (5000058 characters; the limit is 200000)"),
])
def test_bad_train_requests(cli, tmp_path, args, code, message):
    (tmp_path / "bad.jsonl").write_text("not json\n")
    huge = {"title": "Soup", "ingredients": ["water"], "steps": ["simmer the onions gently " * 200_000]}
    (tmp_path / "huge.jsonl").write_text(json.dumps(huge) + "\n")  # one 5 MB line: once 400 s in BPE
    names = {"out": str(tmp_path / "m"), "missing": str(tmp_path / "missing.jsonl"),
             "bad": str(tmp_path / "bad.jsonl"), "huge": str(tmp_path / "huge.jsonl"),
             "missing_gguf": str(tmp_path / "model.gguf")}
    got, _, err = cli([a.format(**names) for a in args])
    assert got == code, err
    assert message in err
    assert not (tmp_path / "m").exists()  # nothing half-written


def test_training_on_no_recipe_says_so(cli, tmp_path):
    replies = [r for r in corpus.rows(corpus.EXCHANGES) if "reply" in r["answer"]][:8]
    data = tmp_path / "replies.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in replies))
    code, _, err = cli(["train", "--data", str(data), "--from-scratch", "tiny", "--out", str(tmp_path / "m"),
                        "--max-steps", "1", "--seq-len", "128", "--batch-size", "2", "--no-mix-offdomain"])
    assert code == 0, err
    assert ("souschef: training on 0 recipes (all 7 training examples are replies): the model will not "
            "learn to write a recipe") in err
