"""souschef: small language models as cooking assistants whose answers can be trusted.

This package holds the shells (the ``souschef`` command, ``make demo``) and, as
subpackages, ``souschef.training``, the chat app ``souschef.chat`` and the shipped corpus
``souschef.corpus``; the rest of the work is done by ``recipe_schema``, ``postprocess``,
``generation`` and ``evaluation``. Importing it imports nothing else.
"""
__version__ = "0.1.0"
