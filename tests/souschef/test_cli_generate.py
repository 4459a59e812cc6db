"""`souschef generate`: complete answers, resumable runs, clean errors."""
from __future__ import annotations

import json

import jsonschema
import pytest

from recipe_schema import load_schema

PROMPT = "How do I make toast?"


def test_generate_prints_a_recipe_valid_against_the_schema(cli, tiny):
    path, _ = tiny
    code, out, err = cli(["generate", PROMPT, "--model", str(path), "--mode", "recipe",
                                  "--format", "json", "--max-total-tokens", "150", "--seed", "3",
                                  "--temperature", "1"])
    assert code == 0
    jsonschema.validate(json.loads(out), load_schema())
    assert "call 1:" in err  # progress goes to stderr, stdout is only the answer


def test_a_reply_prints_exactly_the_reply_object(cli, tiny):
    path, _ = tiny
    code, out, _ = cli(["generate", PROMPT, "--model", str(path), "--mode", "reply",
                                "--format", "json", "--max-total-tokens", "40"])
    assert code == 0
    assert list(json.loads(out)) == ["reply"]
    code, md, _ = cli(["generate", PROMPT, "--model", str(path), "--mode", "reply",
                               "--max-total-tokens", "40"])
    assert md == json.loads(out)["reply"] + "\n"  # Markdown shows the reply's text


def test_max_calls_saves_the_state_exits_1_and_resume_finishes_the_same_answer(cli, tiny, tmp_path):
    path, _ = tiny
    state = tmp_path / "state.json"
    common = ["--model", str(path), "--format", "json"]
    code, whole, _ = cli(["generate", PROMPT, *common, "--mode", "recipe", "--max-total-tokens",
                                  "300", "--max-new-tokens-per-call", "40"])
    code, out, err = cli(["generate", PROMPT, *common, "--mode", "recipe", "--max-total-tokens",
                                  "300", "--max-new-tokens-per-call", "40", "--max-calls", "2",
                                  "--save-state", str(state)])
    assert code == 1 and out == ""
    assert f"souschef generate --resume {state}" in err
    assert json.loads(state.read_text())["calls"] == 2
    code, resumed, _ = cli(["generate", "--resume", str(state), *common])
    assert code == 0 and resumed == whole


@pytest.mark.parametrize("args, message", [
    (["generate", PROMPT, "--model", "{missing}"], "no such directory"),
    (["generate", PROMPT, "--model", "{empty_dir}"], "no config.json"),
    (["generate", "  ", "--model", "{model}"], "the prompt is empty"),
    (["generate", "tomato " * 200, "--model", "{model}"], "no room left"),
    (["generate", "--model", "{model}"], "give a PROMPT, or --resume FILE"),
    (["generate", "--resume", "{bad_state}", "--model", "{model}"], "unreadable generation state"),
    (["generate", "--resume", "{missing}", "--model", "{model}"], "no such file"),
    (["generate", PROMPT, "--model", "{model}", "--top-p", "0"], "top_p must be in (0, 1]"),
    (["generate", PROMPT, "--model", "{model}", "--max-total-tokens", "2", "--mode", "recipe"], "too small"),
    (["generate", PROMPT, "--model", "/nonexistent/model.gguf"], "no such file"),
])
def test_bad_generate_requests_are_usage_errors(cli, tiny, tmp_path, args, message):
    path, _ = tiny
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.json").write_text('{"version": 1}')
    names = {"model": str(path), "missing": str(tmp_path / "missing"), "empty_dir": str(tmp_path / "empty"),
             "bad_state": str(tmp_path / "bad.json")}
    code, _, err = cli([a.format(**names) for a in args])
    assert code == 2, err
    assert message in err
