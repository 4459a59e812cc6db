"""Training examples from files: load, report bad records, split train/validation.

``load_examples`` reads any mix of JSONL, CSV and JSON-LD files with the readers
training and evaluation share (``postprocess.formats``, ``postprocess.records``),
turns each record into an ``Example`` (recipes without a question
get one from ``prompts``) and reports every record it could not use as
``FILE:LINE: why``. ``split_examples`` holds out a fixed fraction of the distinct
answers for validation, chosen by the SHA-256 of the answer text: the split does not
depend on file order, and every phrasing of one recipe is on the same side.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from postprocess.formats import file_format
from postprocess.records import BadRecord, read_file
from recipe_schema import DataError, UsageError, answer_text, read_bytes
from recipe_schema.prompt import questions_for
from recipe_schema.recipe import Answer, Recipe, Reply

logger = logging.getLogger("souschef.training")


@dataclass
class Example:
    """One training example: a question and the answer the model should write."""

    prompt: str
    answer: Answer
    origin: str  # FILE:LINE of the record it came from
    metadata: dict[str, Any] = field(default_factory=dict)
    templated: bool = False  # the record had no prompt: this one was made from its title

    @cached_property
    def answer_text(self) -> str:
        """The exact text the model learns to write (compact JSON)."""
        return answer_text(self.answer)


@dataclass
class FileSummary:
    """What one file contributed."""

    path: str
    format: str
    sha256: str
    loaded: int = 0
    skipped: int = 0


@dataclass
class LoadReport:
    """Everything ``load_examples`` found.

    Attributes
    ----------
    examples
        The usable examples, in file order, duplicates removed.
    bad_records
        Every record that was skipped, as ``FILE:LINE: why``.
    notes
        Optional fields dropped from otherwise good records (``FILE:LINE: dropped ...``).
    files
        Per file: format, SHA-256 of its bytes, records loaded and skipped.
    duplicates
        Examples dropped because the same question and answer came earlier.
    """

    examples: list[Example] = field(default_factory=list)
    bad_records: list[BadRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: list[FileSummary] = field(default_factory=list)
    duplicates: int = 0

    @property
    def loaded(self) -> int:
        """Records turned into examples (before duplicates are removed)."""
        return sum(f.loaded for f in self.files)

    @property
    def skipped(self) -> int:
        """Records that could not be used."""
        return len(self.bad_records)


def default_data_files() -> list[str]:
    """The shipped corpus used when no data is given: recipes and exchanges.

    The held-out recipes (``corpus.HELDOUT``) are deliberately not included.
    """
    from souschef import corpus
    return [str(corpus.path(corpus.RECIPES)), str(corpus.path(corpus.EXCHANGES))]


def load_examples(paths: list[str], on_bad_record: str = "skip", questions_per_recipe: int = 1) -> LoadReport:
    """Read training files into examples.

    Parameters
    ----------
    paths
        Files to read (``.jsonl``/``.ndjson``, ``.csv``, ``.json``/``.jsonld``); empty
        means the shipped corpus (``default_data_files``).
    on_bad_record
        ``"skip"``: leave bad records out and list them in the report;
        ``"fail"``: raise ``DataError`` at the first one.
    questions_per_recipe
        How many templated questions a recipe without a prompt becomes.

    Returns
    -------
    LoadReport
        Examples, bad records, notes and per-file counts and hashes.

    Raises
    ------
    InputFileError
        A file is missing or unreadable (exit 2).
    UsageError
        An unknown file extension or ``on_bad_record`` value (exit 2).
    DataError
        A bad record under ``"fail"`` (exit 1).
    """
    if on_bad_record not in ("skip", "fail"):
        raise UsageError(f"on_bad_record: must be 'skip' or 'fail' (got {on_bad_record!r})")
    paths = list(paths) or default_data_files()
    for path in paths:
        file_format(path)  # unknown extensions fail before anything is read
    report = LoadReport()
    seen: set[tuple[str, str]] = set()
    for path in paths:
        payload = read_bytes(path)
        summary = FileSummary(path, file_format(path), hashlib.sha256(payload).hexdigest())
        report.files.append(summary)
        for line, converted in read_file(path, payload):
            where = f"{path}:{line}"
            if isinstance(converted, BadRecord):
                report.bad_records.append(converted)
                summary.skipped += 1
                if on_bad_record == "fail":
                    raise DataError(str(converted), report.bad_records) from None
                continue
            summary.loaded += 1
            report.notes.extend(f"{where}: {note}" for note in converted.notes)
            templated = converted.prompt is None
            if converted.prompt is not None:
                prompts = [converted.prompt]
            else:
                assert isinstance(converted.answer, Recipe)
                prompts = questions_for(converted.answer.title, questions_per_recipe)
            for prompt in prompts:
                example = Example(prompt, converted.answer, where, converted.metadata, templated)
                key = (prompt, example.answer_text)
                if key in seen:
                    report.duplicates += 1
                    continue
                seen.add(key)
                report.examples.append(example)
    return report


def mix_offdomain(report: LoadReport) -> None:
    """Add the shipped off-domain exchanges (reply answers) to a user's own data, in place."""
    seen = {(e.prompt, e.answer_text) for e in report.examples}
    shipped = load_examples(default_data_files()[1:])  # the exchanges file
    extra = [e for e in shipped.examples
             if isinstance(e.answer, Reply) and (e.prompt, e.answer_text) not in seen]
    report.examples.extend(extra)
    known = {f.sha256 for f in report.files}  # the user may have given the shipped file already
    report.files.extend(f for f in shipped.files if f.sha256 not in known)
    logger.info("added %d shipped off-domain exchanges (--no-mix-offdomain leaves them out)", len(extra))


def split_examples(examples: list[Example], eval_fraction: float) -> tuple[list[Example], list[Example]]:
    """Split into (train, validation) by the SHA-256 of each answer's text.

    An answer goes to validation when its hash, read as a fraction of 2**64, is
    below ``eval_fraction``. When that picks none but there are at least two distinct
    answers and ``eval_fraction > 0``, the answer with the smallest hash is held out,
    so that small data sets still get a validation loss.

    >>> from recipe_schema import Reply
    >>> ex = [Example(f"q{i}", Reply(reply=f"a{i}"), "x:1") for i in range(20)]
    >>> train, val = split_examples(ex, 0.25)
    >>> again = split_examples(list(reversed(ex)), 0.25)[1]
    >>> len(train) + len(val), sorted(e.prompt for e in val) == sorted(e.prompt for e in again)
    (20, True)
    """
    if eval_fraction <= 0:
        return list(examples), []
    keys = {e.answer_text: _fraction(e.answer_text) for e in examples}
    held = {text for text, f in keys.items() if f < eval_fraction}
    if not held and len(keys) >= 2:
        held = {min(keys, key=keys.__getitem__)}
    if held and len(held) == len(keys):  # never hold out everything
        held.discard(max(held, key=keys.__getitem__))
    train = [e for e in examples if e.answer_text not in held]
    val = [e for e in examples if e.answer_text in held]
    return train, val


def _fraction(text: str) -> float:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
