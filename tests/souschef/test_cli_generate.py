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


def test_int8_weights_give_a_valid_recipe_and_do_not_resume_an_fp32_state(cli, tiny, tmp_path):
    path, gen = tiny
    code, out, err = cli(["generate", PROMPT, "--model", str(path), "--mode", "recipe", "--format", "json",
                          "--max-total-tokens", "120", "--weights", "int8"])
    assert code == 0, err
    jsonschema.validate(json.loads(out), load_schema())
    state = tmp_path / "state.json"
    state.write_text(_partial(gen).to_json())
    code, _, err = cli(["generate", "--resume", str(state), "--model", str(path), "--weights", "int8"])
    assert code == 2 and "resume with the --weights it was made with (fp32 for a state the Python" in err
    assert len(err.strip().splitlines()) <= 2  # "loading DIR", then the one line of the error
    code, out, err = cli(["generate", "--resume", str(state), "--model", str(path), "--weights", "fp32"])
    assert code == 0, err  # the weights it was made with


def test_a_reply_prints_exactly_the_reply_object(cli, tiny):
    path, _ = tiny
    code, out, _ = cli(["generate", PROMPT, "--model", str(path), "--mode", "reply",
                                "--format", "json", "--max-total-tokens", "40"])
    assert code == 0
    assert list(json.loads(out)) == ["reply"]
    code, md, _ = cli(["generate", PROMPT, "--model", str(path), "--mode", "reply",
                               "--max-total-tokens", "40"])
    assert md == json.loads(out)["reply"] + "\n"  # Markdown shows the reply's text


@pytest.mark.parametrize("mode", ["recipe", "reply"])
def test_every_finished_json_output_validates(cli, tiny, tmp_path, mode):
    path, _ = tiny
    answer = tmp_path / "answer.json"
    code, _, err = cli(["generate", PROMPT, "--model", str(path), "--mode", mode, "--format", "json",
                        "--max-total-tokens", "80", "-o", str(answer)])
    assert code == 0, err
    code, out, _ = cli(["validate", str(answer)])
    assert code == 0 and out.startswith(f"{answer}: valid")


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
    (["generate", "--resume", "{old_state}", "--model", "{model}"], "predates the integrity check"),
    (["generate", "--resume", "{missing}", "--model", "{model}"], "no such file"),
    (["generate", PROMPT, "--model", "{model}", "--top-p", "0"],
     "argument --top-p: must be a number above 0 and at most 1, not 0.0"),
    (["generate", PROMPT, "--model", "{model}", "--max-total-tokens", "2", "--mode", "recipe"], "too small"),
    (["generate", PROMPT, "--model", "/nonexistent/model.gguf"], "no such file"),
    (["generate", PROMPT, "--model", "{model}", "--temperature", "nan"],
     "argument --temperature: must be a number from 0 to 2, not nan"),
    (["generate", PROMPT, "--model", "{model}", "--repetition-penalty", "nan"],
     "argument --repetition-penalty: must be a number above 0 and at most 10, not nan"),
    (["generate", PROMPT, "--model", "{model}", "--temperature", "5"],
     "must be a number from 0 to 2, not 5.0"),
    (["generate", PROMPT, "--model", "{model}", "--top-k", "1.5"], "must be a whole number from 0 to"),
    (["generate", PROMPT, "--model", "{model}", "--weights", "int4"],
     "argument --weights: invalid choice: 'int4'"),
    (["generate", PROMPT, "--model", "{model}", "--max-total-tokens", "1e9"], "must be a whole number"),
    (["generate", "pancakes \udcff", "--model", "{model}"], "the prompt is not UTF-8 text"),  # argv byte 0xff
    (["generate", "x" * 10_001, "--model", "{model}"], "the prompt is too long (10001 characters; the limit"),
    (["generate", "--resume", "{state}", "--model", "{model}", "--mode", "reply"],
     "--mode cannot apply on --resume"),
    (["generate", "--resume", "{state}", "--model", "{model}", "--no-guard"], "--no-guard cannot apply"),
    (["generate", "--resume", "{state}", "--model", "{model}", "--weights", "fp32",
      "--max-total-tokens", "1"],
     "max_total_tokens=1 is too small for this generation"),
])
def test_bad_generate_requests_are_usage_errors(cli, tiny, tmp_path, args, message):
    path, gen = tiny
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.json").write_text('{"version": 2}')
    (tmp_path / "old.json").write_text('{"version": 1}')  # saved before states carried a digest
    (tmp_path / "state.json").write_text(_partial(gen).to_json())
    names = {"model": str(path), "missing": str(tmp_path / "missing"), "empty_dir": str(tmp_path / "empty"),
             "bad_state": str(tmp_path / "bad.json"), "old_state": str(tmp_path / "old.json"),
             "state": str(tmp_path / "state.json")}
    code, _, err = cli([a.format(**names) for a in args])
    assert code == 2, err
    assert message in err
    assert len(err.strip().splitlines()) <= 2  # "loading DIR", then the one line of the error


def _partial(gen):
    return gen.step(gen.start(PROMPT, mode="recipe", max_total_tokens=200), 30)


# a saved state edited by hand (each was once continued, or crashed with "internal error")
EDITS = {
    "a generated id": lambda d: d["generated_ids"].__setitem__(3, d["generated_ids"][3] + 1),
    "a prompt id": lambda d: d["prompt_ids"].__setitem__(0, 7),
    "the prompt": lambda d: d.update(prompt="How do I fix my car?"),
    "calls": lambda d: d.update(calls=-3),
    "the budget": lambda d: d["settings"].update(max_total_tokens=1),
    "finished": lambda d: d.update(finished=True),
    "the temperature": lambda d: d["settings"].update(temperature=float("nan")),
}


@pytest.mark.parametrize("edit", EDITS)
def test_a_state_edited_by_hand_is_refused_and_left_as_it_is(cli, tiny, tmp_path, edit):
    path, gen = tiny
    data = json.loads(_partial(gen).to_json())
    EDITS[edit](data)
    state = tmp_path / "state.json"
    state.write_text(json.dumps(data))
    before = state.read_bytes()
    code, out, err = cli(["generate", "--resume", str(state), "--model", str(path)])
    assert (code, out) == (2, "")
    assert "changed after souschef saved it" in err or "unreadable generation state" in err
    assert "internal error" not in err and state.read_bytes() == before


def test_a_resume_says_which_settings_change_and_applies_them(cli, tiny, tmp_path):
    path, gen = tiny
    state = tmp_path / "state.json"
    state.write_text(_partial(gen).to_json())
    code, _, err = cli(["generate", "--resume", str(state), "--model", str(path), "--temperature", "0.8",
                        "--seed", "0", "--max-calls", "1", "--max-new-tokens-per-call", "2",
                        "--weights", "fp32"])  # as the state was made (the API's default)
    assert code == 1  # stopped on purpose by --max-calls
    assert "resume: temperature changes from 0.0 to 0.8 for the rest of this generation" in err
    assert "seed changes" not in err  # the same value: nothing to say
    assert json.loads(state.read_text())["settings"]["temperature"] == 0.8  # applied, and saved
