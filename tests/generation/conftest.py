"""Fixtures the generation tests share."""
from __future__ import annotations

import pytest

from tests.conftest import float64_generator


@pytest.fixture(scope="module", params=["tiny", "tiny_llama"])
def gen64(request):
    """The fixture's model (GPT-2, then Llama) in float64 (``float64_generator``)."""
    path, _ = request.getfixturevalue(request.param)
    return float64_generator(path)
