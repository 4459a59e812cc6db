"""How the domain guard reads a prompt: its words, their n-grams, and shares of its words.

Scoring (``classifier``) and fitting (``fitting``) both read text through these
functions, so that a guard scores a prompt with the very features it was trained on.
The standard library alone (and ``recipe_schema``'s ``UsageError``).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from recipe_schema import UsageError

_WORD = re.compile(r"\w+")
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class AnalyzerSettings:
    """How a prompt becomes features; saved with the guard so inference analyzes alike."""

    word_ngrams: tuple[int, int] = (1, 2)  # word n-grams, both ends included
    char_ngrams: tuple[int, int] = (3, 5)  # n-grams of each word padded with spaces (char_wb)

    def __post_init__(self) -> None:
        for name in ("word_ngrams", "char_ngrams"):
            lo, hi = getattr(self, name)
            if not (isinstance(lo, int) and isinstance(hi, int) and 0 <= lo <= hi):
                raise UsageError(f"{name} must be (low, high) with 0 <= low <= high, not {(lo, hi)}")


def analyze(text: str, settings: AnalyzerSettings = AnalyzerSettings()) -> list[str]:
    """The features of a text: ``w:`` word n-grams and ``c:`` character n-grams of words.

    Text is NFKC-normalized and lowercased; words are runs of letters, digits and ``_``.
    A range starting at 0 counts as starting at 1; a range ``(0, 0)`` disables that kind.

    >>> analyze("Fry eggs", AnalyzerSettings(word_ngrams=(1, 2), char_ngrams=(3, 3)))
    ['w:fry', 'w:eggs', 'w:fry eggs', 'c: fr', 'c:fry', 'c:ry ', 'c: eg', 'c:egg', 'c:ggs', 'c:gs ']
    """
    return ngrams(tokenize(text), settings)


def tokenize(text: str) -> list[str]:
    """A text's tokens: NFKC-normalized, lowercased runs of letters, digits and ``_``.

    >>> tokenize("Ça va? 2 Œufs")
    ['ça', 'va', '2', 'œufs']
    """
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def ngrams(tokens: list[str], settings: AnalyzerSettings) -> list[str]:
    """``analyze``'s features of a text already split into ``tokens`` (``tokenize``)."""
    features: list[str] = []
    lo, hi = settings.word_ngrams
    if hi:
        for n in range(max(lo, 1), hi + 1):
            features.extend("w:" + " ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    lo, hi = settings.char_ngrams
    if hi:
        for word in tokens:
            padded = f" {word} "
            for n in range(max(lo, 1), hi + 1):
                features.extend("c:" + padded[i:i + n] for i in range(len(padded) - n + 1))
    return features


def words_of(text: str) -> list[str]:
    """The words of a text as the guard sees them: NFKC, lowercase, no word with a digit.

    >>> words_of("Bake 2 loaves at 220C, ok?")
    ['bake', 'loaves', 'at', 'ok']
    """
    return content_words(tokenize(text))


def content_words(tokens: list[str]) -> list[str]:
    """The tokens (``tokenize``) that are words to the word shares: those without a digit."""
    return [w for w in tokens if not _DIGIT.search(w)]


def unknown_share(text: str, known_words: frozenset[str] | set[str]) -> float:
    """The share of ``text``'s words (``words_of``) not in ``known_words``; 0 for no words.

    >>> unknown_share("How do I braise a gasket?", {"how", "do", "i", "braise", "a"})
    0.16666666666666666
    """
    return share(words_of(text), lambda w: w not in known_words)


def share(words: list[str], counts: Callable[[str], bool]) -> float:
    """The share of ``words`` that ``counts``; 0 for no words (every word-share feature).

    >>> share(["door", "of", "the", "oven"], {"door"}.__contains__)
    0.25
    """
    return sum(map(counts, words)) / len(words) if words else 0.0


def split_key(prompt: str) -> float:
    """Where a prompt falls in [0, 1): the validation split holds those below its fraction.

    A hash of the normalized prompt, so the split depends neither on order nor on machine.
    """
    normalized = " ".join(unicodedata.normalize("NFKC", prompt).lower().split())
    digest = hashlib.sha256(normalized.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
