"""``DomainGuard``: is a prompt about cooking? Decided before constrained decoding.

A model fine-tuned on recipes answers "How can I implement a binary search?" with a
recipe, and schema-constrained decoding would make that answer a valid one. The guard
routes every prompt first: cooking -> generation mode ``"recipe"``, anything else ->
``"reply"`` (the decoder is then constrained to ``{"reply": "..."}``).

The model is TF-IDF over word 1-2-grams and character 3-5-grams of each word
(lowercased, sublinear tf, L2 norm), plus three word shares and an embedding, with a
logistic regression on top: the share of a prompt's words that no cooking text it was trained on uses
(``unknown_share``), the share that are words of a food lexicon, and the share that are
everyday words: words that general English uses far more often than the cooking texts
do ("door", "car", "tax"; general-English frequencies are given at fit time, and the
words they single out are stored with the guard). Cooking is a closed domain and the
rest of the world is not: on a topic the guard never saw, the topic's own words have no
weight, but that they are unknown or everyday words does, and so does a question with
hardly a food word in it. Last, the prompt's sentence embedding
(``generation.embedding``: a static token-embedding model whose files ship in the
``wordllama`` wheel) carries what the prompt is about in words no training prompt need
have. Training uses
scikit-learn (``DomainGuard.fit``); inference does not: the guard is a JSON file
(features, idf, weights, intercept, threshold, analyzer settings, the embedding's
weights) scored here with numpy through ``analyze``, the same function scikit-learn
was given at fit time, so both compute the same probability.

>>> guard = DomainGuard.default()
>>> guard.route("How do I make shakshuka?"), guard.route("How can I implement a binary search in Python?")
('recipe', 'reply')
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from generation.embedding import DEFAULT_EMBEDDER, EMBEDDERS, Embedder, embedder
from recipe_schema import ModelLoadError, UsageError, atomic_write

FORMAT = "souschef-domain-guard"
FORMAT_VERSION = 6  # 2 added the unknown-word feature, 3 the food-word one, 4 the everyday-word one,
# 5 the unknown-pair one, 6 the sentence embedding; older files still load
GUARD_FILE = "guard.json"  # the name in a model directory, and the shipped default's name

# Each dense feature's block in a guard file: (its key, the key of its word list, the
# ``DomainGuard`` attributes of the words and of the weight, what the words are called in errors)
_DENSE_BLOCKS = (
    ("unknown_words", "known", "known_words", "unknown_weight", "known words"),
    ("food_words", "words", "food_words", "food_weight", "food words"),
    ("everyday_words", "words", "everyday_words", "everyday_weight", "its words"),
    ("unknown_pairs", "known", "known_pairs", "unknown_pair_weight", "known pairs"),
)

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
    return _features(_tokens(text), settings)


def _tokens(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def _features(words: list[str], settings: AnalyzerSettings) -> list[str]:
    features: list[str] = []
    lo, hi = settings.word_ngrams
    if hi:
        for n in range(max(lo, 1), hi + 1):
            features.extend("w:" + " ".join(words[i:i + n]) for i in range(len(words) - n + 1))
    lo, hi = settings.char_ngrams
    if hi:
        for word in words:
            padded = f" {word} "
            for n in range(max(lo, 1), hi + 1):
                features.extend("c:" + padded[i:i + n] for i in range(len(padded) - n + 1))
    return features


def words_of(text: str) -> list[str]:
    """The words of a text as the guard sees them: NFKC, lowercase, no word with a digit.

    >>> words_of("Bake 2 loaves at 220C, ok?")
    ['bake', 'loaves', 'at', 'ok']
    """
    return _content(_tokens(text))


def _content(tokens: list[str]) -> list[str]:
    return [w for w in tokens if not _DIGIT.search(w)]


def unknown_share(text: str, known_words: frozenset[str] | set[str]) -> float:
    """The share of ``text``'s words (``words_of``) not in ``known_words``; 0 for no words.

    >>> unknown_share("How do I braise a gasket?", {"how", "do", "i", "braise", "a"})
    0.16666666666666666
    """
    return _share(words_of(text), lambda w: w not in known_words)


def word_pairs(words: Sequence[str]) -> list[str]:
    """Each two neighbouring words of ``words`` (a text's ``words_of``), joined by a space.

    >>> word_pairs(["clear", "the", "cookies"])
    ['clear the', 'the cookies']
    """
    return [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


def _share(words: list[str], counts: Callable[[str], bool]) -> float:
    """The share of ``words`` that ``counts``; 0 for no words (every dense feature)."""
    return sum(map(counts, words)) / len(words) if words else 0.0


def split_key(prompt: str) -> float:
    """Where a prompt falls in [0, 1): the validation split holds those below its fraction.

    A hash of the normalized prompt, so the split depends neither on order nor on machine.
    """
    normalized = " ".join(unicodedata.normalize("NFKC", prompt).lower().split())
    digest = hashlib.sha256(normalized.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class DomainGuard:
    """A prompt-domain classifier: the probability that a prompt is about cooking.

    Attributes
    ----------
    features, idf, weights
        The vocabulary (feature strings), their inverse document frequencies and the
        logistic regression's coefficients, index for index.
    intercept
        The logistic regression's intercept.
    threshold
        A prompt is about cooking when its score is at least this.
    settings
        The analyzer's settings (see ``analyze``).
    info
        How it was made: training counts, validation figures, how the threshold was chosen.
    known_words, unknown_weight
        The words of the cooking texts it was trained on, and the coefficient of
        ``unknown_share(prompt, known_words)`` (0 with no known words: no such feature).
    food_words, food_weight
        The words of a food lexicon, and the coefficient of the share of a prompt's words
        among them (``unknown_share``'s complement over ``food_words``; 0: no such feature).
    everyday_words, everyday_weight
        Words general English uses far more often than cooking texts do, and the
        coefficient of the share of a prompt's words among them (0: no such feature).
    known_pairs, unknown_pair_weight
        The word pairs (``word_pairs``) of the cooking texts it was trained on, and the
        coefficient of the share of a prompt's word pairs not among them (0: no such feature).
    embedding_model, embedding_weights
        The name of a sentence-embedding model (``generation.embedding.embedder``) and the
        coefficients of the prompt's embedding ("": no such feature; scoring then needs no
        embedding model).
    """

    features: list[str]
    idf: np.ndarray
    weights: np.ndarray
    intercept: float
    threshold: float = 0.5
    settings: AnalyzerSettings = field(default_factory=AnalyzerSettings)
    info: dict[str, Any] = field(default_factory=dict)
    known_words: frozenset[str] = frozenset()
    unknown_weight: float = 0.0
    food_words: frozenset[str] = frozenset()
    food_weight: float = 0.0
    everyday_words: frozenset[str] = frozenset()
    everyday_weight: float = 0.0
    known_pairs: frozenset[str] = frozenset()
    unknown_pair_weight: float = 0.0
    embedding_model: str = ""
    embedding_weights: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        self.idf = np.asarray(self.idf, dtype=np.float64)
        self.weights = np.asarray(self.weights, dtype=np.float64)
        if not len(self.features) == len(self.idf) == len(self.weights):
            raise ModelLoadError("guard: features, idf and weights differ in length")
        if not 0.0 <= self.threshold <= 1.0:
            raise ModelLoadError(f"guard: threshold must be in [0, 1], not {self.threshold}")
        self._index = {f: i for i, f in enumerate(self.features)}
        if len(self._index) != len(self.features):
            raise ModelLoadError("guard: duplicate features")
        for key, _, words, weight, what in _DENSE_BLOCKS:
            setattr(self, words, frozenset(getattr(self, words)))
            value = getattr(self, weight)
            if not math.isfinite(value) or (value and not getattr(self, words)):
                raise ModelLoadError(f"guard: the {key} weight must be finite and come with {what}")
        self.embedding_weights = np.asarray(self.embedding_weights, dtype=np.float64)
        if (self.embedding_weights.ndim != 1 or not np.isfinite(self.embedding_weights).all()
                or bool(self.embedding_model) != bool(self.embedding_weights.size)):
            raise ModelLoadError("guard: the embedding needs a model name and finite weights, or neither")
        if self.embedding_model and self.embedding_model not in EMBEDDERS:
            raise ModelLoadError(f"guard: unknown embedding model {self.embedding_model!r} "
                                 f"(known: {', '.join(EMBEDDERS)})")
        self._embedding: Embedder | None = None  # loaded at the first prompt scored

    # ---------------------------------------------------------------- scoring
    def score(self, prompt: str) -> float:
        """The probability that ``prompt`` is about cooking, in [0, 1]."""
        z, tokens = self.intercept, _tokens(prompt)  # normalized once for both kinds of feature
        if self.unknown_weight or self.food_weight or self.everyday_weight or self.unknown_pair_weight:
            words = _content(tokens)
            z += self.unknown_weight * _share(words, lambda w: w not in self.known_words)
            z += self.food_weight * _share(words, self.food_words.__contains__)
            z += self.everyday_weight * _share(words, self.everyday_words.__contains__)
            z += self.unknown_pair_weight * _share(word_pairs(words), lambda p: p not in self.known_pairs)
        counts = Counter(i for i in map(self._index.get, _features(tokens, self.settings)) if i is not None)
        if counts:
            index = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))  # sublinear
            x = tf * self.idf[index]
            z += float(x @ self.weights[index]) / float(np.sqrt(x @ x))
        if self.embedding_model:
            z += float(self._embedder().embed([prompt])[0] @ self.embedding_weights)
        return _sigmoid(z)

    def _embedder(self) -> Embedder:
        """The embedding model the guard was trained with (loaded once per process, checked per guard)."""
        if self._embedding is None:
            model = embedder(self.embedding_model)
            if model.dim != len(self.embedding_weights):
                raise ModelLoadError(f"guard: {len(self.embedding_weights)} embedding weights, but "
                                     f"{self.embedding_model} has {model.dim} dimensions")
            self._embedding = model
        return self._embedding

    def scores(self, prompts: Sequence[str]) -> list[float]:
        """``score`` of each prompt, in order."""
        return [self.score(p) for p in prompts]

    def is_cooking(self, prompt: str) -> bool:
        """Whether ``prompt`` is about cooking (its score reaches the threshold)."""
        return self.score(prompt) >= self.threshold

    def mode_for(self, score: float) -> str:
        """The generation mode for a score: ``"recipe"`` or ``"reply"``."""
        return "recipe" if score >= self.threshold else "reply"

    def route(self, prompt: str) -> str:
        """The generation mode for ``prompt``: ``"recipe"`` (cooking) or ``"reply"``."""
        return self.mode_for(self.score(prompt))

    # ---------------------------------------------------------------- files
    @classmethod
    def default_path(cls) -> Path:
        """The guard shipped with souschef (package data ``generation/guard.json``)."""
        return Path(str(resources.files("generation").joinpath(GUARD_FILE)))

    @classmethod
    def default(cls) -> DomainGuard:
        """The guard shipped with souschef, trained on the shipped corpus."""
        return cls.load(cls.default_path())

    def to_dict(self) -> dict[str, Any]:
        data = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "analyzer": {k: list(v) for k, v in asdict(self.settings).items()},
            "tf": "sublinear",
            "norm": "l2",
            "threshold": self.threshold,
            "intercept": self.intercept,
            "info": self.info,
            "features": self.features,
            "idf": self.idf.tolist(),
            "weights": self.weights.tolist(),
        }
        for key, listed, words, weight, _ in _DENSE_BLOCKS:
            if getattr(self, weight):
                data[key] = {"weight": getattr(self, weight), listed: sorted(getattr(self, words))}
        if self.embedding_model:
            data["embedding"] = {"model": self.embedding_model, "weights": self.embedding_weights.tolist()}
        return data

    def save(self, path: str | Path) -> None:
        """Write the guard as JSON (atomically). Floats are written exactly (``repr``)."""
        atomic_write(path, json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> DomainGuard:
        """Read a guard written by ``save``.

        Raises
        ------
        ModelLoadError
            The file is missing, not JSON, not a guard, of another format version, or
            inconsistent (one line that says which).
        """
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ModelLoadError(f"cannot load guard {path}: {getattr(e, 'strerror', None) or e}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ModelLoadError(f"cannot load guard {path}: not JSON ({e})") from None
        try:
            return cls.from_dict(data)
        except ModelLoadError as e:
            raise ModelLoadError(f"cannot load guard {path}: {e}") from None

    @classmethod
    def from_dict(cls, data: Any) -> DomainGuard:
        """A guard from ``to_dict``'s output; anything malformed is a ``ModelLoadError``."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ModelLoadError("not a souschef domain guard")
        if data.get("version") not in range(1, FORMAT_VERSION + 1):
            raise ModelLoadError(
                f"guard format version {data.get('version')!r}, expected 1 to {FORMAT_VERSION}")
        try:
            analyzer = data["analyzer"]
            settings = AnalyzerSettings(**{k: tuple(v) for k, v in analyzer.items()})
            if data.get("tf") != "sublinear" or data.get("norm") != "l2":
                raise ValueError("only sublinear tf with l2 norm is supported")
            features = data["features"]
            if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
                raise ValueError("features must be a list of strings")
            idf, weights = (np.asarray(data[k], dtype=np.float64) for k in ("idf", "weights"))
            if idf.ndim != 1 or weights.ndim != 1 or not np.isfinite(np.concatenate([idf, weights])).all():
                raise ValueError("idf and weights must be lists of finite numbers")
            intercept, threshold = float(data["intercept"]), float(data["threshold"])
            if not math.isfinite(intercept):
                raise ValueError("the intercept must be finite")
            info = data.get("info", {})
            if not isinstance(info, dict):
                raise ValueError("info must be an object")
            dense: dict[str, Any] = {}
            for key, listed, words, weight, _ in _DENSE_BLOCKS:
                dense[words], dense[weight] = _dense_block(data, key, listed)
            embedding = data.get("embedding", {"model": "", "weights": []})
            if not isinstance(embedding["model"], str) or not isinstance(embedding["weights"], list):
                raise ValueError("embedding must name its model and list its weights")
            dense["embedding_model"] = embedding["model"]
            dense["embedding_weights"] = np.asarray(embedding["weights"], dtype=np.float64)
        except ModelLoadError:
            raise
        except (KeyError, TypeError, ValueError, UsageError) as e:
            what = f"missing {e}" if isinstance(e, KeyError) else str(e)
            raise ModelLoadError(f"malformed guard: {what}") from None
        return cls(features, idf, weights, intercept, threshold, settings, info, **dense)

    # ---------------------------------------------------------------- training
    @classmethod
    def fit(cls, prompts: Sequence[str], labels: Sequence[bool], *, validation_fraction: float = 0.2,
            generated: Sequence[bool] | None = None, generated_weight: float = 1.0, C: float = 10.0,
            min_df: int = 1, settings: AnalyzerSettings = AnalyzerSettings(),
            cooking_texts: Sequence[str] = (), unknown_scale: float = 0.0,
            food_texts: Sequence[str] = (), food_scale: float = 0.0,
            word_frequencies: Mapping[str, float] | None = None, everyday_scale: float = 0.0,
            everyday_margin: float = 1.0, unknown_pair_scale: float = 0.0, known_min_texts: int = 1,
            embedding_scale: float = 0.0, embedding_model: str = "",
            threshold_folds: int = 0,
            groups: Sequence[str | None] | None = None,
            info: dict[str, Any] | None = None) -> DomainGuard:
        """Train a guard (needs scikit-learn) and choose its threshold on prompts it did not train on.

        Two ways to choose the threshold (``choose_threshold``), both on written prompts
        only (never a generated one):

        - ``threshold_folds`` 0: prompts whose ``split_key`` is below ``validation_fraction``
          are held out; the classifier is trained on the others and kept, so its
          validation figures are honest.
        - ``threshold_folds`` k >= 2: cross-validation. Written prompts fall into k folds by
          a hash of their group (``groups``: an off-domain prompt's topic, say, so that
          each is scored by a classifier that never saw its topic, as in use); each fold is
          scored by a classifier trained on everything else, the threshold is chosen on
          all these scores, and the guard's classifier is then trained on every prompt.
          Costs k + 1 fits.

        Parameters
        ----------
        prompts, labels
            The prompts and whether each is about cooking (``True``) or not.
        validation_fraction
            With ``threshold_folds`` 0, the share of prompts held out to choose the
            threshold (0: threshold 0.5).
        generated
            Per prompt, whether it was made from a template (questions from recipe titles
            and ingredients): such prompts are only trained on. The threshold is chosen
            on prompts people wrote, which is what the guard meets in use.
        generated_weight
            The training weight of a generated prompt (a written one weighs 1).
        C
            Inverse regularization strength of the logistic regression (classes weighted
            to balance).
        min_df
            Features seen in fewer training prompts are dropped.
        cooking_texts, unknown_scale
            With ``unknown_scale`` > 0, the classifier also gets ``unknown_scale *
            unknown_share(prompt, known)``, where ``known`` holds the words of
            ``cooking_texts`` (recipes, say) and of the cooking prompts trained on. A
            cooking prompt trained on counts its own words as unknown unless some other
            text has them (leave one out), so that the feature weighs in training what it
            weighs on a prompt never seen. The scale sets how strongly the feature is
            regularized (larger: less). 0: no such feature.
        food_texts, food_scale
            With ``food_scale`` > 0, the classifier also gets ``food_scale`` times the share
            of a prompt's words that are words of ``food_texts`` (a food lexicon): positive
            evidence, where the unknown-word share is negative. 0: no such feature.
        word_frequencies, everyday_scale, everyday_margin
            With ``everyday_scale`` > 0, the classifier also gets ``everyday_scale`` times the
            share of a prompt's words that are everyday words: words whose share of general
            English (``word_frequencies``, word -> frequency, ``wordfreq``'s say) would have
            them in the cooking texts and cooking prompts trained on at least
            ``10 ** everyday_margin`` times as often as they are (counts + 0.5 on both
            sides, so that a word rare in English but absent from cooking, "borscht", is
            none). Leave one out for cooking prompts, as for the unknown-word share. The
            everyday words are stored with the guard: inference needs no frequencies.
            0: no such feature.
        unknown_pair_scale
            With ``unknown_pair_scale`` > 0, the classifier also gets ``unknown_pair_scale``
            times the share of a prompt's word pairs (``word_pairs``) that no cooking text
            nor cooking prompt trained on has: words in context. Cookbooks say "oven door"
            and "cookies", never "door hinge" or "browser cookies". Leave one out for
            cooking prompts, as for the unknown-word share. 0: no such feature.
        known_min_texts
            For the unknown-word and unknown-pair shares: a word (a word pair) is known when
            at least this many cooking texts and cooking prompts have it. With 2, a word a
            single recipe happens to use ("the oven door") stays unknown.
        embedding_scale, embedding_model
            With ``embedding_scale`` > 0, the classifier also gets ``embedding_scale`` times
            the prompt's sentence embedding (``generation.embedding.embedder(embedding_model)``,
            ``DEFAULT_EMBEDDER`` when ""): what the prompt is about, in words no training
            prompt need have. The model is needed to score with the guard too. 0: no such feature.
        threshold_folds, groups
            See above; ``groups`` has one key per prompt (``None``: the prompt is its own
            group) and is only read with ``threshold_folds`` >= 2.

        Raises
        ------
        DataError
            Fewer than two prompts of each kind to train on.
        """
        if len(prompts) != len(labels):
            raise UsageError(f"{len(prompts)} prompts but {len(labels)} labels")
        if not 0 <= validation_fraction < 1:
            raise UsageError(f"validation_fraction must be in [0, 1), not {validation_fraction}")
        for name, scale in (("unknown_scale", unknown_scale), ("food_scale", food_scale),
                            ("everyday_scale", everyday_scale), ("everyday_margin", everyday_margin),
                            ("unknown_pair_scale", unknown_pair_scale), ("embedding_scale", embedding_scale)):
            if not (math.isfinite(scale) and scale >= 0):
                raise UsageError(f"{name} must be a finite number >= 0, not {scale}")
        embedding_model = _embedding_model(embedding_scale, embedding_model)
        if not (isinstance(known_min_texts, int) and known_min_texts >= 1):
            raise UsageError(f"known_min_texts must be an integer >= 1, not {known_min_texts!r}")
        if threshold_folds == 1 or threshold_folds < 0:
            raise UsageError(f"threshold_folds must be 0 or at least 2, not {threshold_folds}")
        pairs = [(p, bool(y)) for p, y in zip(prompts, labels, strict=True)]
        made = list(generated) if generated is not None else [False] * len(pairs)
        if len(made) != len(pairs):
            raise UsageError(f"{len(pairs)} prompts but {len(made)} generated flags")
        keys = list(groups) if groups is not None else [None] * len(pairs)
        if len(keys) != len(pairs):
            raise UsageError(f"{len(pairs)} prompts but {len(keys)} groups")
        # what every fit below shares, worked out once: the words of the cooking texts, the
        # food words, and each prompt's features (a fold's fit analyzes the same prompts again)
        if everyday_scale and not word_frequencies:
            raise UsageError("everyday_scale needs word_frequencies (general English: word -> frequency)")
        text_words = ([words_of(text) for text in cooking_texts]
                      if unknown_scale or everyday_scale or unknown_pair_scale else [])
        cooking_counts = _in_how_many(text_words) if unknown_scale else Counter()
        cooking_pairs = _in_how_many(map(word_pairs, text_words)) if unknown_pair_scale else Counter()
        food = frozenset(w for text in food_texts for w in words_of(text)) if food_scale else frozenset()
        everyday = _Everyday(word_frequencies or {}, everyday_margin, text_words) if everyday_scale else None
        analyzed: dict[str, list[str]] = {}
        embedded: dict[str, np.ndarray] = {}
        if embedding_scale:
            unique = list(dict.fromkeys(p for p, _ in pairs))
            embedded = dict(zip(unique, embedder(embedding_model).embed(unique), strict=True))

        def analyzer(text: str) -> list[str]:
            found = analyzed.get(text)
            if found is None:
                found = analyzed[text] = analyze(text, settings)
            return found

        options: dict[str, Any] = {"generated_weight": generated_weight, "C": C, "min_df": min_df,
                                   "settings": settings, "analyzer": analyzer,
                                   "cooking_counts": cooking_counts, "unknown_scale": unknown_scale,
                                   "food": food, "food_scale": food_scale,
                                   "everyday": everyday, "everyday_scale": everyday_scale,
                                   "cooking_pairs": cooking_pairs, "unknown_pair_scale": unknown_pair_scale,
                                   "known_min_texts": known_min_texts, "embedded": embedded,
                                   "embedding_scale": embedding_scale, "embedding_model": embedding_model}
        if threshold_folds:
            fold = [-1 if g else int(split_key(k if k is not None else p) * threshold_folds)
                    for (p, _), g, k in zip(pairs, made, keys, strict=True)]
            scores: dict[int, float] = {}  # prompt index -> its score by the classifier of the other folds
            for k in range(threshold_folds):
                inside = [f != k for f in fold]
                train = [x for x, i in zip(pairs, inside, strict=True) if i]
                if all(inside) or not _trainable(train):
                    continue  # a fold without prompts, or too few left to train on (tiny data): unscored
                part, _, _ = cls._fit_classifier(train, [g for g, i in zip(made, inside, strict=True) if i],
                                                 **options)
                scores.update((j, part.score(pairs[j][0])) for j, f in enumerate(fold) if f == k)
            val = [pairs[j] for j in sorted(scores)]
            val_scores = [scores[j] for j in sorted(scores)]
            guard, known, kinds = cls._fit_classifier(pairs, made, **options)
            how: dict[str, Any] = {"threshold_folds": threshold_folds, "grouped": groups is not None}
        else:
            held = [split_key(p) < validation_fraction and not g
                    for (p, _), g in zip(pairs, made, strict=True)]
            train = [pair for pair, h in zip(pairs, held, strict=True) if not h]
            val = [pair for pair, h in zip(pairs, held, strict=True) if h]
            guard, known, kinds = cls._fit_classifier(
                train, [g for g, h in zip(made, held, strict=True) if not h], **options)
            val_scores = guard.scores([p for p, _ in val])
            how = {"validation_fraction": validation_fraction}
        if val:
            figures = {**choose_threshold(val_scores, [y for _, y in val]), **how}
            guard.threshold = figures["threshold"]
        else:
            figures = {"threshold": 0.5, "rule": "no validation prompts: 0.5"}
        guard.info = {
            **(info or {}),
            "train": {"cooking": kinds[True], "other": kinds[False]},
            "validation": figures,
            "classifier": {"C": C, "class_weight": "balanced", "min_df": min_df,
                           "generated_weight": generated_weight, "generated": sum(made),
                           "unknown_scale": unknown_scale, "known_words": known,
                           "cooking_texts": len(cooking_texts), "food_scale": food_scale,
                           "everyday_scale": everyday_scale, "everyday_margin": everyday_margin,
                           "everyday_words": len(guard.everyday_words),
                           "unknown_pair_scale": unknown_pair_scale, "known_pairs": len(guard.known_pairs),
                           "known_min_texts": known_min_texts, "embedding_scale": embedding_scale,
                           "embedding_model": embedding_model},
        }
        return guard

    @classmethod
    def _fit_classifier(cls, train: list[tuple[str, bool]], made: list[bool], *, generated_weight: float,
                        C: float, min_df: int, settings: AnalyzerSettings,
                        analyzer: Callable[[str], list[str]], cooking_counts: Counter[str],
                        unknown_scale: float, food: frozenset[str], food_scale: float,
                        everyday: _Everyday | None, everyday_scale: float,
                        cooking_pairs: Counter[str], unknown_pair_scale: float,
                        known_min_texts: int, embedded: Mapping[str, np.ndarray], embedding_scale: float,
                        embedding_model: str) -> tuple[DomainGuard, int, Counter[bool]]:
        """A guard (threshold 0.5) trained on ``train``, its number of known words, its class counts.

        ``cooking_counts``, ``cooking_pairs``: in how many cooking texts each word, each word
        pair is; ``food``: the food words; ``everyday``: the cooking texts' word counts
        against general English; ``known_min_texts``: in how many a word or pair must be to be known;
        ``embedded``: each prompt's sentence embedding (with ``embedding_scale`` > 0).
        """
        from recipe_schema import DataError

        kinds = Counter(y for _, y in train)
        if not _trainable(train):
            raise DataError(
                f"the guard needs at least two cooking and two other prompts to train on, got "
                f"{kinds[True]} and {kinds[False]}"
            )
        texts, ys = [p for p, _ in train], [y for _, y in train]
        weights = [generated_weight if g else 1.0 for g in made]
        words = [words_of(p) for p in texts]
        cooking = [w for w, y in zip(words, ys, strict=True) if y]
        known: Counter[str] = Counter()  # in how many cooking texts and prompts each word is
        columns = []
        if unknown_scale:
            known = cooking_counts + _in_how_many(cooking)
            columns.append([unknown_scale * _share(w, _unknown_to(known, w if y else (), known_min_texts))
                            for w, y in zip(words, ys, strict=True)])
        if food_scale:
            columns.append([food_scale * _share(w, food.__contains__) for w in words])
        everyday_words: frozenset[str] = frozenset()
        if everyday is not None:
            counts = everyday.with_prompts(cooking)
            everyday_words = counts.words()
            columns.append([everyday_scale * _share(w, counts.leaving_out(w if y else ()))
                            for w, y in zip(words, ys, strict=True)])
        known_pairs: Counter[str] = Counter()
        if unknown_pair_scale:
            pairs = [word_pairs(w) for w in words]
            known_pairs = cooking_pairs + _in_how_many(p for p, y in zip(pairs, ys, strict=True) if y)
            columns.append([
                unknown_pair_scale * _share(p, _unknown_to(known_pairs, p if y else (), known_min_texts))
                for p, y in zip(pairs, ys, strict=True)])
        extra: Any = np.asarray(columns, dtype=np.float64).T if columns else None
        if embedding_scale:
            vectors = embedding_scale * np.stack([embedded[p] for p in texts])
            extra = vectors if extra is None else np.hstack([extra, vectors])
        vectorizer, classifier = fit_sklearn(texts, ys, settings, C, min_df, weights, extra, analyzer)
        guard = cls.from_sklearn(vectorizer, classifier, settings=settings,
                                 known_words=_at_least(known, known_min_texts), unknown_scale=unknown_scale,
                                 food_words=food, food_scale=food_scale,
                                 everyday_words=everyday_words, everyday_scale=everyday_scale,
                                 known_pairs=_at_least(known_pairs, known_min_texts),
                                 unknown_pair_scale=unknown_pair_scale, embedding_scale=embedding_scale,
                                 embedding_model=embedding_model)
        return guard, len(guard.known_words), kinds

    @classmethod
    def from_sklearn(cls, vectorizer: Any, classifier: Any, threshold: float = 0.5,
                     settings: AnalyzerSettings = AnalyzerSettings(),
                     known_words: frozenset[str] = frozenset(), unknown_scale: float = 0.0,
                     food_words: frozenset[str] = frozenset(), food_scale: float = 0.0,
                     everyday_words: frozenset[str] = frozenset(), everyday_scale: float = 0.0,
                     known_pairs: frozenset[str] = frozenset(),
                     unknown_pair_scale: float = 0.0, embedding_scale: float = 0.0,
                     embedding_model: str = "") -> DomainGuard:
        """A guard from a fitted ``TfidfVectorizer(analyzer=...)`` and ``LogisticRegression``.

        The vectorizer must use ``analyze`` with ``settings`` as its analyzer, sublinear tf
        and the l2 norm (as ``fit_sklearn`` makes it); class 1 must mean cooking. With
        ``unknown_scale`` > 0 the classifier's first coefficient after the TF-IDF features is
        that of the column ``unknown_scale * unknown_share(prompt, known_words)``
        (``fit_sklearn``'s ``extra``);
        with ``food_scale`` > 0, the one after it is ``food_scale`` times the share of the
        prompt's words in ``food_words``; with ``everyday_scale`` > 0, the next is
        ``everyday_scale`` times the share in ``everyday_words``; with ``unknown_pair_scale``
        > 0, the next is ``unknown_pair_scale`` times the share of the prompt's
        ``word_pairs`` not in ``known_pairs``; with ``embedding_scale`` > 0, all the
        columns after these are ``embedding_scale`` times the prompt's embedding by
        ``embedding_model`` (``DEFAULT_EMBEDDER`` when "").
        """
        if not (vectorizer.sublinear_tf and vectorizer.norm == "l2" and vectorizer.use_idf):
            raise UsageError("the vectorizer must use idf, sublinear tf and the l2 norm")
        if list(classifier.classes_) != [0, 1]:
            raise UsageError(f"the classifier's classes must be [0, 1], not {list(classifier.classes_)}")
        features = [""] * len(vectorizer.vocabulary_)
        for feature, i in vectorizer.vocabulary_.items():
            features[i] = feature
        coef = classifier.coef_[0]
        embedding_model = _embedding_model(embedding_scale, embedding_model)
        dense = bool(unknown_scale) + bool(food_scale) + bool(everyday_scale) + bool(unknown_pair_scale)
        vector = len(coef) - len(features) - dense  # the embedding's columns
        if vector < 0 or bool(vector) != bool(embedding_scale):
            raise UsageError(f"the classifier has {len(coef) - len(features)} columns beyond the TF-IDF "
                             f"features, not {dense} (unknown-, food-, everyday-word and unknown-pair "
                             f"shares){' and an embedding' if embedding_scale else ''}")
        dense_coef = [float(c) for c in coef[len(features):len(features) + dense]]
        unknown_weight = dense_coef.pop(0) * unknown_scale if unknown_scale else 0.0
        food_weight = dense_coef.pop(0) * food_scale if food_scale else 0.0
        everyday_weight = dense_coef.pop(0) * everyday_scale if everyday_scale else 0.0
        unknown_pair_weight = dense_coef.pop(0) * unknown_pair_scale if unknown_pair_scale else 0.0
        return cls(features, vectorizer.idf_, coef[:len(features)], float(classifier.intercept_[0]),
                   threshold, settings, known_words=known_words if unknown_scale else frozenset(),
                   unknown_weight=unknown_weight, food_words=food_words if food_scale else frozenset(),
                   food_weight=food_weight, everyday_words=everyday_words if everyday_scale else frozenset(),
                   everyday_weight=everyday_weight,
                   known_pairs=known_pairs if unknown_pair_scale else frozenset(),
                   unknown_pair_weight=unknown_pair_weight, embedding_model=embedding_model,
                   embedding_weights=coef[len(features) + dense:] * embedding_scale)


def _embedding_model(scale: float, name: str) -> str:
    """The embedding model a fit at ``scale`` uses: ``name`` (``DEFAULT_EMBEDDER`` when ""); none at 0."""
    if name and not scale:
        raise UsageError("embedding_model needs embedding_scale > 0")
    return (name or DEFAULT_EMBEDDER) if scale else ""


def _dense_block(data: dict[str, Any], key: str, listed: str) -> tuple[frozenset[str], float]:
    """A dense feature's block of a guard file: its words (``listed``) and its weight; absent: none, 0."""
    block = data.get(key, {"weight": 0.0, listed: []})
    words, weight = block[listed], float(block["weight"])
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise ValueError(f"{key}.{listed} must be a list of strings")
    return frozenset(words), weight


def fit_sklearn(prompts: Sequence[str], labels: Sequence[bool],
                settings: AnalyzerSettings = AnalyzerSettings(), C: float = 10.0,
                min_df: int = 1, sample_weight: Sequence[float] | None = None,
                extra: Sequence[float] | Sequence[Sequence[float]] | None = None,
                analyzer: Callable[[str], list[str]] | None = None) -> tuple[Any, Any]:
    """The fitted scikit-learn ``(TfidfVectorizer, LogisticRegression)`` a guard is made from.

    ``extra``, one number (or one row of numbers) per prompt, is appended to the TF-IDF
    features as the last column(s). ``analyzer`` must give what ``analyze`` with
    ``settings`` gives (a memoized one, say); by default it is that.
    """
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise ImportError("training a guard needs scikit-learn: pip install 'souschef[train]'") from None

    def analyze_with_settings(text: str) -> list[str]:
        return analyze(text, settings)

    vectorizer = TfidfVectorizer(analyzer=analyzer or analyze_with_settings, sublinear_tf=True, norm="l2",
                                 min_df=min_df, dtype=np.float64)
    x = vectorizer.fit_transform(list(prompts))
    if extra is not None:
        from scipy.sparse import csr_matrix, hstack

        dense = np.asarray(extra, dtype=np.float64).reshape(len(prompts), -1)
        x = hstack([x, csr_matrix(dense)]).tocsr()
    y = np.asarray([int(bool(v)) for v in labels])
    classifier = LogisticRegression(C=C, class_weight="balanced", max_iter=5000)  # lbfgs: deterministic
    classifier.fit(x, y, sample_weight=None if sample_weight is None else np.asarray(sample_weight))
    return vectorizer, classifier


# The product's targets: share of off-domain prompts answered with a recipe, and of cooking
# prompts refused. The threshold trades one against the other relative to these.
TARGET_CONTAMINATION = 0.02
TARGET_FALSE_REFUSAL = 0.05


def choose_threshold(scores: Sequence[float], labels: Sequence[bool]) -> dict[str, Any]:
    """The threshold minimizing contamination/0.02 + false refusals/0.05 on held-out prompts.

    Each error rate is measured relative to its target, so that one off-domain prompt let
    through costs as much as 2.5 times its share of cooking prompts refused. Among the
    thresholds with the least cost (an interval between two scores), the middle of the
    widest such interval is taken, clipped to [0.05, 0.95]: the largest margin on both sides.

    >>> choose_threshold([0.1, 0.2, 0.7, 0.9], [False, False, True, True])["threshold"]
    0.45
    """
    cooking = sorted(s for s, y in zip(scores, labels, strict=True) if y)
    other = sorted(s for s, y in zip(scores, labels, strict=True) if not y)
    cuts = sorted({0.0, 1.0, *scores})
    best: tuple[float, float, float] | None = None  # (cost, -width, threshold)
    for lo, hi in zip(cuts, cuts[1:], strict=False):
        t = (lo + hi) / 2  # every threshold in (lo, hi] classifies alike
        refused = sum(s < t for s in cooking) / max(len(cooking), 1)
        passed = sum(s >= t for s in other) / max(len(other), 1)
        cost = passed / TARGET_CONTAMINATION + refused / TARGET_FALSE_REFUSAL
        candidate = (round(cost, 12), -(hi - lo), t)
        if best is None or candidate < best:
            best = candidate
    threshold = round(min(max(best[2] if best else 0.5, 0.05), 0.95), 6)
    return {
        "threshold": threshold,
        "rule": "min contamination/0.02 + false_refusal/0.05 on held-out prompts, widest interval's middle",
        "cooking": len(cooking),
        "other": len(other),
        "false_refusal": sum(s < threshold for s in cooking) / max(len(cooking), 1),
        "contamination": sum(s >= threshold for s in other) / max(len(other), 1),
    }


def _trainable(train: list[tuple[str, bool]]) -> bool:
    """Whether there are at least two prompts of each kind to train on."""
    kinds = Counter(y for _, y in train)
    return kinds[True] >= 2 and kinds[False] >= 2


def _in_how_many(texts: Iterable[Sequence[str]]) -> Counter[str]:
    """In how many of ``texts`` (each a sequence of words, or of word pairs) each one is."""
    counts: Counter[str] = Counter()
    for terms in texts:
        counts.update(set(terms))
    return counts


def _at_least(counts: Counter[str], least: int) -> frozenset[str]:
    """The words (pairs) in at least ``least`` texts: the known ones."""
    return frozenset(w for w, n in counts.items() if n >= least)


def _unknown_to(known: Counter[str], own: Sequence[str], least: int = 1) -> Callable[[str], bool]:
    """Whether a word is unknown (in fewer than ``least`` texts), leaving out one text counted in
    ``known`` whose words are ``own``."""
    mine = set(own)
    return lambda w: known[w] - (w in mine) < least


class _Everyday:
    """Word counts of cooking texts beside what general English would put there: everyday words.

    A word is everyday where ``count + 0.5 <= 10 ** -margin * (expected + 0.5)``, with
    ``expected = tokens * frequency``: the cooking texts use it at least ``10 ** margin``
    times less than English at large (``DomainGuard.fit``'s ``everyday_margin``).
    """

    def __init__(self, frequencies: Mapping[str, float], margin: float, texts: Sequence[Sequence[str]],
                 base: _Everyday | None = None) -> None:
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

    def with_prompts(self, prompts: Sequence[Sequence[str]]) -> _Everyday:
        """These counts plus the words of ``prompts`` (cooking prompts trained on)."""
        return _Everyday(self.frequencies, self.margin, prompts, base=self)

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


def _sigmoid(z: float) -> float:
    # exp overflows beyond ~709; both branches are exact where they are used
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
