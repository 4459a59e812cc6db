"""Questions for recipes that come without one: ``recipe_schema.prompt.questions_for``.

The question templates live with the prompt format in ``recipe_schema.prompt``, so that the
domain guard's data (``generation.guard.data``) can make the same questions without
importing training; this module keeps the names training has always used.
"""

from __future__ import annotations

from recipe_schema.prompt import QUESTION_TEMPLATES as TEMPLATES
from recipe_schema.prompt import questions_for

__all__ = ["TEMPLATES", "questions_for"]
