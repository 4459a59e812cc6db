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
have. Training uses scikit-learn (``DomainGuard.fit``, in ``fitting``); scoring does
not: the guard is a JSON file (features, idf, weights, intercept, threshold, analyzer
settings, the embedding's weights) scored here with numpy through ``features.analyze``,
the same function scikit-learn was given at fit time, so both compute the same probability.

A guard fitted for a model tuned from a pretrained base reads that model too
(``reads_model``): TF-IDF and the model's view of the prompt (``view``: the mean of one
block's hidden states over the prompt's own tokens, taken from the prompt pass generation
makes anyway), with no word shares and no embedding: where the model's judgment does the
work, they stopped paying (``experiments/guard_model.py``). Such a guard scores a prompt
with its view: ``score(prompt, view)``; ``RecipeGenerator`` passes it.

>>> guard = DomainGuard.default()
>>> guard.route("How do I make shakshuka?"), guard.route("How can I implement a binary search in Python?")
('recipe', 'reply')
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from recipe_schema import ModelLoadError, UsageError, atomic_write

from .features import AnalyzerSettings, content_words, ngrams, share, tokenize

if TYPE_CHECKING:
    from generation.embedding import Embedder

FORMAT = "souschef-domain-guard"
FORMAT_VERSION = 7  # 2 added the unknown-word feature, 3 the food-word one, 4 the everyday-word one,
# 5 the unknown-pair one (since removed: a file that uses it is refused), 6 the sentence embedding,
# 7 the model's view; older files still load
GUARD_FILE = "guard.json"  # the name in a model directory, and the shipped default's name


@dataclass(frozen=True)
class WordShare:
    """One word-share feature: where it lives in a guard file, on a ``DomainGuard`` and in a fit."""

    key: str     # its block in a guard file
    listed: str  # the key of its word list in that block
    words: str   # the ``DomainGuard`` attribute holding its words
    weight: str  # the ``DomainGuard`` attribute holding its coefficient
    scale: str   # the ``DomainGuard.fit`` option that turns it on (and scales its column)
    what: str    # what its words are called in errors


# The word-share features, in the order of their columns after the TF-IDF features in a fit
WORD_SHARES = (
    WordShare("unknown_words", "known", "known_words", "unknown_weight", "unknown_scale", "known words"),
    WordShare("food_words", "words", "food_words", "food_weight", "food_scale", "food words"),
    WordShare("everyday_words", "words", "everyday_words", "everyday_weight", "everyday_scale", "its words"),
)


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
    embedding_model, embedding_weights
        The name of a sentence-embedding model (``generation.embedding.embedder``) and the
        coefficients of the prompt's embedding ("": no such feature; scoring then needs no
        embedding model).
    view_layer, view_prefix, view_weights
        The model's view of the prompt (``generation.guard.view``): which block's output is
        read (from 1; 0: no such feature, and the guard needs no model), how many tokens of
        the prompt format's shared prefix are left out of its mean, and the coefficients
        of that mean (its offset folded into ``intercept``). Such a guard belongs to the
        model it was fitted for; scoring needs the view (``score(prompt, view)``), which
        ``RecipeGenerator`` takes from the prompt pass it makes anyway.
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
    embedding_model: str = ""
    embedding_weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    view_layer: int = 0
    view_prefix: int = 0
    view_weights: np.ndarray = field(default_factory=lambda: np.zeros(0))

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
        for feature in WORD_SHARES:
            setattr(self, feature.words, frozenset(getattr(self, feature.words)))
            value = getattr(self, feature.weight)
            if not math.isfinite(value) or (value and not getattr(self, feature.words)):
                raise ModelLoadError(f"guard: the {feature.key} weight must be finite and come with "
                                     f"{feature.what}")
        self.embedding_weights = np.asarray(self.embedding_weights, dtype=np.float64)
        if (self.embedding_weights.ndim != 1 or not np.isfinite(self.embedding_weights).all()
                or bool(self.embedding_model) != bool(self.embedding_weights.size)):
            raise ModelLoadError("guard: the embedding needs a model name and finite weights, or neither")
        if self.embedding_model:
            from generation.embedding import EMBEDDERS  # only a guard with an embedding needs it

            if self.embedding_model not in EMBEDDERS:
                raise ModelLoadError(f"guard: unknown embedding model {self.embedding_model!r} "
                                     f"(known: {', '.join(EMBEDDERS)})")
        self.view_weights = np.asarray(self.view_weights, dtype=np.float64)
        if (self.view_weights.ndim != 1 or not np.isfinite(self.view_weights).all()
                or bool(self.view_layer) != bool(self.view_weights.size)
                or not (isinstance(self.view_layer, int) and self.view_layer >= 0)
                or not (isinstance(self.view_prefix, int) and self.view_prefix >= 0)):
            raise ModelLoadError("guard: the model's view needs a layer >= 1, a prefix >= 0 and finite "
                                 "weights, or none of them")
        self._embedding: Embedder | None = None  # loaded at the first prompt scored

    @property
    def reads_model(self) -> bool:
        """Whether scoring needs the model's view of the prompt (``generation.guard.view``)."""
        return bool(self.view_layer)

    # ---------------------------------------------------------------- scoring
    def score(self, prompt: str, view: np.ndarray | None = None) -> float:
        """The probability that ``prompt`` is about cooking, in [0, 1].

        ``view``: the model's view of the prompt (``view.prompt_pass``), needed by a guard
        that ``reads_model`` and ignored by one that does not.
        """
        z, tokens = self.intercept, tokenize(prompt)  # normalized once for both kinds of feature
        if self.unknown_weight or self.food_weight or self.everyday_weight:
            words = content_words(tokens)
            z += self.unknown_weight * share(words, lambda w: w not in self.known_words)
            z += self.food_weight * share(words, self.food_words.__contains__)
            z += self.everyday_weight * share(words, self.everyday_words.__contains__)
        counts = Counter(i for i in map(self._index.get, ngrams(tokens, self.settings)) if i is not None)
        if counts:
            index = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))  # sublinear
            x = tf * self.idf[index]
            z += float(x @ self.weights[index]) / float(np.sqrt(x @ x))
        if self.embedding_model:
            z += float(self._embedder().embed([prompt])[0] @ self.embedding_weights)
        if self.view_layer:
            if view is None:
                raise UsageError("this guard reads the model's view of the prompt: score it through "
                                 "RecipeGenerator, or pass view= (generation.guard.view.prompt_pass)")
            if np.shape(view) != self.view_weights.shape:
                raise UsageError(f"the view has shape {np.shape(view)}, the guard reads "
                                 f"{self.view_weights.size} numbers")
            z += float(np.asarray(view, dtype=np.float64) @ self.view_weights)
        return _sigmoid(z)

    def _embedder(self) -> Embedder:
        """The embedding model the guard was trained with (loaded once per process, checked per guard)."""
        if self._embedding is None:
            from generation.embedding import embedder

            model = embedder(self.embedding_model)
            if model.dim != len(self.embedding_weights):
                raise ModelLoadError(f"guard: {len(self.embedding_weights)} embedding weights, but "
                                     f"{self.embedding_model} has {model.dim} dimensions")
            self._embedding = model
        return self._embedding

    def scores(self, prompts: Sequence[str], views: Sequence[np.ndarray] | None = None) -> list[float]:
        """``score`` of each prompt, in order (``views``: each one's view, for a guard reading the model)."""
        if views is None:
            return [self.score(p) for p in prompts]
        return [self.score(p, v) for p, v in zip(prompts, views, strict=True)]

    def is_cooking(self, prompt: str, view: np.ndarray | None = None) -> bool:
        """Whether ``prompt`` is about cooking (its score reaches the threshold)."""
        return self.score(prompt, view) >= self.threshold

    def mode_for(self, score: float) -> str:
        """The generation mode for a score: ``"recipe"`` or ``"reply"``."""
        return "recipe" if score >= self.threshold else "reply"

    def route(self, prompt: str, view: np.ndarray | None = None) -> str:
        """The generation mode for ``prompt``: ``"recipe"`` (cooking) or ``"reply"``."""
        return self.mode_for(self.score(prompt, view))

    # ---------------------------------------------------------------- training (scikit-learn)
    @classmethod
    def fit(cls, prompts: Sequence[str], labels: Sequence[bool], **options: Any) -> DomainGuard:
        """Train a guard and choose its threshold: ``generation.guard.fitting.fit`` (needs scikit-learn)."""
        from .fitting import fit

        return fit(prompts, labels, **options)

    @classmethod
    def from_sklearn(cls, vectorizer: Any, classifier: Any, **options: Any) -> DomainGuard:
        """A guard from fitted scikit-learn models: ``generation.guard.fitting.from_sklearn``."""
        from .fitting import from_sklearn

        return from_sklearn(vectorizer, classifier, **options)

    # ---------------------------------------------------------------- files
    @classmethod
    def default_path(cls) -> Path:
        """The guard shipped with souschef (package data ``generation/guard/guard.json``)."""
        return Path(str(resources.files("generation.guard").joinpath(GUARD_FILE)))

    @classmethod
    def default(cls) -> DomainGuard:
        """The guard shipped with souschef, trained on the shipped corpus."""
        return cls.load(cls.default_path())

    def to_dict(self) -> dict[str, Any]:
        data = {
            "format": FORMAT,
            # the oldest version that holds it: a guard without the view stays readable by releases before it
            "version": FORMAT_VERSION if self.view_layer else 6,
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
        for feature in WORD_SHARES:
            if getattr(self, feature.weight):
                data[feature.key] = {"weight": getattr(self, feature.weight),
                                     feature.listed: sorted(getattr(self, feature.words))}
        if self.embedding_model:
            data["embedding"] = {"model": self.embedding_model, "weights": self.embedding_weights.tolist()}
        if self.view_layer:
            data["model_view"] = {"layer": self.view_layer, "prefix": self.view_prefix,
                                  "weights": self.view_weights.tolist()}
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
            if float(data.get("unknown_pairs", {}).get("weight", 0.0)):  # a version 5 or 6 file may have one
                raise ModelLoadError("it uses the unknown-pair feature, which souschef no longer has: "
                                     "retrain the guard with `souschef train`")
            dense: dict[str, Any] = {}
            for feature in WORD_SHARES:
                dense[feature.words], dense[feature.weight] = _word_share_block(data, feature)
            embedding = data.get("embedding", {"model": "", "weights": []})
            if not isinstance(embedding["model"], str) or not isinstance(embedding["weights"], list):
                raise ValueError("embedding must name its model and list its weights")
            dense["embedding_model"] = embedding["model"]
            dense["embedding_weights"] = np.asarray(embedding["weights"], dtype=np.float64)
            view = data.get("model_view", {"layer": 0, "prefix": 0, "weights": []})
            numbers = [view[k] for k in ("layer", "prefix")]
            if not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers) or not isinstance(
                    view["weights"], list):
                raise ValueError("model_view must give its layer and prefix as integers and list its weights")
            dense["view_layer"], dense["view_prefix"] = view["layer"], view["prefix"]
            dense["view_weights"] = np.asarray(view["weights"], dtype=np.float64)
        except ModelLoadError:
            raise
        except (AttributeError, KeyError, TypeError, ValueError, UsageError) as e:
            what = f"missing {e}" if isinstance(e, KeyError) else str(e)
            raise ModelLoadError(f"malformed guard: {what}") from None
        return cls(features, idf, weights, intercept, threshold, settings, info, **dense)


def _word_share_block(data: dict[str, Any], feature: WordShare) -> tuple[frozenset[str], float]:
    """A word-share feature's block of a guard file: its words and its weight; absent: none, 0."""
    block = data.get(feature.key, {"weight": 0.0, feature.listed: []})
    words, weight = block[feature.listed], float(block["weight"])
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise ValueError(f"{feature.key}.{feature.listed} must be a list of strings")
    return frozenset(words), weight


def _sigmoid(z: float) -> float:
    # exp overflows beyond ~709; both branches are exact where they are used
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
