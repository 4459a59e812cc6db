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
