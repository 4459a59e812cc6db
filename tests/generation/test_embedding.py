"""Sentence embeddings for the guard: WordLlama's token embeddings, mean-pooled, from local files."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from generation.embedding import DEFAULT_EMBEDDER, Embedder, _load, embedder
from recipe_schema import ModelLoadError


def test_embeddings_are_unit_mean_pooled_token_rows_as_wordllama_computes_them():
    from wordllama.inference import WordLlamaInference

    model = embedder()
    texts = ["How do I roast a chicken?", "Pulpo a la gallega", "clear the cookies in Chrome", ""]
    vectors = model.embed(texts)
    assert vectors.shape == (4, model.dim) == (4, 256)
    np.testing.assert_allclose(np.linalg.norm(vectors[:3], axis=1), 1.0, atol=1e-6)
    assert not vectors[3].any()  # no token, no direction
    upstream = WordLlamaInference(model.matrix, model.tokenizer).embed(texts[:3], norm=True)
    np.testing.assert_allclose(vectors[:3], upstream, atol=1e-6)
    assert embedder() is model is embedder(DEFAULT_EMBEDDER)  # loaded once per process


def test_prompts_about_the_same_thing_are_nearer_than_prompts_that_share_a_word():
    chicken, turkey, cookies = embedder().embed(
        ["How long do I roast a whole chicken?", "What temperature should a turkey bake at?",
         "How do I clear the cookies in my browser?"])
    assert chicken @ turkey > chicken @ cookies


def test_an_unknown_model_or_missing_files_are_one_line_model_load_errors(tmp_path):
    with pytest.raises(ModelLoadError, match="unknown embedding model 'glove'"):
        embedder("glove")
    with pytest.raises(ModelLoadError, match="cannot load embedding model mine") as caught:
        Embedder.from_files("mine", tmp_path / "weights.safetensors", tmp_path / "tokenizer.json")
    assert "\n" not in str(caught.value)
    from safetensors.numpy import save_file

    save_file({"embedding.weight": np.ones((10, 4), dtype=np.float32)}, str(tmp_path / "small.safetensors"))
    tokenizer = embedder().tokenizer.to_str()
    (tmp_path / "tokenizer.json").write_text(tokenizer, encoding="utf-8")
    with pytest.raises(ModelLoadError, match="32000 tokens, 10 rows"):  # ids past the matrix: refused
        Embedder.from_files("small", tmp_path / "small.safetensors", tmp_path / "tokenizer.json")


def test_without_wordllama_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "wordllama", None)
    _load.cache_clear()
    try:
        with pytest.raises(ModelLoadError, match="pip install 'wordllama"):
            embedder(DEFAULT_EMBEDDER)
    finally:
        _load.cache_clear()
