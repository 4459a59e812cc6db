"""From a name or a folder to a model, its tokenizer and its prompt format.

``load_model`` is what ``RecipeGenerator.from_pretrained`` loads:

- nothing (``None``): the assistant souschef ships, a LoRA adapter for
  SmolLM2-135M-Instruct in ``generation/assistant/`` (package data);
- a LoRA adapter folder (``souschef train --lora``: peft's adapter files and
  ``souschef.json``): its base is loaded by the name the record gives, checked against
  the identity the record holds (an adapter only fits the weights it was trained on),
  and the adapter is merged in for decoding;
- a model folder (``souschef train``, or any ``save_pretrained`` folder), a named base
  (``smollm2-135m-instruct``), a ``.gguf`` file, or a hub id.

The prompt format comes from the model's ``souschef.json`` when it has one (a model
trained before formats were recorded used the plain layout), else from its tokenizer:
its chat template if it has one.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from recipe_schema import PLAIN, PROMPT_FORMATS, ModelLoadError, UsageError, default_prompt_format

from .base import file_sha256, resolve_base

RECORD = "souschef.json"               # a souschef model's record (training.artifacts writes it)
ADAPTER_CONFIG = "adapter_config.json"  # peft's: marks a folder as a LoRA adapter
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ASSISTANT = "assistant"                # the shipped adapter's folder in this package


@dataclass
class LoadedModel:
    """A model ready for decoding and what it was loaded from."""

    model: Any
    tokenizer: Any
    prompt_format: str
    directory: Path | None        # the folder whose guard.json applies, if any
    record: dict[str, Any] | None  # its souschef.json


def assistant_dir() -> Path:
    """The folder of the assistant souschef ships (a LoRA adapter and its record)."""
    return Path(str(resources.files(__package__).joinpath(ASSISTANT)))


def read_record(directory: Path) -> dict[str, Any] | None:
    """A folder's ``souschef.json``, or ``None`` when it has none.

    Raises
    ------
    ModelLoadError
        When the file exists but is not a JSON object.
    """
    path = directory / RECORD
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"cannot read {path}: {e}") from None
    if not isinstance(record, dict):
        raise ModelLoadError(f"cannot read {path}: not a JSON object")
    return record


def load_model(path: str | Path | None = None, base: str | None = None,
               device: str | None = None, weights: str = "fp32") -> LoadedModel:
    """Load a model for decoding (see the module docstring for what ``path`` may be).

    Parameters
    ----------
    path
        A model or adapter folder, a named base, a ``.gguf`` file, a hub id; ``None``:
        the shipped assistant.
    base
        For an adapter: load it onto this base instead of the one its record names.
        It must have the same weights (identity) as the one the adapter was trained on.
    device
        Move the model there (``"cuda"``, ``"cpu"``).
    weights
        ``"fp32"`` (as loaded), ``"int8"`` (int8 weights for CPU decoding, ``generation.int8``:
        1.86x the tokens a second at batch 1 on 2 x86 cores, slightly different answers) or ``"auto"``
        (int8 on a CPU where torch's int8 kernel is vectorized, else fp32).

    Raises
    ------
    ModelLoadError
        When anything cannot be loaded, or an adapter does not fit its base.
    """
    from .int8 import resolve_weights

    weights = resolve_weights(weights, device)
    _quiet_transformers()
    if path is None:
        path = assistant_dir()
        if not (path / ADAPTER_CONFIG).is_file():
            raise ModelLoadError(f"the assistant souschef ships is missing from this install ({path})")
    local = Path(path).expanduser()
    if local.is_dir() and (local / ADAPTER_CONFIG).is_file():
        loaded = _load_adapter(local, base)
    else:
        if base is not None:
            raise UsageError(f"base applies to LoRA adapter folders only; {path} is not one")
        loaded = _load_plain(str(path), local)
    if device:
        loaded.model = loaded.model.to(device)
    if weights == "int8":
        from .int8 import quantize_int8

        quantize_int8(loaded.model)
    return loaded


def _load_plain(path: str, local: Path) -> LoadedModel:
    resolved = resolve_base(path)  # a named base or a .gguf file -> its converted folder
    if resolved == path:
        if not local.exists() and (path.startswith((".", "/", "~")) or path.count("/") > 1):
            raise ModelLoadError(f"cannot load model from {path}: no such directory")
        if local.exists() and not (local / "config.json").is_file():
            raise ModelLoadError(f"cannot load model from {path}: no config.json (not a saved model)")
    tokenizer, model = _from_pretrained(resolved, resolved, hub_hint=not local.exists())
    directory = local if local.is_dir() else None
    record = read_record(local) if directory else None
    if record is not None:
        # a souschef model records its format; one trained before formats existed used PLAIN
        prompt_format = str(record.get("prompt_format", PLAIN))
    else:
        prompt_format = default_prompt_format(tokenizer)
    if prompt_format not in PROMPT_FORMATS:
        raise ModelLoadError(f"{local / RECORD}: unknown prompt_format {prompt_format!r}")
    return LoadedModel(model, tokenizer, prompt_format, directory, record)


def _load_adapter(directory: Path, base: str | None) -> LoadedModel:
    record = read_record(directory)
    if record is None or not isinstance(record.get("config"), dict) or not record["config"].get("base"):
        raise ModelLoadError(f"{directory}: a LoRA adapter without the souschef.json that names its base")
    trained_on = str(record["config"]["base"])
    base = base or trained_on
    resolved = resolve_base(base)
    own_tokenizer = (directory / "tokenizer_config.json").is_file()  # a run that added tokens saves its own
    tokenizer, model = _from_pretrained(str(directory) if own_tokenizer else resolved, resolved,
                                        hub_hint=not Path(resolved).exists())
    expected = record.get("base_identity")
    if expected is not None:
        found = model_identity(model, tokenizer)
        if found != expected:
            raise ModelLoadError(
                f"{directory} is a LoRA adapter for {trained_on!r} (identity {expected}); {base!r} has "
                f"other weights ({found}), so the adapter does not fit it")
    weights = directory / ADAPTER_WEIGHTS
    recorded = record.get("adapter_sha256")
    if recorded and weights.is_file() and file_sha256(weights) != recorded:
        raise ModelLoadError(f"{weights}: its SHA-256 is not the one souschef.json records (modified?)")
    try:
        from peft import PeftModel
    except ImportError:
        raise ModelLoadError(f"{directory} is a LoRA adapter; loading it needs peft: "
                             "pip install 'souschef[lora]'") from None
    try:
        with warnings.catch_warnings():
            # peft (0.21) still reads a property transformers 5 deprecated; nothing for us to fix.
            warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated",
                                    category=FutureWarning)
            model = PeftModel.from_pretrained(model, str(directory)).merge_and_unload()
    except Exception as e:
        raise ModelLoadError(f"cannot load the adapter in {directory}: {_first_line(e)}") from None
    prompt_format = str(record.get("prompt_format", default_prompt_format(tokenizer)))
    return LoadedModel(model, tokenizer, prompt_format, directory, record)


def _from_pretrained(tokenizer_path: str, model_path: str, hub_hint: bool) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_path)
        model = AutoModelForCausalLM.from_pretrained(model_path)
    except Exception as e:  # OSError, ValueError, JSON errors ... all mean "cannot load"
        hint = " (no network? give a local model directory)" if hub_hint else ""
        raise ModelLoadError(f"cannot load model from {model_path}: {_first_line(e)}{hint}") from None
    return tokenizer, model


def _first_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()  # stderr is for souschef's own progress


def model_identity(model: Any, tokenizer: Any) -> str:
    """Config, vocabulary and a cheap fingerprint of the weights (the first 64 values of each)."""
    import torch

    config = model.config.to_dict()
    for volatile in ("_name_or_path", "transformers_version"):  # where it lives is not what it is
        config.pop(volatile, None)
    h = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    h.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode())
    with torch.no_grad():
        for name, p in model.named_parameters():
            h.update(name.encode())
            h.update(p.detach().reshape(-1)[:64].float().cpu().numpy().tobytes())
        for name, b in model.named_buffers():  # int8 weights (generation.int8) are buffers
            if name.endswith("weight_int8"):
                h.update(name.encode())
                h.update(b.reshape(-1)[:64].float().numpy().tobytes())
    return f"sha256:{h.hexdigest()[:16]}"


def context_length(model: Any) -> int:
    """The model's context window in tokens, from its config."""
    return _config_count(model, ("n_positions", "max_position_embeddings", "n_ctx"),
                         "context length (n_positions)")


def block_count(model: Any) -> int:
    """How many transformer blocks the model has, from its config."""
    return _config_count(model, ("num_hidden_layers", "n_layer", "num_layers"),
                         "layer count (num_hidden_layers)")


def _config_count(model: Any, names: tuple[str, ...], what: str) -> int:
    """The first of ``names`` the model's config sets to a positive integer (architectures differ)."""
    for name in names:
        value = getattr(model.config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    raise ModelLoadError(f"the model's config gives no {what}")


def cache_arg(model: Any) -> str:
    """The name the model's ``forward`` takes its KV cache by: transformers 5.2x says ``cache``, 4.x and
    early 5.x ``past_key_values`` (a PEFT model passes its arguments on: the model underneath is asked)."""
    import inspect

    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(inner.forward).parameters else "past_key_values"


def stop_ids(eos_id: int, model: Any) -> tuple[int, ...]:
    """``eos_id`` first, then every other id ``generation_config.eos_token_id`` lists."""
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    extra = configured if isinstance(configured, (list, tuple)) else [configured]
    return tuple(dict.fromkeys([eos_id, *(int(i) for i in extra if isinstance(i, int))]))
