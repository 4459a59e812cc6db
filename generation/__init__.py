"""generation: answers that always complete, constrained to the recipe schema.

Schema-constrained decoding on ``outlines_core``, resumable across calls and
processes (the state is plain JSON), continuing past the model's context window,
and closing within a token budget. Imports only ``recipe_schema`` of souschef.
"""
from .generator import GenerationResult, RecipeGenerator
from .grammar import Grammar
from .state import GenerationState, Settings

__all__ = ["GenerationResult", "GenerationState", "Grammar", "RecipeGenerator", "Settings"]
