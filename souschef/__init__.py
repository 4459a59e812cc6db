"""souschef: small language models as cooking assistants whose answers can be trusted.

This package holds the shells (the ``souschef`` command); the work is done by
``recipe_schema``, ``postprocess``, ``generation``, ``training`` and ``evaluation``.
"""
__version__ = "0.1.0"
