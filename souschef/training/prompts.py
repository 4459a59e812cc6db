"""Questions for recipes that come without one.

A recipe file has no prompt, but the model must learn to answer a *question*
with a recipe, phrased the many ways people ask. Each recipe gets questions from
a fixed set of templates, chosen by a hash of its title: the same file always
gives the same examples, on every machine and every process of a distributed run.
"""

from __future__ import annotations

import hashlib

TEMPLATES = (
    "How do I make {title}?",
    "Can you give me a recipe for {title}?",
    "I'd like to cook {title}.",
    "What's a good recipe for {title}?",
    "Show me how to make {title}.",
    "I want to make {title} tonight. How do I do it?",
    "Recipe for {title}, please.",
    "How would I prepare {title} at home?",
)


def questions_for(title: str, count: int = 1) -> list[str]:
    """``count`` distinct questions asking for ``title``, chosen deterministically.

    Parameters
    ----------
    title
        The recipe's title, used as written.
    count
        How many questions (at most ``len(TEMPLATES)``).

    >>> questions_for("Shakshuka")
    ['I want to make Shakshuka tonight. How do I do it?']
    >>> len(set(questions_for("Shakshuka", 3)))
    3
    """
    if not 1 <= count <= len(TEMPLATES):
        raise ValueError(f"count must be between 1 and {len(TEMPLATES)}, got {count}")
    digest = hashlib.sha256(title.strip().lower().encode("utf-8")).digest()
    first = int.from_bytes(digest[:8], "big") % len(TEMPLATES)
    # Consecutive templates from a hashed start: distinct, and spread evenly over titles.
    picks = [TEMPLATES[(first + i) % len(TEMPLATES)] for i in range(count)]
    return [t.format(title=title.strip()) for t in picks]
