"""The word shares in a fit: which words of a training prompt each one counts.

``fitting.fit`` gives a guard up to three word shares (``classifier.WORD_SHARES``): the
share of a prompt's words that are unknown to the cooking texts, that are food words, that
are everyday words. In training, a cooking prompt leaves its own words out of what it is
measured against (as if it were a prompt never seen), so each share is fitted to the prompts
trained on: ``WordShareFit``. ``Everyday`` counts the cooking texts' words against general
English. The standard library alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence

from .features import words_of

# Which of a training prompt's words a word share counts, given its words and whether it is
# about cooking (a cooking prompt trained on leaves its own words out of what is known).
Counts = Callable[[Sequence[str], bool], Callable[[str], bool]]
# A word share, fitted to the words of the prompts trained on and their labels: the words the
# guard keeps, and what it counts in each training prompt.
WordShareFit = Callable[[list[list[str]], list[bool]], tuple[frozenset[str], Counts]]


def in_how_many(texts: Iterable[Sequence[str]]) -> Counter[str]:
    """In how many of ``texts`` (each a sequence of words) each word is."""
    counts: Counter[str] = Counter()
    for terms in texts:
        counts.update(set(terms))
    return counts


def unknown_share_fit(cooking_counts: Counter[str]) -> WordShareFit:
    """The unknown-word share: words that no cooking text (``cooking_counts``: in how many
    each word is) nor cooking prompt trained on has."""
    def fitted(words: list[list[str]], ys: list[bool]) -> tuple[frozenset[str], Counts]:
        known = cooking_counts + in_how_many(w for w, y in zip(words, ys, strict=True) if y)

        def counts(own: Sequence[str], cooking: bool) -> Callable[[str], bool]:
            mine = set(own) if cooking else set()  # a cooking prompt leaves itself out
            return lambda w: known[w] - (w in mine) < 1

        return frozenset(known), counts
    return fitted


def food_share_fit(food: frozenset[str]) -> WordShareFit:
    """The food-word share: words of the food lexicon (``food``), whatever was trained on."""
    return lambda words, ys: (food, lambda own, cooking: food.__contains__)


def everyday_share_fit(everyday: Everyday) -> WordShareFit:
    """The everyday-word share: ``everyday``'s counts of the cooking texts plus the cooking prompts."""
    def fitted(words: list[list[str]], ys: list[bool]) -> tuple[frozenset[str], Counts]:
        counts = everyday.with_prompts([w for w, y in zip(words, ys, strict=True) if y])
        return counts.words(), lambda own, cooking: counts.leaving_out(own if cooking else ())
    return fitted


class Everyday:
    """Word counts of cooking texts beside what general English would put there: everyday words.

    A word is everyday where ``count + 0.5 <= 10 ** -margin * (expected + 0.5)``, with
    ``expected = tokens * frequency``: the cooking texts use it at least ``10 ** margin``
    times less than English at large (``fit``'s ``everyday_margin``).
    """

    def __init__(self, frequencies: Mapping[str, float], margin: float, texts: Sequence[Sequence[str]],
                 base: Everyday | None = None) -> None:
        """Counts of the words of ``texts`` (each a text's ``words_of``), added to ``base``'s if given."""
        self.frequencies, self.margin = frequencies, margin
        self.counts: Counter[str] = base.counts.copy() if base else Counter()
        self.tokens: int = base.tokens if base else 0
        for words in texts:
            self.counts.update(words)
            self.tokens += len(words)
        self._ratio = 10.0 ** -margin
        # only a word this frequent can be everyday (count 0): the rest need not be looked at
        # (and only a word ``words_of`` can give: "don't" and "1,000" never meet a prompt's words)
        least = (0.5 / self._ratio - 0.5) / max(self.tokens, 1)
        self._candidates = {w: f for w, f in frequencies.items() if f >= least and words_of(w) == [w]}

    def with_prompts(self, prompts: Sequence[Sequence[str]]) -> Everyday:
        """These counts plus the words of ``prompts`` (cooking prompts trained on)."""
        return Everyday(self.frequencies, self.margin, prompts, base=self)

    def _is_everyday(self, word: str, less: int = 0) -> bool:
        frequency = self._candidates.get(word)
        return frequency is not None and (
            self.counts[word] - less + 0.5 <= self._ratio * (self.tokens * frequency + 0.5))

    def words(self) -> frozenset[str]:
        """The everyday words."""
        return frozenset(w for w in self._candidates if self._is_everyday(w))

    def leaving_out(self, own: Sequence[str]) -> Callable[[str], bool]:
        """Whether a word is everyday, leaving out one counted text whose words are ``own``."""
        mine = Counter(own)
        return lambda w: self._is_everyday(w, mine[w])
