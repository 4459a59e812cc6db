"""TrainConfig: every field documented for the CLI, every bad value named."""

from __future__ import annotations

from dataclasses import fields

import pytest

from recipe_schema import UsageError
from souschef.training import TrainConfig

CLI_FLAGS = {
    "data",
    "out",
    "base",
    "from_scratch",
    "epochs",
    "max_steps",
    "lr",
    "batch_size",
    "seq_len",
    "seed",
    "resume",
    "grad_accum",
    "warmup_ratio",
    "eval_fraction",
    "on_bad_record",
    "lora",
    "merge",
}


def test_config_has_a_field_for_every_cli_flag_each_with_help():
    names = {f.name for f in fields(TrainConfig)}
    assert names >= CLI_FLAGS
    for f in fields(TrainConfig):
        assert len(f.metadata.get("help", "")) > 20, f.name
        assert f.name in CLI_FLAGS or f.metadata.get("advanced"), (
            f"{f.name}: extra fields are marked advanced"
        )
    choices = {f.name: f.metadata.get("choices") for f in fields(TrainConfig)}
    assert choices["from_scratch"] == ("tiny", "small") and choices["on_bad_record"] == ("skip", "fail")


def test_defaults_fine_tune_smollm2_on_the_shipped_corpus():
    config = TrainConfig()
    assert (config.base, config.from_scratch, config.data, config.resume, config.lora) == (
        "smollm2-135m-instruct",
        None,
        [],
        False,
        False,
    )
    assert config.resolved_lr() == 1e-4
    assert TrainConfig(from_scratch="tiny").resolved_lr() == 2e-3
    assert TrainConfig(lr=0.01).resolved_lr() == 0.01


@pytest.mark.parametrize(
    "kwargs, field_name",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 1.5}, "batch_size"),
        ({"grad_accum": -1}, "grad_accum"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": float("nan")}, "epochs"),
        ({"max_steps": 0}, "max_steps"),
        ({"lr": -1e-3}, "lr"),
        ({"seq_len": 8}, "seq_len"),
        ({"seq_len": True}, "seq_len"),
        ({"warmup_ratio": 1.0}, "warmup_ratio"),
        ({"eval_fraction": -0.1}, "eval_fraction"),
        ({"on_bad_record": "ignore"}, "on_bad_record"),
        ({"from_scratch": "huge"}, "from_scratch"),
        ({"out": " "}, "out"),
        ({"eval_steps": 0}, "eval_steps"),
        ({"lora": True, "from_scratch": "tiny"}, "lora"),
    ],
)
def test_bad_values_raise_usage_error_naming_the_field(kwargs, field_name):
    with pytest.raises(UsageError, match=rf"^{field_name}: "):
        TrainConfig(**kwargs)


def test_data_accepts_one_path_or_paths():
    assert TrainConfig(data="a.jsonl").data == ["a.jsonl"]
    assert TrainConfig(data=("a.jsonl", "b.csv")).data == ["a.jsonl", "b.csv"]
