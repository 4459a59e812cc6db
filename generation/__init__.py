"""generation: answers that always complete, constrained to the recipe schema.

Schema-constrained decoding on ``outlines_core``, resumable across calls and
processes (the state is plain JSON), continuing past the model's context window,
and closing within a token budget. A domain guard (``DomainGuard``) routes each prompt
first: cooking -> a recipe, anything else -> a reply. Imports only ``recipe_schema`` of souschef.

``import generation`` is light: the names below are imported when first used, so a
submodule (``generation.base``, ``generation.guard``) can be used without torch.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .generator import GenerationResult, RecipeGenerator
    from .grammar import Grammar
    from .guard import DomainGuard
    from .state import GenerationConfig, GenerationState, Settings

_EXPORTS = {
    "DomainGuard": ".guard",
    "GenerationResult": ".generator",
    "GenerationState": ".state",
    "Grammar": ".grammar",
    "RecipeGenerator": ".generator",
    "GenerationConfig": ".state",
    "Settings": ".state",  # GenerationConfig's old name, kept for one release
}
__all__ = ["DomainGuard", "GenerationConfig", "GenerationResult", "GenerationState", "Grammar",
           "RecipeGenerator", "Settings"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module 'generation' has no attribute {name!r}")
