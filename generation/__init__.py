"""generation: answers that always complete, constrained to the recipe schema.

Schema-constrained decoding on ``outlines_core``, resumable across calls and
processes (the state is plain JSON), continuing past the model's context window,
and closing within a token budget. A domain guard (``DomainGuard``) routes each prompt
first: cooking -> a recipe, anything else -> a reply. Imports only ``recipe_schema`` of souschef.
"""
from .generator import GenerationResult, RecipeGenerator
from .grammar import Grammar
from .guard import DomainGuard
from .state import GenerationState, Settings

__all__ = ["DomainGuard", "GenerationResult", "GenerationState", "Grammar", "RecipeGenerator", "Settings"]
