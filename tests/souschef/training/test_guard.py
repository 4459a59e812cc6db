"""The guard a training run writes, and the libraries it needs, checked before any model trains."""

from __future__ import annotations

import json

import pytest

from generation import DomainGuard, RecipeGenerator

pytest.importorskip("sklearn")


def test_training_writes_the_guard_and_records_its_validation_figures(trained):
    out = trained.output_dir
    guard = DomainGuard.load(out / "guard.json")
    record = json.loads((out / "souschef.json").read_text(encoding="utf-8"))["results"]["guard"]
    assert record["file"] == "guard.json" and record["threshold"] == guard.threshold
    assert set(record["validation"]) >= {"threshold", "false_refusal", "contamination", "cooking", "other"}
    assert guard.route("How can I implement a binary search in Python?") == "reply"
    gen = RecipeGenerator.from_pretrained(out)
    assert gen.guard is not None and gen.guard.features == guard.features  # the directory's own guard



def _hide(monkeypatch, *modules):
    """Make ``import`` of each module (and its submodules) fail, installed or not."""
    import sys

    for name in list(sys.modules):
        if name.split(".")[0] in modules:
            monkeypatch.setitem(sys.modules, name, None)
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.parametrize("module, package", [("sklearn", "scikit-learn"), ("wordfreq", "wordfreq")])
def test_a_missing_training_library_says_how_to_install_the_train_extra(monkeypatch, tmp_path, module,
                                                                        package):
    from generation.guard.data import require_guard_libraries
    from souschef.training import TrainConfig, train

    _hide(monkeypatch, module)
    hint = rf"needs {package}: pip install 'souschef\[train\]'"
    with pytest.raises(ImportError, match=hint):
        require_guard_libraries()
    with pytest.raises(ImportError, match=hint):  # before any model loads or trains
        train(TrainConfig(out=str(tmp_path / "out")))
    assert not (tmp_path / "out").exists()


def test_the_guard_s_trainers_say_how_to_install_the_train_extra(monkeypatch):
    from generation.guard import fit_sklearn
    from generation.guard.data import english_frequencies

    _hide(monkeypatch, "sklearn", "wordfreq")
    with pytest.raises(ImportError, match=r"scikit-learn: pip install 'souschef\[train\]'"):
        fit_sklearn(["a"], [True])
    with pytest.raises(ImportError, match=r"wordfreq: pip install 'souschef\[train\]'"):
        english_frequencies.__wrapped__()  # the cached result may hold the frequencies already
