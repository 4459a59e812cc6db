"""Deprecated: the prompt format (what a model sees) is ``recipe_schema.prompt`` now.

This name goes in the next release.

``recipe_schema.chat`` is the very module ``recipe_schema.prompt`` (every name, the same
objects), with a ``DeprecationWarning`` when first imported.
"""
import sys
import warnings

from . import prompt

warnings.warn("recipe_schema.chat is renamed recipe_schema.prompt; the old name goes in the next release",
              DeprecationWarning, stacklevel=2)
sys.modules[__name__] = prompt
