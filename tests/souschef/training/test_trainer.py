"""Training end to end on CPU with the tiny model: learns, stops, saves, resumes, runs under torchrun."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

from recipe_schema import UsageError, format_prompt, parse_answer
from souschef.training import DataError, TrainConfig, train
from souschef.training.artifacts import checkpoint_dir

REPO = Path(__file__).resolve().parents[3]


def tiny_config(data: Path, out: Path, **overrides) -> TrainConfig:
    settings = dict(
        from_scratch="tiny",
        data=[str(data)],
        out=str(out),
        max_steps=13,  # not a whole number of epochs: a resume from the last step once took one more
        batch_size=2,
        seq_len=256,
        eval_fraction=0.3,
        eval_steps=100,
        save_steps=4,
        seed=3,
        mix_offdomain=False,  # these tests learn their own few examples by heart
    )
    return TrainConfig(**{**settings, **overrides})


def greedy(model, tokenizer, prompt: str, max_new_tokens: int = 300) -> list[int]:
    """Greedy decoding that never picks the padding rows of the vocabulary."""
    ids = tokenizer(format_prompt(prompt), return_tensors="pt").input_ids
    out: list[int] = []
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits = model(input_ids=ids).logits[0, -1]
            logits[len(tokenizer) :] = float("-inf")
            token = int(logits.argmax())
            out.append(token)
            if token == tokenizer.eos_token_id:
                break
            ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
    return out


def test_tiny_model_trains_on_cpu_and_validation_loss_drops(trained):
    assert trained.steps == 60
    assert trained.val_loss < trained.initial_val_loss
    assert trained.train_loss < 1.0  # six examples, learned nearly by heart
    assert trained.tokens_per_second > 0
    assert (trained.train_examples, trained.val_examples) == (5, 1)


def test_output_dir_reloads_with_auto_classes_and_holds_record_and_card(trained, small_data):
    out = trained.output_dir
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "souschef.json", "README.md"} <= names
    assert not checkpoint_dir(out).exists()  # checkpoints go once the model is saved
    model = AutoModelForCausalLM.from_pretrained(str(out))
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    assert tokenizer.eos_token == "<|endoftext|>" and tokenizer.pad_token_id != tokenizer.eos_token_id
    assert model.config.vocab_size % 64 == 0
    record = json.loads((out / "souschef.json").read_text(encoding="utf-8"))
    assert record["config"]["lr"] == 2e-3 and record["config"]["steps"] == 60
    assert record["data"]["files"][0]["sha256"] == hashlib.sha256(small_data.read_bytes()).hexdigest()
    assert record["versions"]["torch"] and record["versions"]["transformers"]
    assert "git_commit" in record
    assert record["results"]["val_loss"] == pytest.approx(trained.val_loss)
    card = (out / "README.md").read_text(encoding="utf-8")
    assert f"{trained.val_loss:.4f}" in card and f"{trained.initial_val_loss:.4f}" in card
    assert card.startswith("---\nlibrary_name: transformers")


def test_a_greedy_sample_is_a_whole_answer_that_ends_with_eos(trained, few_exchanges):
    model = AutoModelForCausalLM.from_pretrained(str(trained.output_dir)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(trained.output_dir))
    ended = 0
    for exchange in few_exchanges[:3]:
        ids = greedy(model, tokenizer, exchange["prompt"])
        if ids[-1] == tokenizer.eos_token_id:
            ended += 1
            parse_answer(json.loads(tokenizer.decode(ids[:-1])))  # a complete, valid answer
    assert ended == 3


class Crash(Exception):
    """Stands in for a killed process."""


class CrashAfterCheckpoint(TrainerCallback):
    def __init__(self, step: int):
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise Crash(f"killed after the checkpoint of step {self.step}")


@pytest.fixture(scope="module")
def whole(small_data, tmp_path_factory):
    """The uninterrupted run the killed ones must equal."""
    return train(tiny_config(small_data, tmp_path_factory.mktemp("whole") / "model"))


def assert_same_weights(a_dir: Path, b_dir: Path) -> None:
    a = AutoModelForCausalLM.from_pretrained(str(a_dir)).state_dict()
    b = AutoModelForCausalLM.from_pretrained(str(b_dir)).state_dict()
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=1e-6, rtol=0, msg=name)


def test_a_run_killed_after_a_checkpoint_resumes_to_the_same_weights(small_data, tmp_path, whole):
    cut = tmp_path / "cut"
    with pytest.raises(Crash):
        train(tiny_config(small_data, cut), callbacks=[CrashAfterCheckpoint(8)])
    assert not cut.exists()  # no half-written model
    assert (checkpoint_dir(cut) / "checkpoint-8").is_dir()
    with pytest.raises(UsageError, match="resume it"):
        train(tiny_config(small_data, cut))
    with pytest.raises(UsageError, match=r"different settings \(lr\)"):
        train(tiny_config(small_data, cut, resume=True, lr=1e-3))
    resumed = train(tiny_config(small_data, cut, resume=True))
    assert resumed.steps == whole.steps == 13
    assert_same_weights(whole.output_dir, resumed.output_dir)


def test_a_run_killed_while_writing_a_checkpoint_resumes_from_the_one_before(small_data, tmp_path, whole,
                                                                             caplog):
    import shutil

    cut = tmp_path / "cut"
    with pytest.raises(Crash):
        train(tiny_config(small_data, cut), callbacks=[CrashAfterCheckpoint(8)])
    ckpt = checkpoint_dir(cut)
    # what a SIGKILL while transformers writes checkpoint-12 leaves: weights cut short, no trainer state
    shutil.copytree(ckpt / "checkpoint-8", ckpt / "checkpoint-12")
    (ckpt / "checkpoint-12" / "trainer_state.json").unlink()
    weights = ckpt / "checkpoint-12" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    (tmp_path / ".cut.k1ll3d.tmp").mkdir()  # and a staging directory from a kill while publishing
    with pytest.raises(UsageError, match="resume it"):  # checkpoint-8 is whole: still worth resuming
        train(tiny_config(small_data, cut))
    with caplog.at_level("WARNING", logger="souschef.training"):
        resumed = train(tiny_config(small_data, cut, resume=True))
    assert "skipping checkpoint-12 (no trainer_state.json): incomplete" in caplog.text
    assert resumed.steps == 13
    assert_same_weights(whole.output_dir, resumed.output_dir)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut"]  # no checkpoints, no staging leftovers


def test_a_run_killed_after_its_last_checkpoint_records_what_the_whole_run_records(small_data, tmp_path,
                                                                                  whole):
    cut = tmp_path / "cut"
    with pytest.raises(Crash):
        train(tiny_config(small_data, cut), callbacks=[CrashAfterCheckpoint(13)])
    resumed = train(tiny_config(small_data, cut, resume=True))
    assert (resumed.steps, resumed.train_loss) == (whole.steps, whole.train_loss) == (13, whole.train_loss)
    record = json.loads((cut / "souschef.json").read_text(encoding="utf-8"))["results"]
    assert record["steps"] == 13 and record["train_loss"] == whole.train_loss
    assert_same_weights(whole.output_dir, resumed.output_dir)


def test_a_run_whose_only_checkpoint_is_empty_starts_afresh_with_a_notice(small_data, tmp_path, caplog):
    out = tmp_path / "model"
    (checkpoint_dir(out) / "checkpoint-4").mkdir(parents=True)  # killed as it began the first checkpoint
    with caplog.at_level("WARNING", logger="souschef.training"):
        result = train(tiny_config(small_data, out, max_steps=2, save_steps=100))
    assert result.steps == 2
    assert "skipping checkpoint-4 (no trainer_state.json)" in caplog.text
    assert "starting from the beginning" in caplog.text


def test_an_earlier_model_is_replaced_but_a_foreign_directory_is_not(small_data, tmp_path):
    out = tmp_path / "model"
    train(tiny_config(small_data, out, max_steps=2, save_steps=100))
    first = (out / "souschef.json").read_text(encoding="utf-8")
    train(tiny_config(small_data, out, max_steps=3, save_steps=100))
    record = json.loads((out / "souschef.json").read_text(encoding="utf-8"))
    assert record["results"]["steps"] == 3 != first
    assert record["files"] == sorted(p.name for p in out.iterdir())  # what the next run may replace
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging leftovers
    (out / "notes.txt").write_text("my notes on this model", encoding="utf-8")
    with pytest.raises(UsageError, match="holds notes.txt that souschef did not write"):
        train(tiny_config(small_data, out, max_steps=2, save_steps=100))
    assert (out / "notes.txt").read_text(encoding="utf-8") == "my notes on this model"
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(UsageError, match="holds no souschef model"):
        train(tiny_config(small_data, foreign))


def test_bad_data_fails_cleanly_before_anything_is_written(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "Toast"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=rf"{bad}:1: no ingredients"):
        train(tiny_config(bad, tmp_path / "out", on_bad_record="fail"))
    with pytest.raises(DataError, match="no usable training examples"):
        train(tiny_config(bad, tmp_path / "out"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]


def test_seq_len_beyond_the_context_is_a_usage_error_that_leaves_nothing(small_data, tmp_path):
    with pytest.raises(UsageError, match="seq_len: 2048 is longer than the model's context of 256"):
        train(tiny_config(small_data, tmp_path / "out", seq_len=2048))
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_training_runs_unchanged_under_torchrun_with_two_cpu_processes(small_data, tmp_path):
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(f"""
        import torch
        torch.set_num_threads(1)  # two processes on two cores
        from souschef.training import TrainConfig, train
        data, out = {str(small_data)!r}, {str(tmp_path / "ddp")!r}
        result = train(TrainConfig(from_scratch="tiny", data=[data], out=out,
                                   max_steps=4, batch_size=1, seq_len=256, eval_fraction=0.3, save_steps=2))
        rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
        with open({str(tmp_path)!r} + f"/rank{{rank}}.txt", "w") as f:
            f.write(f"rank {{rank}} world {{world}} steps {{result.steps}}")
    """),
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--nnodes",
        "1",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        str(script),
    ]
    start = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [(tmp_path / f"rank{r}.txt").read_text(encoding="utf-8") for r in (0, 1)]
    assert ranks == ["rank 0 world 2 steps 4", "rank 1 world 2 steps 4"]
    record = json.loads((tmp_path / "ddp" / "souschef.json").read_text(encoding="utf-8"))
    assert record["results"]["world_size"] == 2
    assert time.monotonic() - start < 120


def test_a_users_own_data_is_mixed_with_the_shipped_off_domain_replies(tmp_path):
    import json

    from recipe_schema import Recipe, Reply
    from souschef.training.data import load_examples, mix_offdomain

    mine = tmp_path / "mine.jsonl"
    toast = {"title": "Toast", "ingredients": ["1 slice bread"], "steps": ["Toast it."]}
    mine.write_text(json.dumps(toast) + "\n", encoding="utf-8")
    report = load_examples([str(mine)])
    mix_offdomain(report)
    kinds = [type(e.answer) for e in report.examples]
    assert kinds[0] is Recipe and kinds.count(Recipe) == 1  # no shipped recipes join the user's
    assert kinds.count(Reply) == 206 and len(report.files) == 2
