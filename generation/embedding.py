"""Sentence embeddings for the domain guard, from a static token-embedding model on disk.

A sentence's embedding is the mean of its tokens' rows of an embedding matrix, scaled to
unit length. The shipped model is WordLlama's ``l2_supercat`` at 256 dimensions (MIT;
``pip install wordllama``): token embeddings taken from large language models and
trained for sentence similarity. Its wheel carries the weights (16 MB) and the
tokenizer, so nothing is downloaded: it works where no model hub can be reached. It
knows words that no training prompt has ("pulpo" is near "octopus", "earrings" near
"jewelry"), which TF-IDF cannot.

>>> vectors = embedder().embed(["How do I roast a chicken?", "How do I clear browser cookies?"])
>>> vectors.shape
(2, 256)
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from recipe_schema import ModelLoadError

DEFAULT_EMBEDDER = "wordllama-l2-supercat-256"
# name -> (weights file, tokenizer file), inside the wordllama package
EMBEDDERS = {
    DEFAULT_EMBEDDER: ("weights/l2_supercat_256.safetensors", "tokenizers/l2_supercat_tokenizer_config.json"),
}


class Embedder:
    """Mean-pooled, unit-length sentence embeddings from an embedding matrix and its tokenizer."""

    def __init__(self, name: str, matrix: np.ndarray, tokenizer: Any):
        self.name = name
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self.tokenizer = tokenizer

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length row per text (all zeros for a text without tokens), float64."""
        out = np.zeros((len(texts), self.dim), dtype=np.float64)
        for i, encoding in enumerate(self.tokenizer.encode_batch(list(texts), add_special_tokens=False)):
            if encoding.ids:
                v = self.matrix[encoding.ids].mean(axis=0, dtype=np.float64)
                norm = float(np.linalg.norm(v))
                out[i] = v / norm if norm else v
        return out

    @classmethod
    def from_files(cls, name: str, weights: str | Path, tokenizer: str | Path,
                   tensor: str = "embedding.weight") -> Embedder:
        """An embedder from a safetensors file (``tensor``: vocabulary x dimensions) and a
        ``tokenizers`` JSON file."""
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        try:
            matrix = load_file(str(weights))[tensor]
            tok = Tokenizer.from_file(str(tokenizer))
        except Exception as e:  # OSError, KeyError, SafetensorError; tokenizers raises a plain Exception
            raise ModelLoadError(f"cannot load embedding model {name}: {e}") from None
        if matrix.ndim != 2 or not np.isfinite(matrix).all():
            raise ModelLoadError(f"cannot load embedding model {name}: {tensor} is not a finite matrix")
        tokens = tok.get_vocab_size(with_added_tokens=True)
        if tokens > len(matrix):  # every token id must have a row
            raise ModelLoadError(f"cannot load embedding model {name}: {tokens} tokens, {len(matrix)} rows")
        tok.no_padding()
        tok.no_truncation()
        return cls(name, matrix, tok)


def embedder(name: str = DEFAULT_EMBEDDER) -> Embedder:
    """The embedding model called ``name`` (one of ``EMBEDDERS``), loaded once per process.

    Raises
    ------
    ModelLoadError
        An unknown name, or the ``wordllama`` package (which carries the files) missing.
    """
    return _load(name)


@functools.cache
def _load(name: str) -> Embedder:
    if name not in EMBEDDERS:
        raise ModelLoadError(f"unknown embedding model {name!r} (known: {', '.join(EMBEDDERS)})")
    spec = importlib.util.find_spec("wordllama")  # its files, without importing it (0.2 s)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"the embedding model {name} needs wordllama: pip install 'wordllama>=0.4'")
    root = Path(list(spec.submodule_search_locations)[0])
    weights, tokenizer = EMBEDDERS[name]
    return Embedder.from_files(name, root / weights, root / tokenizer)
