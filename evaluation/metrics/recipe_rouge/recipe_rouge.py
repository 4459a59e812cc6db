r"""recipe_rouge: ROUGE F1 of generated recipes against references, as an ``evaluate`` metric.

``rouge_score``'s scorer with Porter stemming, on a tokenizer that keeps non-ASCII
words (the default one turns "jalapeño" into "jalape o" and drops Chinese or
Cyrillic text entirely). The metric gives exact means and a seeded bootstrap 95%
interval; the per-sample scores come from ``per_sample_scores``, which the metric
uses, and ``aggregate`` turns them into the metric's output.

>>> scores = per_sample_scores(["the cat sat"], ["the cat sat on the mat"])
>>> round(scores["rouge1"][0], 4), round(scores["rouge2"][0], 4)
(0.6667, 0.5714)
"""
from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import datasets
import evaluate
from rouge_score import rouge_scorer, tokenizers

from evaluation.intervals import aggregate  # the bootstrap every mean in the suite shares

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")

_CITATION = """\
@inproceedings{lin-2004-rouge,
    title = "{ROUGE}: A Package for Automatic Evaluation of Summaries",
    author = "Lin, Chin-Yew",
    booktitle = "Text Summarization Branches Out",
    year = "2004",
    address = "Barcelona, Spain",
    publisher = "Association for Computational Linguistics",
    url = "https://aclanthology.org/W04-1013",
    pages = "74--81",
}
"""

_DESCRIPTION = """\
ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum F1 of generated recipe text against
reference recipe text (one reference per prediction), as fractions in [0, 1]: the
exact mean over the samples and a percentile bootstrap 95% interval, seeded with
numpy's default_rng(seed) (never numpy's global seed). Scored by rouge_score with
Porter stemming, on a tokenizer that keeps non-ASCII words: NFKC, casefold, Unicode
letter/digit runs, one token per CJK character, stemming of ASCII tokens longer
than 3 characters as rouge_score does. ROUGE-Lsum splits texts at newlines: join
steps or ingredient lines with "\\n" (recipe_fields does).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of str): generated texts, one per sample.
    references (list of str): the reference text of each sample.
    bootstrap_samples (int): bootstrap resamples for the intervals (default 1000;
        0 leaves the interval keys out).
    seed (int): seed of numpy's default_rng for the bootstrap (default 0).
    use_aggregator (bool): False returns each sample's F1 instead (lists), as
        evaluate's rouge does (default True).
Returns:
    rouge1, rouge2, rougeL, rougeLsum (float): mean F1 over the samples, in [0, 1]
        (with use_aggregator=False: a list of per-sample F1s each, and nothing else).
    rouge1_low, rouge1_high, ... (float): bootstrap 95% interval of each mean.
Examples:
    >>> from evaluation import load_metric
    >>> rouge = load_metric("recipe_rouge")
    >>> results = rouge.compute(predictions=["the cat sat", "crème brûlée"],
    ...                         references=["the cat sat on the mat", "crème brûlée"])
    >>> round(results["rouge1"], 4), results["rouge1_low"] <= results["rouge1"] <= results["rouge1_high"]
    (0.8333, True)
    >>> [round(s, 4) for s in rouge.per_sample_scores(["the cat sat"], ["the cat sat on the mat"])["rouge1"]]
    [0.6667]
"""

# Scripts written without spaces between words: one token per character.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"


@lru_cache(maxsize=1)
def _token_pattern() -> re.Pattern[str]:
    """A token: a CJK character, or a run of letters/digits; combining marks stay attached.

    ``[^\\W_]`` is a Unicode letter or digit; combining marks (categories Mn, Mc, Me,
    as in Devanagari vowel signs) are not ``\\w`` in Python, so they are added.
    """
    ranges: list[list[int]] = []
    for code in range(sys.maxunicode + 1):
        if unicodedata.category(chr(code))[0] == "M":
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    marks = "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "") for a, b in ranges)
    word = rf"(?![{_CJK}])[^\W_]"
    return re.compile(rf"[{_CJK}][{marks}]*|{word}(?:{word}|[{marks}])*")


class UnicodeTokenizer(tokenizers.Tokenizer):
    """rouge_score's tokenization, extended beyond ASCII.

    On ASCII text it gives exactly the tokens of rouge_score's ``DefaultTokenizer``
    (lower case, runs of ``[a-z0-9]``, Porter stemming of tokens longer than 3).
    Other text is NFKC-normalized and casefolded; runs of Unicode letters and
    digits are tokens, each CJK character is one; only ASCII tokens are stemmed.

    Parameters
    ----------
    use_stemmer
        Stem ASCII tokens longer than 3 characters with nltk's Porter stemmer.
    """

    def __init__(self, use_stemmer: bool = True):
        from nltk.stem import porter

        self._stemmer = porter.PorterStemmer() if use_stemmer else None

    def tokenize(self, text: str) -> list[str]:
        """Tokens of ``text``, in order."""
        text = unicodedata.normalize("NFKC", text).casefold()
        tokens = _token_pattern().findall(text)
        if self._stemmer is None:
            return tokens
        stem = self._stemmer.stem
        return [stem(t) if len(t) > 3 and t.isascii() else t for t in tokens]


@lru_cache(maxsize=1)
def _tokenizer() -> UnicodeTokenizer:
    return UnicodeTokenizer(use_stemmer=True)


@lru_cache(maxsize=1)
def _scorer() -> rouge_scorer.RougeScorer:
    # With a tokenizer given, rouge_score leaves stemming to it: use_stemmer=True is ours.
    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True, tokenizer=_tokenizer())


def tokenize(text: str) -> list[str]:
    """The tokens ROUGE compares, stemmed.

    >>> tokenize("Crème brûlée, baked!")
    ['crème', 'brûlée', 'bake']
    >>> tokenize("番茄炒蛋 борщ")
    ['番', '茄', '炒', '蛋', 'борщ']
    """
    return _tokenizer().tokenize(text)


def _lines(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "\n".join(str(v) for v in value)
    return str(value)


def recipe_fields(recipe: Mapping[str, Any] | Any) -> dict[str, str]:
    r"""The texts ROUGE compares for a recipe: ``steps``, ``ingredients`` and the whole ``recipe``.

    Parameters
    ----------
    recipe
        A recipe as a dict in the schema's shape, or a ``recipe_schema.Recipe``.
        It need not be valid: missing fields give empty text.

    Returns
    -------
    dict
        ``"steps"`` and ``"ingredients"``: the lines joined by newlines;
        ``"recipe"``: every present field in the schema's order, one line per list
        item (title, description, metadata, ingredients, steps).

    >>> fields = recipe_fields({"title": "Toast", "ingredients": ["2 slices bread"],
    ...                         "steps": ["Toast the bread.", "Butter it."]})
    >>> fields["steps"]
    'Toast the bread.\nButter it.'
    >>> fields["recipe"]
    'Toast\n2 slices bread\nToast the bread.\nButter it.'
    """
    from recipe_schema import Recipe

    data = recipe.model_dump(exclude_none=True) if hasattr(recipe, "model_dump") else dict(recipe)
    parts = [_lines(data.get(name)) for name in Recipe.model_fields]
    return {
        "steps": _lines(data.get("steps")),
        "ingredients": _lines(data.get("ingredients")),
        "recipe": "\n".join(p for p in parts if p),
    }


def per_sample_scores(predictions: Sequence[str], references: Sequence[str]) -> dict[str, list[float]]:
    """F1 of each ROUGE type for each (prediction, reference) pair.

    Parameters
    ----------
    predictions, references
        Texts of equal length; ``references[i]`` is the reference of ``predictions[i]``.

    Returns
    -------
    dict
        ``{"rouge1": [...], "rouge2": [...], "rougeL": [...], "rougeLsum": [...]}``,
        fractions in [0, 1]; an empty text scores 0.

    Raises
    ------
    ValueError
        When the lengths differ.
    """
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    scorer = _scorer()
    scores: dict[str, list[float]] = {t: [] for t in ROUGE_TYPES}
    for prediction, reference in zip(predictions, references, strict=True):
        result = scorer.score(reference or "", prediction or "")  # (target, prediction)
        for t in ROUGE_TYPES:
            scores[t].append(float(result[t].fmeasure))
    return scores


class RecipeRouge(evaluate.Metric):
    """ROUGE-1/2/L/Lsum F1 of recipe texts: exact means and seeded bootstrap 95% intervals.

    The module's helpers are methods too: ``per_sample_scores``, ``aggregate``,
    ``recipe_fields`` and ``tokenize``.
    """

    per_sample_scores = staticmethod(per_sample_scores)
    aggregate = staticmethod(aggregate)
    recipe_fields = staticmethod(recipe_fields)
    tokenize = staticmethod(tokenize)

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
            codebase_urls=["https://github.com/google-research/google-research/tree/master/rouge"],
            reference_urls=["https://aclanthology.org/W04-1013"],
        )

    def _compute(
        self,
        predictions: Sequence[str],
        references: Sequence[str],
        bootstrap_samples: int = 1000,
        seed: int = 0,
        use_aggregator: bool = True,
    ) -> dict[str, Any]:
        scores = per_sample_scores(predictions, references)
        if not use_aggregator:  # as evaluate's own rouge: one score per sample
            return scores
        return aggregate(scores, bootstrap_samples, seed)
