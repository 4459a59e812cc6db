"""Fitting a ``DomainGuard`` with scikit-learn: its classifier, its word shares, its threshold.

Only training needs this module (and scikit-learn, imported by ``fit_sklearn`` when it
first fits); a fitted guard is a ``classifier.DomainGuard`` scored with numpy alone.
``DomainGuard.fit`` and ``DomainGuard.from_sklearn`` are ``fit`` and ``from_sklearn`` here.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from generation.embedding import DEFAULT_EMBEDDER, embedder
from generation.guard.classifier import WORD_SHARES, DomainGuard, WordShare
from generation.guard.features import AnalyzerSettings, analyze, share, split_key, words_of
from generation.guard.word_shares import (
    Everyday,
    WordShareFit,
    everyday_share_fit,
    food_share_fit,
    in_how_many,
    unknown_share_fit,
)
from recipe_schema import DataError, UsageError

# The product's targets: share of off-domain prompts answered with a recipe, and of cooking
# prompts refused. The threshold trades one against the other relative to these.
TARGET_CONTAMINATION = 0.02
TARGET_FALSE_REFUSAL = 0.05


def fit(prompts: Sequence[str], labels: Sequence[bool], *, validation_fraction: float = 0.2,
        generated: Sequence[bool] | None = None, generated_weight: float = 1.0, C: float = 10.0,
        min_df: int = 1, settings: AnalyzerSettings = AnalyzerSettings(),
        cooking_texts: Sequence[str] = (), unknown_scale: float = 0.0,
        food_texts: Sequence[str] = (), food_scale: float = 0.0,
        word_frequencies: Mapping[str, float] | None = None, everyday_scale: float = 0.0,
        everyday_margin: float = 1.0, embedding_scale: float = 0.0, embedding_model: str = "",
        threshold_folds: int = 0, groups: Sequence[str | None] | None = None,
        views: Mapping[str, np.ndarray] | None = None, view_scale: float = 0.0,
        view_layer: int = 0, view_prefix: int = 0, info: dict[str, Any] | None = None) -> DomainGuard:
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
    embedding_scale, embedding_model
        With ``embedding_scale`` > 0, the classifier also gets ``embedding_scale`` times
        the prompt's sentence embedding (``generation.embedding.embedder(embedding_model)``,
        ``DEFAULT_EMBEDDER`` when ""): what the prompt is about, in words no training
        prompt need have. The model is needed to score with the guard too. 0: no such feature.
    views, view_scale, view_layer, view_prefix
        With ``view_scale`` > 0, the classifier also gets ``view_scale`` times the model's
        view of each prompt (``views``: prompt -> ``generation.guard.view.prompt_views``'
        vector of block ``view_layer``, the first ``view_prefix`` tokens left out), each
        dimension standardized on the prompts trained on. The guard then reads the model:
        scoring needs the view. 0: no such feature.
    threshold_folds, groups
        See above; ``groups`` has one key per prompt (``None``: the prompt is its own
        group) and is only read with ``threshold_folds`` >= 2.
    info
        Recorded in the guard's ``info``, beside how it was trained.

    Raises
    ------
    DataError
        Fewer than two prompts of each kind to train on.
    UsageError
        An option out of range, or per-prompt lists of another length than ``prompts``.
    """
    if len(prompts) != len(labels):
        raise UsageError(f"{len(prompts)} prompts but {len(labels)} labels")
    if not 0 <= validation_fraction < 1:
        raise UsageError(f"validation_fraction must be in [0, 1), not {validation_fraction}")
    scales = {"unknown_scale": unknown_scale, "food_scale": food_scale, "everyday_scale": everyday_scale}
    for name, scale in (*scales.items(), ("everyday_margin", everyday_margin),
                        ("embedding_scale", embedding_scale), ("view_scale", view_scale)):
        if not (math.isfinite(scale) and scale >= 0):
            raise UsageError(f"{name} must be a finite number >= 0, not {scale}")
    embedding_model = _embedding_model(embedding_scale, embedding_model)
    if view_scale and not (views is not None and view_layer >= 1 and view_prefix >= 0):
        raise UsageError("view_scale needs views, a view_layer >= 1 and a view_prefix >= 0")
    missing = [p for p in prompts if view_scale and p not in (views or {})]
    if missing:
        raise UsageError(f"{len(missing)} prompts have no view, {missing[0]!r} the first")
    if threshold_folds == 1 or threshold_folds < 0:
        raise UsageError(f"threshold_folds must be 0 or at least 2, not {threshold_folds}")
    pairs = [(p, bool(y)) for p, y in zip(prompts, labels, strict=True)]
    made = list(generated) if generated is not None else [False] * len(pairs)
    if len(made) != len(pairs):
        raise UsageError(f"{len(pairs)} prompts but {len(made)} generated flags")
    keys = list(groups) if groups is not None else [None] * len(pairs)
    if len(keys) != len(pairs):
        raise UsageError(f"{len(pairs)} prompts but {len(keys)} groups")
    if everyday_scale and not word_frequencies:
        raise UsageError("everyday_scale needs word_frequencies (general English: word -> frequency)")
    # what every fit below shares, worked out once: the words of the cooking texts, each word
    # share's counts, and each prompt's features (a fold's fit analyzes the same prompts again)
    text_words = [words_of(text) for text in cooking_texts] if unknown_scale or everyday_scale else []
    word_share_fits: dict[str, Callable[[], WordShareFit]] = {
        "unknown_scale": lambda: unknown_share_fit(in_how_many(text_words)),
        "food_scale": lambda: food_share_fit(frozenset(w for text in food_texts for w in words_of(text))),
        "everyday_scale": lambda: everyday_share_fit(
            Everyday(word_frequencies or {}, everyday_margin, text_words)),
    }
    shares = [(f, scales[f.scale], word_share_fits[f.scale]()) for f in WORD_SHARES if scales[f.scale]]
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
                               "settings": settings, "analyzer": analyzer, "shares": shares,
                               "embedded": embedded, "embedding_scale": embedding_scale,
                               "embedding_model": embedding_model,
                               "view": (views or {}, view_scale, view_layer, view_prefix) if view_scale
                               else None}
    if threshold_folds:
        fold = [-1 if g else int(split_key(k if k is not None else p) * threshold_folds)
                for (p, _), g, k in zip(pairs, made, keys, strict=True)]
        scores: dict[int, float] = {}  # prompt index -> its score by the classifier of the other folds
        for k in range(threshold_folds):
            inside = [f != k for f in fold]
            train = [x for x, i in zip(pairs, inside, strict=True) if i]
            if all(inside) or not _trainable(train):
                continue  # a fold without prompts, or too few left to train on (tiny data): unscored
            part, _ = _fit_classifier(train, [g for g, i in zip(made, inside, strict=True) if i], **options)
            scores.update((j, part.score(pairs[j][0], (views or {}).get(pairs[j][0])))
                          for j, f in enumerate(fold) if f == k)
        val = [pairs[j] for j in sorted(scores)]
        val_scores = [scores[j] for j in sorted(scores)]
        guard, kinds = _fit_classifier(pairs, made, **options)
        how: dict[str, Any] = {"threshold_folds": threshold_folds, "grouped": groups is not None}
    else:
        held = [split_key(p) < validation_fraction and not g for (p, _), g in zip(pairs, made, strict=True)]
        train = [pair for pair, h in zip(pairs, held, strict=True) if not h]
        val = [pair for pair, h in zip(pairs, held, strict=True) if h]
        trained = [g for g, h in zip(made, held, strict=True) if not h]
        guard, kinds = _fit_classifier(train, trained, **options)
        val_scores = [guard.score(p, (views or {}).get(p)) for p, _ in val]
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
                       "unknown_scale": unknown_scale, "known_words": len(guard.known_words),
                       "cooking_texts": len(cooking_texts), "food_scale": food_scale,
                       "everyday_scale": everyday_scale, "everyday_margin": everyday_margin,
                       "everyday_words": len(guard.everyday_words), "embedding_scale": embedding_scale,
                       "embedding_model": embedding_model, "view_scale": view_scale,
                       "view_layer": view_layer},
    }
    return guard


def _fit_classifier(train: list[tuple[str, bool]], made: list[bool], *, generated_weight: float,
                    C: float, min_df: int, settings: AnalyzerSettings,
                    analyzer: Callable[[str], list[str]],
                    shares: Sequence[tuple[WordShare, float, WordShareFit]],
                    embedded: Mapping[str, np.ndarray], embedding_scale: float,
                    embedding_model: str, view: tuple[Mapping[str, np.ndarray], float, int, int] | None
                    ) -> tuple[DomainGuard, Counter[bool]]:
    """A guard (threshold 0.5) trained on ``train``, and its class counts.

    ``shares``: each word share used, its scale and its fit (in ``WORD_SHARES`` order, the
    order of their columns); ``embedded``: each prompt's sentence embedding (with
    ``embedding_scale`` > 0); ``view``: each prompt's view by the model, its scale, layer
    and prefix (``None``: no such feature).
    """
    kinds = Counter(y for _, y in train)
    if not _trainable(train):
        raise DataError(
            f"the guard needs at least two cooking and two other prompts to train on, got "
            f"{kinds[True]} and {kinds[False]}"
        )
    texts, ys = [p for p, _ in train], [y for _, y in train]
    weights = [generated_weight if g else 1.0 for g in made]
    words = [words_of(p) for p in texts]
    columns: list[list[float]] = []
    kept: dict[str, Any] = {}  # ``from_sklearn``'s word-share options: each one's words and scale
    for feature, scale, fitted in shares:
        kept[feature.words], counts = fitted(words, ys)
        kept[feature.scale] = scale
        columns.append([scale * share(w, counts(w, y)) for w, y in zip(words, ys, strict=True)])
    extra: Any = np.asarray(columns, dtype=np.float64).T if columns else None
    if embedding_scale:
        vectors = embedding_scale * np.stack([embedded[p] for p in texts])
        extra = vectors if extra is None else np.hstack([extra, vectors])
    if view is not None:  # standardized on these prompts, then folded back into raw weights below
        views, view_scale, view_layer, view_prefix = view
        raw = np.stack([np.asarray(views[p], dtype=np.float64) for p in texts])
        mean, spread = raw.mean(0), raw.std(0) + 1e-6
        columns_view = view_scale * (raw - mean) / spread
        extra = columns_view if extra is None else np.hstack([extra, columns_view])
    vectorizer, classifier = fit_sklearn(texts, ys, settings, C, min_df, weights, extra, analyzer)
    if view is not None:  # the view's columns are the last: take them off before from_sklearn reads the rest
        coef = classifier.coef_[0]
        view_weights = coef[-raw.shape[1]:] * view_scale / spread
        classifier.coef_ = coef[:-raw.shape[1]][None, :]
    guard = from_sklearn(vectorizer, classifier, settings=settings, embedding_scale=embedding_scale,
                         embedding_model=embedding_model, **kept)
    if view is not None:
        guard.intercept -= float(view_weights @ mean)
        guard.view_layer, guard.view_prefix, guard.view_weights = view_layer, view_prefix, view_weights
    return guard, kinds


def from_sklearn(vectorizer: Any, classifier: Any, threshold: float = 0.5,
                 settings: AnalyzerSettings = AnalyzerSettings(),
                 known_words: frozenset[str] = frozenset(), unknown_scale: float = 0.0,
                 food_words: frozenset[str] = frozenset(), food_scale: float = 0.0,
                 everyday_words: frozenset[str] = frozenset(), everyday_scale: float = 0.0,
                 embedding_scale: float = 0.0, embedding_model: str = "") -> DomainGuard:
    """A guard from a fitted ``TfidfVectorizer(analyzer=...)`` and ``LogisticRegression``.

    The vectorizer must use ``analyze`` with ``settings`` as its analyzer, sublinear tf
    and the l2 norm (as ``fit_sklearn`` makes it); class 1 must mean cooking. After the
    TF-IDF features come the classifier's coefficients of the word shares whose scale is
    > 0, in this order: ``unknown_scale * unknown_share(prompt, known_words)``,
    ``food_scale`` times the share of the prompt's words in ``food_words``,
    ``everyday_scale`` times the share in ``everyday_words`` (``fit_sklearn``'s ``extra``);
    with ``embedding_scale`` > 0, all the columns after these are ``embedding_scale``
    times the prompt's embedding by ``embedding_model`` (``DEFAULT_EMBEDDER`` when "").
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
    given: dict[str, Any] = {"known_words": known_words, "unknown_scale": unknown_scale,
                             "food_words": food_words, "food_scale": food_scale,
                             "everyday_words": everyday_words, "everyday_scale": everyday_scale}
    used = [f for f in WORD_SHARES if given[f.scale]]
    dense = len(features) + len(used)  # where the embedding's columns begin
    if len(coef) < dense or (len(coef) > dense) != bool(embedding_scale):
        raise UsageError(f"the classifier has {len(coef) - len(features)} columns beyond the TF-IDF "
                         f"features, not {len(used)} (unknown-, food- and everyday-word shares)"
                         f"{' and an embedding' if embedding_scale else ''}")
    word_shares: dict[str, Any] = {}
    for f, c in zip(used, coef[len(features):dense], strict=True):
        word_shares[f.words], word_shares[f.weight] = given[f.words], float(c) * given[f.scale]
    return DomainGuard(features, vectorizer.idf_, coef[:len(features)], float(classifier.intercept_[0]),
                       threshold, settings, embedding_model=embedding_model,
                       embedding_weights=coef[dense:] * embedding_scale, **word_shares)


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


def _embedding_model(scale: float, name: str) -> str:
    """The embedding model a fit at ``scale`` uses: ``name`` (``DEFAULT_EMBEDDER`` when ""); none at 0."""
    if name and not scale:
        raise UsageError("embedding_model needs embedding_scale > 0")
    return (name or DEFAULT_EMBEDDER) if scale else ""


def _trainable(train: list[tuple[str, bool]]) -> bool:
    """Whether there are at least two prompts of each kind to train on."""
    kinds = Counter(y for _, y in train)
    return kinds[True] >= 2 and kinds[False] >= 2
