"""Deprecated: the pydantic recipe model is ``recipe_schema.recipe`` now.

This name goes in the next release.

``recipe_schema.model`` is the very module ``recipe_schema.recipe`` (every name, the same
objects), with a ``DeprecationWarning`` when first imported.
"""
import sys
import warnings

from . import recipe

warnings.warn("recipe_schema.model is renamed recipe_schema.recipe; the old name goes in the next release",
              DeprecationWarning, stacklevel=2)
sys.modules[__name__] = recipe
