"""Models: a new tiny GPT-2 with its own tokenizer, a local base model, clean load errors."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from recipe_schema import ModelLoadError, format_prompt
from souschef.training import TrainConfig, train
from souschef.training.model import (
    SHAPES,
    count_parameters,
    from_scratch,
    load_base,
    padded_vocab,
    prepare_for_training,
    require_peft,
)
from souschef.training.tokenizer import EOS, PAD

REPO = Path(__file__).resolve().parents[3]
TEXTS = [
    format_prompt("How do I make toast?") + '{"title":"Toast","ingredients":["bread"],"steps":["Toast."]}'
] * 20


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory):
    """A local 'pretrained' model laid out like gpt2: EOS but no pad token, vocabulary not padded."""
    from transformers import GPT2Config, GPT2LMHeadModel

    _, tokenizer = from_scratch("tiny", TEXTS)
    tokenizer.pad_token = None
    eos = tokenizer.eos_token_id
    assert len(tokenizer) % 64  # so that padding the vocabulary shows
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_layer=1,
        n_head=2,
        n_embd=32,
        n_positions=128,
        bos_token_id=eos,
        eos_token_id=eos,
    )
    path = tmp_path_factory.mktemp("base") / "gpt2-like"
    GPT2LMHeadModel(config).save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return path


def test_tiny_from_scratch_is_small_with_distinct_eos_and_pad():
    model, tokenizer = from_scratch("tiny", TEXTS)
    assert tokenizer.eos_token == EOS and tokenizer.pad_token == PAD
    assert tokenizer.eos_token_id != tokenizer.pad_token_id
    assert model.config.vocab_size % 64 == 0 and model.config.vocab_size >= len(tokenizer)
    assert 100_000 < count_parameters(model) < 2_000_000
    assert tokenizer.decode(tokenizer(TEXTS[0]).input_ids) == TEXTS[0]  # byte-level: lossless


def test_from_scratch_is_the_same_model_for_the_same_seed():
    import torch

    a, _ = from_scratch("tiny", TEXTS, seed=1)
    b, _ = from_scratch("tiny", TEXTS, seed=1)
    pairs = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    assert all(torch.equal(p, q) for p, q in pairs)


def test_small_has_the_gpt2_124m_shape():
    shape = SHAPES["small"]
    assert (shape.n_layer, shape.n_head, shape.n_embd, shape.n_positions) == (12, 12, 768, 1024)
    assert padded_vocab(50257 + 1) == 50304


def test_a_full_fine_tune_pads_the_vocabulary_to_64_and_adds_no_token(base_dir):
    model, tokenizer = load_base(str(base_dir))
    size = len(tokenizer)
    prepare_for_training(model, tokenizer, pad_vocabulary=True)
    # no token added: packing fills rows with EOS, so EOS can pad
    assert len(tokenizer) == size and tokenizer.pad_token_id == tokenizer.eos_token_id
    rows = model.get_input_embeddings().weight.shape[0]
    assert rows % 64 == 0 and rows >= len(tokenizer)
    assert model.generation_config.suppress_tokens == list(range(len(tokenizer), rows))
    assert model.config.pad_token_id == tokenizer.pad_token_id


def test_a_lora_run_keeps_the_vocabulary_as_it_is(base_dir):
    model, tokenizer = load_base(str(base_dir))
    prepare_for_training(model, tokenizer, pad_vocabulary=False)
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer)  # the adapter needs no embeddings


def test_a_missing_local_base_raises_model_load_error_with_a_way_out(tmp_path):
    with pytest.raises(ModelLoadError, match=r"no such directory; .*--from-scratch tiny"):
        load_base(str(tmp_path / "no-model"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match=r"cannot load base model .*empty"):
        load_base(str(tmp_path / "empty"))


def test_gpt2_without_the_hub_raises_model_load_error(tmp_path):
    # A fresh process: huggingface_hub reads HF_HUB_OFFLINE when it is imported.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "PYTHONPATH": str(REPO)}
    code = textwrap.dedent("""
        from recipe_schema import ModelLoadError
        from souschef.training.model import load_base
        try:
            load_base("gpt2")
        except ModelLoadError as e:
            print("ModelLoadError", e.exit_code, e)
    """)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.stdout.startswith("ModelLoadError 2 cannot load base model 'gpt2'"), done.stderr[-2000:]
    assert "--from-scratch tiny" in done.stdout and len(done.stdout.strip().splitlines()) == 1


def test_lora_without_peft_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "peft", None)  # import peft now fails, installed or not
    with pytest.raises(ImportError, match=r"pip install 'souschef\[lora\]'"):
        require_peft()
    with pytest.raises(ImportError, match=r"pip install 'souschef\[lora\]'"):
        train(TrainConfig(lora=True, out=str(tmp_path / "out")))
    assert not (tmp_path / "out").exists()


def _lora(base_dir, small_data, out, **more):
    return train(TrainConfig(base=str(base_dir), lora=True, data=[str(small_data)], out=str(out), max_steps=4,
                             batch_size=2, seq_len=128, eval_fraction=0.3, eval_steps=4, mix_offdomain=False,
                             **more))


def test_lora_saves_the_adapter_alone_and_it_loads_onto_its_base(base_dir, small_data, tmp_path):
    pytest.importorskip("peft")
    import json

    from generation import RecipeGenerator
    from generation.base import file_sha256

    out = _lora(base_dir, small_data, tmp_path / "lora").output_dir
    assert (out / "adapter_model.safetensors").is_file() and not (out / "model.safetensors").exists()
    record = json.loads((out / "souschef.json").read_text())
    assert record["config"]["base"] == str(base_dir) and record["base_identity"].startswith("sha256:")
    assert record["adapter_sha256"] == file_sha256(out / "adapter_model.safetensors")
    from safetensors.torch import load_file

    tensors = load_file(str(out / "adapter_model.safetensors"))
    assert tensors and all("lora_" in k for k in tensors)  # no embedding or other base weights
    assert {str(t.dtype) for t in tensors.values()} == {"torch.float16"}
    result = RecipeGenerator.from_pretrained(out, guard=False).generate("Toast?", max_total_tokens=40)
    assert result.finished and result.answer is not None


def test_an_adapter_refuses_a_base_with_other_weights(base_dir, small_data, tmp_path):
    pytest.importorskip("peft")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from generation import RecipeGenerator

    out = _lora(base_dir, small_data, tmp_path / "lora").output_dir
    other = tmp_path / "other-base"
    model = AutoModelForCausalLM.from_pretrained(str(base_dir))
    with __import__("torch").no_grad():
        model.lm_head.weight.mul_(1.01)  # same shape and names, other weights
    model.save_pretrained(str(other))
    AutoTokenizer.from_pretrained(str(base_dir)).save_pretrained(str(other))
    with pytest.raises(ModelLoadError, match=r"is a LoRA adapter for .* has other weights"):
        RecipeGenerator.from_pretrained(out, base=str(other), guard=False)


def test_lora_with_merge_saves_a_plain_model(base_dir, small_data, tmp_path):
    pytest.importorskip("peft")
    from transformers import AutoModelForCausalLM

    result = _lora(base_dir, small_data, tmp_path / "merged", merge=True)
    model = AutoModelForCausalLM.from_pretrained(str(result.output_dir))
    assert not any("lora" in name for name in model.state_dict())


def test_a_chat_template_base_learns_its_own_turns_and_ends_with_its_end_of_turn(tiny_llama, small_data,
                                                                                 tmp_path):
    pytest.importorskip("peft")
    import json

    from generation import RecipeGenerator
    from recipe_schema import CHAT_TEMPLATE
    from souschef.training.data import load_examples
    from souschef.training.packing import IGNORE, tokenize_examples

    path, gen = tiny_llama
    example = load_examples([str(small_data)]).examples[0]
    (item,), _ = tokenize_examples([example], gen.tokenizer, 512, CHAT_TEMPLATE)
    prompt = gen.prompt_ids(example.prompt)
    assert item.input_ids[: len(prompt)] == prompt  # what decoding feeds, token for token
    assert [t for t in item.labels if t != IGNORE][-1] == gen.tokenizer.convert_tokens_to_ids("<|im_end|>")

    out = _lora(path, small_data, tmp_path / "llama-lora").output_dir
    record = json.loads((out / "souschef.json").read_text())
    assert record["prompt_format"] == CHAT_TEMPLATE
    assert not (out / "tokenizer.json").exists()  # the base's tokenizer serves: no token added
    loaded = RecipeGenerator.from_pretrained(out, guard=False)
    assert loaded.prompt_format == CHAT_TEMPLATE and loaded.eos_id == gen.eos_id
    assert loaded.generate("Toast?", max_total_tokens=60).finished
    # a run on a pretrained base writes a guard that reads the model it was fitted for
    guarded = RecipeGenerator.from_pretrained(out)
    assert guarded.guard is not None and guarded.guard.reads_model
    assert guarded.guard.view_weights.size == loaded.model.config.hidden_size
    result = guarded.generate("How can I implement a binary search in Python?", max_total_tokens=60)
    assert result.finished and result.guard_score is not None
