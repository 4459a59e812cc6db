"""Fixtures for the training tests: small data files and one tiny model trained once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from souschef import corpus

# Two CPU cores here; more threads than cores only adds contention.
torch.set_num_threads(2)


shipped = corpus.rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def jsonl(tmp_path):
    """Write rows as a JSONL file in the test's directory and return its path as a string."""

    def write(rows: list[dict], name: str = "data.jsonl") -> str:
        return str(write_jsonl(tmp_path / name, rows))

    return write


@pytest.fixture(scope="session")
def few_exchanges() -> list[dict]:
    """Three off-domain replies and three short recipes: enough to overfit in seconds."""
    rows = sorted(shipped(corpus.EXCHANGES), key=lambda e: len(json.dumps(e["answer"])))
    replies = [e for e in rows if "reply" in e["answer"]][:3]
    recipes = [e for e in rows if "title" in e["answer"]][:3]
    return replies + recipes


@pytest.fixture(scope="session")
def small_data(tmp_path_factory, few_exchanges) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("data") / "small.jsonl", few_exchanges)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, small_data):
    """A tiny model from scratch, trained for 60 steps on six examples (~5 s on 2 cores)."""
    from souschef.training import TrainConfig, train

    out = tmp_path_factory.mktemp("runs") / "tiny"
    config = TrainConfig(
        from_scratch="tiny",
        data=[str(small_data)],
        out=str(out),
        max_steps=60,
        batch_size=4,
        seq_len=256,
        eval_fraction=0.3,
        eval_steps=20,
        save_steps=1000,
        mix_offdomain=False,  # six examples, learned by heart
    )
    return train(config)
