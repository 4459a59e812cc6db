"""The CLI as a user meets it: arguments in, exit code and output out."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from recipe_schema import load_schema
from souschef.cli import build_parser

VALID = {"title": "Toast", "servings": 2, "ingredients": ["2 slices bread", "1 tbsp butter"],
         "steps": ["1. Toast the bread.", "Spread with butter."]}
INVALID = {"title": "", "ingredients": [], "steps": ["ok"], "colour": "red"}


@pytest.fixture
def files(tmp_path):
    def make(name: str, content: bytes | str | dict | list) -> str:
        path = tmp_path / name
        if isinstance(content, (dict, list)):
            content = json.dumps(content)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return str(path)

    return make


# ------------------------------------------------------------------ the table
CASES = [
    # (args, stdin, exit code, text that stdout must contain, text that stderr must contain)
    (["validate", "{valid}"], b"", 0, "{valid}: valid", ""),
    (["validate", "{invalid}"], b"", 1, "{invalid}: /title: '' should be non-empty", ""),
    (["validate", "{valid}", "{invalid}"], b"", 1, "{invalid}: /ingredients: [] should be non-empty", ""),
    (["validate", "-"], json.dumps(VALID).encode(), 0, "-: valid", ""),
    (["validate", "-"], b"\xef\xbb\xbf" + json.dumps(VALID).encode(), 0, "-: valid", ""),
    (["validate", "{missing}"], b"", 2, "", "no such file"),
    (["validate", "{invalid}", "{missing}"], b"", 2, "{invalid}: /", "no such file"),
    (["validate"], b"", 2, "", "the following arguments are required: FILE"),
    (["validate", "--bogus", "{valid}"], b"", 2, "", "unrecognized arguments: --bogus"),
    (["render", "{valid}"], b"", 0, "# Toast\n\n**Serves:** 2", ""),
    (["render", "{valid}", "--servings", "4"], b"", 0, "- 4 slices bread\n- 2 tbsp butter", ""),
    (["render", "{valid}", "--format", "jsonld"], b"", 0, '"@type": "Recipe"', ""),
    (["render", "{valid}", "--format", "json"], b"", 0, '"Toast the bread."', ""),
    (["render", "{wrapped}"], b"", 0, "# Toast", ""),
    (["render", "{invalid}"], b"", 1, "", "invalid recipe: /title: '' should be non-empty"),
    (["render", "{unserved}", "--servings", "4"], b"", 1, "", "has no servings"),
    (["render", "{valid}", "--servings", "0"], b"", 2, "", "must be at least 1"),
    (["render", "{valid}", "--servings", "two"], b"", 2, "", "not a whole number"),
    (["render", "{valid}", "--format", "pdf"], b"", 2, "", "invalid choice: 'pdf'"),
    (["render", "{missing}"], b"", 2, "", "no such file"),
    (["render", "-"], json.dumps(VALID).encode(), 0, "1. Toast the bread.", ""),
    (["validate", "{reply}"], b"", 0, "{reply}: valid (a reply)", ""),  # what generate --format json wrote
    (["validate", "-"], b'{"reply": ""}', 1, "-: /reply: String should have at least 1 character", ""),
    (["validate", "-"], b'{"reply": "ok", "title": "x"}', 1, "-: /title: Extra inputs are not permitted", ""),
    (["render", "{reply}"], b"", 0, "I only cook.\n", ""),
    (["render", "{reply}", "--format", "json"], b"", 0, '"reply": "I only cook."', ""),
    (["render", "{reply}", "--servings", "2"], b"", 1, "", "a reply has no servings to scale"),
    (["parse-ingredient", "2-3 cloves garlic, minced"], b"", 0, "clove  garlic  minced", ""),
    (["parse-ingredient", "1 1/2 cups flour", "--json"], b"", 0, '"quantity": 1.5', ""),
    (["schema"], b"", 0, '"$schema": "https://json-schema.org/draft/2020-12/schema"', ""),
    ([], b"", 2, "", "the following arguments are required: COMMAND"),
    (["evaluate", "--model", "m", "--out", "r", "--fail-over", "contamination=nan"], b"", 2, "",
     "argument --fail-over: not a finite number: 'nan'"),
    (["evaluate", "--model", "m", "--out", "r", "--temperature", "nan"], b"", 2, "",
     "argument --temperature: must be a number from 0 to 2, not nan"),
    (["cook"], b"", 2, "", "invalid choice: 'cook'"),
]


@pytest.mark.parametrize("args, stdin, code, out, err", CASES)
def test_cli(cli, files, tmp_path, args, stdin, code, out, err):
    names = {
        "valid": files("valid.json", VALID),
        "invalid": files("invalid.json", INVALID),
        "wrapped": files("wrapped.txt", f"Sure!\n```json\n{json.dumps(VALID)}\n```\nEnjoy."),
        "unserved": files("unserved.json", {k: v for k, v in VALID.items() if k != "servings"}),
        "missing": str(tmp_path / "missing.json"),
        "reply": files("reply.json", {"reply": "I only cook."}),
    }
    args = [a.format(**names) for a in args]
    got_code, got_out, got_err = cli(args, stdin)
    assert got_code == code, (got_out, got_err)
    assert out.format(**names) in got_out
    assert err in got_err
    assert "Traceback" not in got_out + got_err


# ------------------------------------------------------------- bad documents
BAD_DOCUMENTS = {
    "empty": (b"", "/: empty document"),
    "not-json": (b"title: Toast", "/: not JSON"),
    "truncated": (json.dumps(VALID)[:40].encode(), "/: not JSON"),
    "binary": (bytes(range(256)) * 4, "/: not UTF-8 text"),
    "list": (b"[1, 2]", "/: [1, 2] is not of type 'object'"),
    "string": (b'"Toast"', "/: 'Toast' is not of type 'object'"),
    "deep": (b"[" * 100_000 + b"]" * 100_000, "/: not JSON: nested too deeply"),
    "deep-object": (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "/: not JSON: nested too deeply"),
}


@pytest.mark.parametrize("name", BAD_DOCUMENTS)
def test_validate_survives_bad_documents(cli, files, name):
    content, message = BAD_DOCUMENTS[name]
    path = files(name, content)
    code, out, err = cli(["validate", path])
    assert code == 1
    assert out.startswith(f"{path}: {message}")
    assert "Traceback" not in out + err


def test_validate_a_50_mb_file_caps_its_errors(cli, files):
    doc = {"title": "T", "steps": ["s"], "ingredients": [" " * 10] * 4_000_000}
    path = files("big.json", doc)
    assert Path(path).stat().st_size > 50_000_000
    code, out, _ = cli(["validate", path])
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 51
    assert lines[0] == f"{path}: /ingredients/0: is blank (only whitespace)"
    assert lines[-1] == f"{path}: ... and 3999950 more errors"


def test_validate_json_output_is_one_array(cli, files):
    valid, invalid = files("v.json", VALID), files("i.json", INVALID)
    code, out, _ = cli(["validate", valid, invalid, "--json"])
    assert code == 1
    results = json.loads(out)
    assert [(r["file"], r["valid"], r["kind"]) for r in results] == [(valid, True, "recipe"),
                                                                     (invalid, False, "recipe")]
    assert {"pointer": "/title", "message": "'' should be non-empty"} in results[1]["errors"]


def test_parse_ingredient_json_is_one_object_per_line(cli):
    code, out, _ = cli(["parse-ingredient", "2-3 cloves garlic, minced",
                                             "salt to taste", "--json"])
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[0] == {"line": "2-3 cloves garlic, minced", "quantity": 2, "quantity_max": 3,
                       "unit": "clove", "item": "garlic", "note": "minced"}
    assert rows[1]["quantity"] is None and rows[1]["item"] == "salt" and rows[1]["note"] == "to taste"


def test_schema_prints_the_committed_schema(cli):
    code, out, _ = cli(["schema"])
    assert code == 0 and json.loads(out) == load_schema()


# ------------------------------------------------------------- render -o OUT
def test_render_writes_the_output_file(cli, files, tmp_path):
    out_path = tmp_path / "toast.md"
    code, out, err = cli(["render", files("v.json", VALID), "-o", str(out_path)])
    assert code == 0 and out == ""
    assert out_path.read_text().startswith("# Toast")


def test_render_of_an_invalid_recipe_leaves_the_existing_output_untouched(cli, files, tmp_path):
    out_path = tmp_path / "toast.md"
    out_path.write_text("my notes")
    code, _, _ = cli(["render", files("i.json", INVALID), "-o", str(out_path)])
    assert code == 1
    assert out_path.read_text() == "my notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["i.json", "toast.md"]


def test_render_into_a_missing_directory_is_a_usage_error(cli, files, tmp_path):
    code, _, err = cli(["render", files("v.json", VALID), "-o",
                                             str(tmp_path / "no" / "toast.md")])
    assert code == 2 and "directory does not exist" in err


# --------------------------------------------------------------------- help
def test_every_command_has_help_with_an_example():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name, sub in commands.items():
        text = sub.format_help()
        assert "example" in text, f"`souschef {name} --help` shows no example"


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys\n"
        "from souschef.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('torch', 'transformers', 'outlines', 'evaluate', 'gradio')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "souschef", "--version"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("souschef ")


# ------------------------------------------------- no output may be an input
def _feedback_db(path: Path) -> None:
    from recipe_schema import Reply
    from souschef.chat.feedback import FeedbackEvent, FeedbackStore

    FeedbackStore(path).record(FeedbackEvent("a1", "Tax advice?", Reply(reply="I only cook."), "m", "like"))


def _model_dir(path: Path) -> None:
    path.mkdir()
    (path / "config.json").write_text("{}")
    (path / "souschef.json").write_text('{"files": ["config.json", "souschef.json"]}')


OVERWRITES = [
    # (args, exit code, stderr must contain): every one leaves every file in tmp_path as it was
    (["render", "{recipe}", "-o", "{recipe}"], 2, "-o/--output: {recipe} is the FILE input"),
    (["render", "{recipe}", "-o", "{link}"], 2, "is the FILE input"),  # a symbolic link to it
    (["render", "{recipe}", "-o", "{hardlink}"], 2, "is the FILE input"),  # a hard link to it
    (["generate", "--resume", "{state}", "--model", "{model}", "-o", "{state}"], 2,
     "-o/--output: {state} is the --resume input"),
    (["generate", "Toast?", "--model", "{model}", "-o", "{model}/config.json"], 2,
     "is a file of the --model input"),
    (["generate", "Toast?", "--model", "{model}", "--save-state", "{model}/souschef.json"], 2,
     "is a file of the --model input"),
    (["generate", "Toast?", "--model", "{model}", "-o", "{state}", "--save-state", "{state}"], 2,
     "-o/--output and --save-state are one file"),
    (["feedback", "export", "--db", "{db}", "--out", "{tmp}/v.jsonl", "--rejected", "{db}"], 2,
     "rejected: {db} is the db input"),
    (["feedback", "export", "--db", "{jsonl_db}", "--out", "{jsonl_db}"], 2, "is the db input"),
    (["feedback", "export", "--db", "{db}", "--out", "{tmp}/v.jsonl", "--rejected", "{db}-wal"], 2,
     "is the db input"),  # the WAL holds committed rows
    (["feedback", "export", "--db", "{db}", "--out", "{tmp}/a.jsonl", "--rejected", "{tmp}/a.jsonl"], 2,
     "out and rejected are one file"),
    (["evaluate", "--model", "{model}", "--out", "{notes}"], 2,
     "out: {notes} holds report.md that souschef did not write"),
    (["evaluate", "--model", "{model}", "--out", "{tmp}/r", "--heldout", "{tmp}/r/samples.jsonl"], 2,
     "is the --heldout input"),
    (["evaluate", "--model", "{model}", "--out", "{recipe}"], 2, "exists and is not a directory"),
    (["train", "--out", "{model}", "--data", "{model}/mine.jsonl"], 2,
     "holds mine.jsonl that souschef did not"),
    (["train", "--out", "{legacy}", "--data", "{tmp}/data.jsonl"], 2,
     "holds notes.txt that souschef did not write"),  # a model whose record predates its file list
    (["train", "--out", "{tmp}/m", "--data", "{tmp}/m.checkpoints/mine.jsonl"], 2,
     "holds mine.jsonl that no souschef run put there"),
    (["train", "--out", "{base}", "--base", "{base}", "--data", "{tmp}/data.jsonl"], 2,
     "out: {base} is the base input"),
    (["train", "--out", "{tmp}", "--data", "{tmp}/data.jsonl"], 2, "holds no souschef model"),
]


@pytest.mark.parametrize("args, code, message", OVERWRITES)
def test_no_output_may_be_an_input(cli, tmp_path, args, code, message):
    import os

    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps(VALID))
    (tmp_path / "link.json").symlink_to(recipe)
    os.link(recipe, tmp_path / "hard.json")
    _feedback_db(tmp_path / "fb.db")
    _feedback_db(tmp_path / "fb.jsonl")
    _model_dir(tmp_path / "model")
    (tmp_path / "model" / "mine.jsonl").write_text(json.dumps(VALID) + "\n")
    (tmp_path / "m.checkpoints").mkdir()
    (tmp_path / "m.checkpoints" / "mine.jsonl").write_text(json.dumps(VALID) + "\n")
    (tmp_path / "data.jsonl").write_text(json.dumps(VALID) + "\n")
    (tmp_path / "state.json").write_text('{"version": 1}')
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "report.md").write_text("my own notes")
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "samples.jsonl").write_text('{"prompt": "mine"}\n')
    (tmp_path / "r" / "report.json").write_text('{"format": "souschef-report/1", "metrics": {}}')
    _model_dir(tmp_path / "base")
    _model_dir(tmp_path / "legacy")
    (tmp_path / "legacy" / "souschef.json").write_text("{}")
    (tmp_path / "legacy" / "notes.txt").write_text("mine")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    names = {"tmp": str(tmp_path), "recipe": str(recipe), "link": str(tmp_path / "link.json"),
             "hardlink": str(tmp_path / "hard.json"), "db": str(tmp_path / "fb.db"),
             "jsonl_db": str(tmp_path / "fb.jsonl"), "model": str(tmp_path / "model"),
             "state": str(tmp_path / "state.json"), "notes": str(tmp_path / "notes"),
             "base": str(tmp_path / "base"), "legacy": str(tmp_path / "legacy")}
    got, out, err = cli([a.format(**names) for a in args])
    assert got == code, err
    assert message.format(**names) in err
    assert len(err.strip().splitlines()) == 1
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before  # nothing lost or added
