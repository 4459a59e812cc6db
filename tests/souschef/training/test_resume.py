"""Which checkpoint a resumed run continues from: complete ones only, whatever a kill left."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from souschef.training.resume import checkpoint_problem, checkpoints


def complete_checkpoint(path: Path, step: int = 8) -> Path:
    """The files transformers writes for a checkpoint, in miniature."""
    path.mkdir(parents=True)
    save_file({"wte": torch.zeros(16, 4), "wpe": torch.ones(8, 4)}, str(path / "model.safetensors"))
    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth"):
        torch.save({"state": torch.arange(10)}, path / name)
    (path / "trainer_state.json").write_text(json.dumps({"global_step": step, "log_history": []}))
    return path


def cut(name: str, keep: float = 0.5):
    def damage(path: Path) -> None:
        data = (path / name).read_bytes()
        (path / name).write_bytes(data[: int(len(data) * keep)])

    return damage


def remove(name: str):
    return lambda path: (path / name).unlink()


# (what a kill left, the problem named): the states a SIGKILL while saving leaves behind
KILLED_WHILE_SAVING = [
    (lambda p: [f.unlink() for f in p.iterdir()], "no trainer_state.json"),  # empty folder
    (remove("trainer_state.json"), "no trainer_state.json"),
    (cut("trainer_state.json"), "trainer_state.json is cut short"),
    (cut("model.safetensors"), "model.safetensors is cut short"),
    (cut("model.safetensors", keep=0.001), "model.safetensors is cut short"),  # inside the header
    (remove("model.safetensors"), "no model weights"),
    (cut("optimizer.pt", keep=0.9), "optimizer.pt is missing or cut short"),
    (remove("scheduler.pt"), "scheduler.pt is missing or cut short"),
    (cut("rng_state.pth"), "rng_state.pth is missing or cut short"),
    (remove("rng_state.pth"), "no rng_state.pth"),
    (lambda p: (p / "trainer_state.json").write_text('{"global_step": 4}'), "not of this step"),
]


def test_a_complete_checkpoint_has_no_problem(tmp_path):
    assert checkpoint_problem(complete_checkpoint(tmp_path / "checkpoint-8")) is None


@pytest.mark.parametrize("damage, problem", KILLED_WHILE_SAVING)
def test_a_checkpoint_cut_short_is_named_incomplete(tmp_path, damage, problem):
    path = complete_checkpoint(tmp_path / "checkpoint-8")
    damage(path)
    assert problem in checkpoint_problem(path)


def test_checkpoints_are_listed_newest_first_by_step_not_by_name(tmp_path):
    for step in (4, 12, 8):
        (tmp_path / f"checkpoint-{step}").mkdir()
    (tmp_path / "checkpoint-final").mkdir()  # not one of transformers'
    assert [p.name for p in checkpoints(tmp_path)] == ["checkpoint-12", "checkpoint-8", "checkpoint-4"]


def test_the_model_directory_names_the_guard_file_as_generation_loads_it():
    from generation.guard import GUARD_FILE
    from souschef.training.artifacts import GUARD

    assert GUARD == GUARD_FILE


def test_a_kill_while_publishing_leaves_nothing_behind_and_no_model_lost(tmp_path):
    from souschef.training.artifacts import clear_staging

    out = tmp_path / "model"
    (tmp_path / ".model.ab12.tmp").mkdir()  # the new model, half written
    (tmp_path / ".model.cd34.old" / "model").mkdir(parents=True)  # the earlier one, moved aside
    (tmp_path / ".model.cd34.old" / "model" / "souschef.json").write_text("{}")
    (tmp_path / ".other.ef56.tmp").mkdir()  # another output's: not ours to touch
    clear_staging(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.ef56.tmp", "model"]
    assert (out / "souschef.json").read_text() == "{}"  # killed between the two renames: restored
