import os

import pytest

from recipe_schema import InputFileError, atomic_write, read_bytes


def test_atomic_write_replaces_the_file_whole(tmp_path):
    target = tmp_path / "out.md"
    target.write_text("old")
    atomic_write(target, "new")
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["out.md"]  # no temporary file left behind


def test_atomic_write_failure_leaves_the_existing_file_untouched(tmp_path, monkeypatch):
    target = tmp_path / "out.md"
    target.write_text("precious")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(InputFileError, match="No space left"):
        atomic_write(target, "new")
    assert target.read_text() == "precious"
    assert os.listdir(tmp_path) == ["out.md"]


def test_atomic_write_into_a_missing_directory_is_a_usage_error(tmp_path):
    with pytest.raises(InputFileError) as err:
        atomic_write(tmp_path / "nope" / "out.md", "x")
    assert err.value.exit_code == 2


@pytest.mark.parametrize("make, reason", [
    (lambda p: p / "missing.json", "no such file"),
    (lambda p: p, "is a directory"),
])
def test_read_bytes_names_the_reason(tmp_path, make, reason):
    with pytest.raises(InputFileError, match=reason):
        read_bytes(str(make(tmp_path)))


# (outputs, inputs, message fragment or None when allowed); paths relative to tmp_path
REFUSALS = [
    ({"-o": "in.json"}, {"FILE": "in.json"}, "-o: {tmp}/in.json is the FILE input"),
    ({"-o": "link.json"}, {"FILE": "in.json"}, "is the FILE input"),
    ({"-o": "hard.json"}, {"FILE": "in.json"}, "is the FILE input"),
    ({"out": "dir"}, {"data": ["other.json", "dir/in.json"]}, "out: {tmp}/dir holds the data input"),
    ({"-o": "dir/in.json"}, {"--model": "dir"}, "is a file of the --model input"),
    ({"a": "x.json", "b": "x.json"}, {}, "a and b are one file"),
    ({"out": "db-wal"}, {"db": "db-wal"}, "is the db input"),  # absent, still refused by name
    ({"-o": "dir/new.md"}, {"--model": "dir"}, None),  # a new file beside a model's files
    ({"-o": "-"}, {"FILE": "-"}, None),  # standard streams are not files
    ({"out": "dir"}, {"base": "gpt2"}, None),  # a hub name: nothing on disk
    ({"-o": None}, {"FILE": "in.json"}, None),
]


@pytest.mark.parametrize("outputs, inputs, message", REFUSALS)
def test_an_output_may_not_destroy_an_input(tmp_path, outputs, inputs, message):
    from recipe_schema import UsageError, refuse_overwriting_inputs

    (tmp_path / "in.json").write_text("{}")
    (tmp_path / "link.json").symlink_to(tmp_path / "in.json")
    os.link(tmp_path / "in.json", tmp_path / "hard.json")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "in.json").write_text("{}")

    def place(value):
        if value is None or value in ("-", "gpt2"):
            return value
        return [str(tmp_path / v) for v in value] if isinstance(value, list) else str(tmp_path / value)

    outputs = {k: place(v) for k, v in outputs.items()}
    inputs = {k: place(v) for k, v in inputs.items()}
    if message is None:
        refuse_overwriting_inputs(outputs, inputs)
        return
    with pytest.raises(UsageError) as err:
        refuse_overwriting_inputs(outputs, inputs)
    assert message.format(tmp=tmp_path) in str(err.value) and err.value.exit_code == 2
