"""The fresh test set is well formed, on new topics, and independent of every earlier set.

``fresh_offdomain.jsonl`` / ``fresh_cooking.jsonl`` were written after the guard's sets and
are scored once at the end. These tests never show an existing prompt in a failure message:
only the fresh prompt (or topic) that breaks a rule.
"""
import re
from collections import Counter
from itertools import combinations

from souschef import corpus

FRESH = [corpus.FRESH_OFFDOMAIN, corpus.FRESH_COOKING]
EXISTING_PROMPT_FILES = [corpus.EXCHANGES, corpus.GUARD_COOKING, corpus.GUARD_OFFDOMAIN,
                         corpus.EVAL_OFFDOMAIN, corpus.EVAL_INDOMAIN]
EXISTING_TOPIC_FILES = [corpus.EXCHANGES, corpus.GUARD_OFFDOMAIN, corpus.EVAL_OFFDOMAIN]


def words(text):
    return frozenset(re.findall(r"[a-z0-9']+", text.lower()))


def jaccard(a, b):
    union = a | b
    return len(a & b) / len(union) if union else 1.0


def fresh_rows():
    return [row for name in FRESH for row in corpus.rows(name)]


def test_every_fresh_row_is_a_prompt_and_a_topic_and_none_repeats():
    rows = fresh_rows()
    malformed = [row for row in rows if set(row) != {"prompt", "topic"}
                 or not isinstance(row["prompt"], str) or not row["prompt"].strip()
                 or not isinstance(row["topic"], str) or not row["topic"].strip()]
    assert not malformed, malformed
    counts = Counter(row["prompt"].strip().lower() for row in rows)
    repeated = sorted(prompt for prompt, n in counts.items() if n > 1)
    assert not repeated, repeated


def test_the_fresh_sets_are_as_large_and_as_broad_as_promised():
    offdomain, cooking = corpus.rows(corpus.FRESH_OFFDOMAIN), corpus.rows(corpus.FRESH_COOKING)
    per_topic = Counter(row["topic"] for row in offdomain)
    assert len(offdomain) >= 150
    assert len(per_topic) >= 15, sorted(per_topic)
    thin = {topic: n for topic, n in per_topic.items() if n < 8}
    assert not thin, thin
    assert "cooking" not in per_topic
    assert len(cooking) >= 80
    assert {row["topic"] for row in cooking} == {"cooking"}


def test_no_fresh_offdomain_topic_is_a_topic_of_an_existing_set():
    existing = {row["topic"] for name in EXISTING_TOPIC_FILES for row in corpus.rows(name)}
    fresh = {row["topic"] for row in corpus.rows(corpus.FRESH_OFFDOMAIN)}
    assert not fresh & existing, sorted(fresh & existing)  # fresh topic names only


def test_no_fresh_prompt_is_close_to_an_existing_prompt():
    existing = [words(row["prompt"]) for name in EXISTING_PROMPT_FILES for row in corpus.rows(name)]
    close = [row["prompt"] for row in fresh_rows()
             if any(jaccard(words(row["prompt"]), old) >= 0.5 for old in existing)]
    assert not close, close  # the fresh prompts only, never the existing ones they resemble


def test_no_two_fresh_prompts_are_near_duplicates():
    prompts = [row["prompt"] for row in fresh_rows()]
    pairs = [(a, b) for a, b in combinations(prompts, 2) if jaccard(words(a), words(b)) >= 0.7]
    assert not pairs, pairs
