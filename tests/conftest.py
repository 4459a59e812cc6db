"""Shared fixtures: example recipes, and a tiny random GPT-2 (n_positions=128) with a
byte-level BPE trained on the corpus, saved to disk as users save models."""
from __future__ import annotations

import io
import json
import os
import sys
import tempfile
from importlib import resources
from pathlib import Path

import pytest

# Tests never reach a hub, and never write to the user's caches.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["SOUSCHEF_CACHE_DIR"] = tempfile.mkdtemp(prefix="souschef-test-cache-")
for _name in ("modules", "metrics", "evaluate"):  # where evaluate.load copies the suite's metrics
    os.environ[f"HF_{_name.upper()}_CACHE"] = str(Path(os.environ["SOUSCHEF_CACHE_DIR"]) / "hf" / _name)

EXAMPLE = resources.files("souschef.corpus").joinpath("examples/harissa-chickpeas.json")


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run the CLI as a user does: ``cli(args, stdin=b"") -> (exit code, stdout, stderr)``;
    never a traceback."""
    from souschef.cli import main

    def run(args: list[str], stdin: bytes = b"") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        try:
            code = main(args)
        except SystemExit as e:  # argparse usage errors and --help
            code = e.code
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    return run


@pytest.fixture
def example_text() -> str:
    return EXAMPLE.read_text(encoding="utf-8")


@pytest.fixture
def minimal() -> dict:
    return {"title": "Toast", "ingredients": ["2 slices bread"], "steps": ["Toast the bread."]}


@pytest.fixture
def write_json(tmp_path: Path):
    def write(obj, name: str = "recipe.json") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(obj), encoding="utf-8")
        return path

    return write

N_POSITIONS = 128


def build_tokenizer(vocab_size: int = 1024):
    """The byte-level BPE `souschef train --from-scratch` trains, on a quarter of the exchanges."""
    from souschef import corpus
    from souschef.training.tokenizer import train_tokenizer

    texts = corpus.path(corpus.EXCHANGES).read_text(encoding="utf-8").splitlines()[::4]
    return train_tokenizer(texts, vocab_size)


def build_model(vocab_size: int, n_positions: int = N_POSITIONS, seed: int = 0):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    # vocabulary padded to a multiple of 64, as training does: ids past the tokenizer are masked
    padded = -(-vocab_size // 64) * 64
    config = GPT2Config(vocab_size=padded, n_positions=n_positions, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=0, eos_token_id=0)
    return GPT2LMHeadModel(config).eval()


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """(model_dir, generator): saved to disk once, loaded as users load models."""
    import torch

    torch.set_num_threads(1)
    tokenizer = build_tokenizer()
    model = build_model(len(tokenizer))
    path = tmp_path_factory.mktemp("tiny-model")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    from generation import RecipeGenerator

    return path, RecipeGenerator.from_pretrained(path, guard=False)


def float64_generator(path):
    """An unguarded generator of the model at ``path`` in float64, where batched and one-row
    products, and one pass over several tokens and one pass per token, round alike."""
    from generation import RecipeGenerator

    gen = RecipeGenerator.from_pretrained(path, guard=False)
    gen.model = gen.model.double()
    gen._decoders.clear()
    return gen


@pytest.fixture(scope="module")
def tiny64(tiny):
    """The tiny model's generator in float64 (``float64_generator``)."""
    return float64_generator(tiny[0])


CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
          "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
          "{% endif %}")


def build_chat_tokenizer(vocab_size: int = 1024):
    """The corpus BPE with SmolLM2's chat layout: ChatML turns, ``<|im_end|>`` ends an answer."""
    tokenizer = build_tokenizer(vocab_size)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tokenizer.eos_token = "<|im_end|>"
    tokenizer.pad_token = "<|im_end|>"  # SmolLM2's pad is its end token
    tokenizer.chat_template = CHATML
    return tokenizer


def build_llama(vocab_size: int, n_positions: int = N_POSITIONS, seed: int = 0, eos: int = 0):
    """A tiny Llama (rotary positions, grouped-query attention, tied embeddings), as SmolLM2 is shaped."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=-(-vocab_size // 64) * 64, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=n_positions, tie_word_embeddings=True,
                         bos_token_id=eos, eos_token_id=eos, pad_token_id=eos)
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory):
    """(model_dir, generator): a tiny Llama with a chat template and a 128-token context, on disk."""
    tokenizer = build_chat_tokenizer()
    model = build_llama(len(tokenizer), eos=tokenizer.eos_token_id)
    path = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    from generation import RecipeGenerator

    return path, RecipeGenerator.from_pretrained(path, guard=False)


def load_bench(name: str):
    """A script of ``bench/`` imported as a module, so a test can run its ``main``."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "bench" / f"{name}.py"
    if str(path.parent) not in sys.path:  # as `python bench/NAME.py` has it: the benches' helpers beside it
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def finish_in_other_processes(model: Path, state_file: Path, tokens: int, *, guard: bool = True,
                              double: bool = False, processes: int = 20):
    """Step the generation saved in ``state_file`` by ``tokens`` a call, each call in a new
    Python process that loads ``model`` afresh, until it finishes; return its final state."""
    import subprocess
    import textwrap

    from generation import GenerationState

    script = textwrap.dedent(f"""
        from pathlib import Path
        from generation import GenerationState, RecipeGenerator
        gen = RecipeGenerator.from_pretrained({str(model)!r}{'' if guard else ', guard=False'})
        if {double}:
            gen.model = gen.model.double()
        p = Path({str(state_file)!r})
        state = gen.step(GenerationState.from_json(p.read_text()), {tokens})
        p.write_text(state.to_json())
        print("finished" if state.finished else "more")
    """)
    for _ in range(processes):
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        if out.stdout.strip() == "finished":
            break
    return GenerationState.from_json(state_file.read_text())
