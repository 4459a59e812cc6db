"""Fixtures the generation tests share."""
from __future__ import annotations

import pytest

from generation import RecipeGenerator


@pytest.fixture(scope="module", params=["tiny", "tiny_llama"])
def gen64(request):
    """The fixture's model in float64, where batched and one-row products, and one pass over
    several tokens and one pass per token, round alike."""
    path, _ = request.getfixturevalue(request.param)
    gen = RecipeGenerator.from_pretrained(path, guard=False)
    gen.model = gen.model.double()
    gen._decoders.clear()
    return gen
