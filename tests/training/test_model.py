"""Models: a new tiny GPT-2 with its own tokenizer, a local base model, clean load errors."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from recipe_schema import ModelLoadError, format_prompt
from training import TrainConfig, train
from training.model import SHAPES, count_parameters, from_scratch, load_base, padded_vocab, require_peft
from training.tokenizer import EOS, PAD

REPO = Path(__file__).resolve().parents[2]
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
    config = GPT2Config(
        vocab_size=len(tokenizer) - 1,
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


def test_local_base_gets_a_pad_token_and_a_vocabulary_padded_to_64(base_dir):
    model, tokenizer = load_base(str(base_dir))
    assert tokenizer.pad_token == PAD and tokenizer.pad_token_id != tokenizer.eos_token_id
    rows = model.get_input_embeddings().weight.shape[0]
    assert rows % 64 == 0 and rows >= len(tokenizer)
    assert model.generation_config.suppress_tokens == list(range(len(tokenizer), rows))
    assert model.config.pad_token_id == tokenizer.pad_token_id


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
        from training.model import load_base
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


def test_lora_fine_tunes_a_local_base_into_a_plain_model(base_dir, small_data, tmp_path):
    pytest.importorskip("peft")
    from transformers import AutoModelForCausalLM

    result = train(
        TrainConfig(
            base=str(base_dir),
            lora=True,
            data=[str(small_data)],
            out=str(tmp_path / "lora"),
            max_steps=4,
            batch_size=2,
            seq_len=128,
            eval_fraction=0.3,
        )
    )
    model = AutoModelForCausalLM.from_pretrained(str(result.output_dir))
    assert not any("lora" in name for name in model.state_dict())
