"""The feedback store: likes and dislikes from the chat app, and their way back into training.

One SQLite table, one row per event (a like, a dislike, or a cleared rating of one
generated answer), carrying everything needed to use it without the app: the
prompt, the answer as compact JSON, whether it is a recipe, the model's identity,
the rating, an optional comment, the generation settings and the time.

Durability. The database is in WAL mode with ``synchronous=FULL``: ``record``
returns (and the app acknowledges) only after ``COMMIT``, and in WAL mode FULL
fsyncs the log at every commit, so an acknowledged event survives a crash of the
app *and* of the machine. ``NORMAL`` would survive an app crash too (the log is in
the OS page cache once ``COMMIT`` returns) but could lose the last events on power
loss; one fsync per click is cheap, so FULL it is. Writers open their own
connection and take the write lock with ``BEGIN IMMEDIATE``; SQLite serializes
them and ``timeout`` makes a waiting writer retry instead of failing, so
concurrent writers lose nothing.

Trust. Every open runs SQLite's ``quick_check`` (a pass over the file's pages): a
database that it finds malformed is refused (``DataError``, exit 1) instead of being read
or written in silence. ``export`` and ``stats`` open the file read-only (they work on a
read-only mount, and a 0-byte file stays a 0-byte file, refused as no feedback database).

Export. The latest event per answer decides: liked answers become training
exchanges in the corpus format ``souschef train --data`` reads
(``{"prompt": ..., "answer": {...}}`` per line), disliked ones go to a separate
file for review; a cleared rating exports nowhere.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recipe_schema import (
    Answer,
    DataError,
    InputFileError,
    Recipe,
    UsageError,
    atomic_write,
    parse_answer,
    refuse_overwriting_inputs,
    to_compact_json,
)
from recipe_schema.limits import MAX_COMMENT_CHARS, too_long

RATINGS = ("like", "dislike", "cleared")
APPLICATION_ID = 0x53434846  # "SCHF": marks a souschef feedback database (PRAGMA application_id)
SCHEMA_VERSION = 1  # PRAGMA user_version
WRITE_TIMEOUT_S = 30.0  # how long a writer waits for the write lock before giving up

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT    NOT NULL,                -- ISO 8601, UTC
    answer_id  TEXT    NOT NULL,                -- one generated answer; several events may rate it
    prompt     TEXT    NOT NULL,
    answer     TEXT    NOT NULL,                -- recipe_schema.to_compact_json(answer)
    is_recipe  INTEGER NOT NULL CHECK (is_recipe IN (0, 1)),
    model_id   TEXT    NOT NULL,
    rating     TEXT    NOT NULL CHECK (rating IN ('like', 'dislike', 'cleared')),
    comment    TEXT,
    settings   TEXT    NOT NULL DEFAULT '{}'    -- generation settings, JSON
);
CREATE INDEX IF NOT EXISTS feedback_by_answer ON feedback (answer_id, id);
"""


@dataclass(frozen=True)
class FeedbackEvent:
    """One rating of one generated answer."""

    answer_id: str
    prompt: str
    answer: Answer
    model_id: str
    rating: str  # one of RATINGS
    comment: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.rating not in RATINGS:
            raise UsageError(f"rating: must be one of {', '.join(RATINGS)} (got {self.rating!r})")
        if self.comment is not None and len(self.comment) > MAX_COMMENT_CHARS:
            raise UsageError(f"the comment is {too_long(len(self.comment), MAX_COMMENT_CHARS)}")


class FeedbackStore:
    """A feedback database on disk, created on first use.

    Parameters
    ----------
    path
        The SQLite file. Its directory must exist.
    create
        Create the database when the file is missing (the app); ``False`` makes a missing
        file an ``InputFileError``.
    read_only
        Only read (export, stats): the file is opened read-only, never created or
        initialized, and may lie on a read-only file system.

    Raises
    ------
    InputFileError
        The file is missing (``create=False``), a directory, or its directory is missing (exit 2).
    DataError
        The file is not a SQLite database, a database of something else, or one SQLite's
        ``quick_check`` finds malformed (exit 1).
    """

    def __init__(self, path: str | Path, create: bool = True, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        self._immutable = False  # read-only, and nobody can write it: SQLite need not share memory
        if self.path.is_dir():
            raise InputFileError(str(path), "is a directory")
        if not self.path.exists():
            if not create or read_only:
                raise InputFileError(str(path), "no such file")
            if not self.path.parent.is_dir():
                raise InputFileError(str(path), "directory does not exist")
        try:
            with self._connect() as conn:
                self._check_or_init(conn)
        except DataError:
            if not self._on_read_only_file_system():
                raise
            self._immutable = True
            with self._connect() as conn:
                self._check_or_init(conn)

    # ------------------------------------------------------------- connections
    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A fresh connection (one per call: safe from any thread), closed afterwards."""
        try:
            if self.read_only:
                mode = "?mode=ro" + ("&immutable=1" if self._immutable else "")
                conn = sqlite3.connect(self.path.absolute().as_uri() + mode, uri=True,
                                       timeout=WRITE_TIMEOUT_S, isolation_level=None)
            else:
                conn = sqlite3.connect(self.path, timeout=WRITE_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as e:
            raise InputFileError(str(self.path), f"cannot open: {e}") from None
        try:
            if not self.read_only:
                conn.execute("PRAGMA synchronous=FULL")  # per connection: fsync the WAL at every commit
            yield conn
        except sqlite3.DatabaseError as e:
            raise DataError(f"{self.path}: not a usable feedback database ({e})") from None
        finally:
            conn.close()

    def _on_read_only_file_system(self) -> bool:
        """Whether a read-only open failed only because SQLite cannot create its ``-shm`` file here.

        Then the file can be read as immutable, unless its write-ahead log holds rows the
        main file lacks: those would be skipped, so that case stays refused.
        """
        if not self.read_only or self._immutable or os.access(self.path.parent, os.W_OK):
            return False
        wal = Path(f"{self.path}-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise InputFileError(str(self.path), "on a read-only file system with rows still in its "
                                 f"write-ahead log {wal.name}; copy both files somewhere writable")
        return True

    def _check_or_init(self, conn: sqlite3.Connection) -> None:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if app_id != APPLICATION_ID and tables - {"sqlite_sequence"}:
            raise DataError(f"{self.path}: not a souschef feedback database (it holds other tables)")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise DataError(f"{self.path}: feedback database version {version} is newer than this souschef")
        problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            first = " ".join(problems[0].split("\n")[-1].split())
            raise DataError(f"{self.path}: the feedback database is corrupt (SQLite quick_check: {first}); "
                            f"restore a backup, or recover its rows with: sqlite3 {self.path} .recover")
        if app_id == APPLICATION_ID and "feedback" in tables:
            return
        if self.read_only:
            what = "an empty file" if self.path.stat().st_size == 0 else "no feedback table"
            raise DataError(f"{self.path}: not a souschef feedback database ({what})")
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]  # persistent: stored in the file
        if mode != "wal":
            raise DataError(f"{self.path}: cannot use WAL mode here (journal mode stays {mode!r})")
        conn.executescript(f"BEGIN IMMEDIATE; {_SCHEMA}; PRAGMA application_id={APPLICATION_ID};"
                           f" PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")  # idempotent: racing apps agree

    # ----------------------------------------------------------------- writing
    def record(self, event: FeedbackEvent) -> int:
        """Store one event; returns its row id once it is committed (durably, see the module doc)."""
        row = (
            _now(), event.answer_id, event.prompt, to_compact_json(event.answer),
            int(isinstance(event.answer, Recipe)), event.model_id, event.rating,
            (event.comment or "").strip() or None, json.dumps(event.settings, sort_keys=True),
        )
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                cur = conn.execute(
                    "INSERT INTO feedback (created_at, answer_id, prompt, answer, is_recipe, model_id,"
                    " rating, comment, settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
        assert cur.lastrowid is not None
        return int(cur.lastrowid)

    # ----------------------------------------------------------------- reading
    def rows(self) -> list[dict[str, Any]]:
        """Every event, oldest first, as dicts with the table's column names."""
        with self._connect() as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute("SELECT * FROM feedback ORDER BY id")]

    def latest(self) -> list[dict[str, Any]]:
        """The latest event of each rated answer, in the order the answers were first rated."""
        by_answer: dict[str, dict[str, Any]] = {}
        for row in self.rows():
            by_answer[row["answer_id"]] = row  # a later event replaces, the answer keeps its place
        return list(by_answer.values())


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


# ------------------------------------------------------------------ export
@dataclass
class ExportSummary:
    """What ``export_feedback`` wrote."""

    liked_path: str
    rejected_path: str
    liked: int = 0  # training exchanges written
    rejected: int = 0  # disliked answers written for review
    duplicates: int = 0  # liked answers left out because the same prompt and answer came earlier
    invalid: list[str] = field(default_factory=list)  # "row N: why", for answers that no longer validate


def default_rejected_path(out: str | Path) -> Path:
    """``liked.jsonl`` -> ``liked.rejected.jsonl``, next to it."""
    out = Path(out)
    return out.with_name(f"{out.stem}.rejected{out.suffix or '.jsonl'}")


def export_feedback(db: str | Path, out: str | Path, rejected: str | Path | None = None) -> ExportSummary:
    """Write liked answers as training exchanges and disliked ones for review.

    The latest event per answer decides; each file is written atomically. ``out``
    holds one ``{"prompt": ..., "answer": {...}}`` per line, the format
    ``souschef train --data`` reads; ``rejected`` adds ``comment``, ``model_id``,
    ``created_at`` and ``feedback_id`` to each line.

    Raises
    ------
    UsageError
        ``out`` is not ``.jsonl``/``.ndjson`` (training reads files by extension), an output is the database
        (or its WAL), or both outputs are one file.
    InputFileError, DataError
        See ``FeedbackStore``.
    """
    out = Path(out)
    if out.suffix.lower() not in (".jsonl", ".ndjson"):
        raise UsageError(f"{out}: the export must be a .jsonl file (souschef train --data goes by extension)")
    rejected_path = Path(rejected) if rejected else default_rejected_path(out)
    # the database's WAL holds committed rows too: replacing it loses them
    refuse_overwriting_inputs({"out": out, "rejected": rejected_path},
                              {"db": [Path(f"{db}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")]})
    store = FeedbackStore(db, create=False, read_only=True)
    summary = ExportSummary(str(out), str(rejected_path))
    liked_lines: list[str] = []
    rejected_lines: list[str] = []
    seen: set[tuple[str, str]] = set()
    for row in store.latest():
        if row["rating"] == "cleared":
            continue
        try:
            answer = parse_answer(json.loads(row["answer"]))
        except ValueError as e:  # json and pydantic errors both are ValueErrors
            summary.invalid.append(f"row {row['id']}: {str(e).splitlines()[0]}")
            continue
        record: dict[str, Any] = {"prompt": row["prompt"], "answer": json.loads(to_compact_json(answer))}
        if row["rating"] == "dislike":
            record.update(comment=row["comment"], model_id=row["model_id"], created_at=row["created_at"],
                          feedback_id=row["id"])
            rejected_lines.append(json.dumps(record, ensure_ascii=False))
            continue
        key = (row["prompt"], to_compact_json(answer))
        if key in seen:
            summary.duplicates += 1
            continue
        seen.add(key)
        liked_lines.append(json.dumps(record, ensure_ascii=False))
    atomic_write(out, "".join(line + "\n" for line in liked_lines))
    atomic_write(rejected_path, "".join(line + "\n" for line in rejected_lines))
    summary.liked, summary.rejected = len(liked_lines), len(rejected_lines)
    return summary


# ------------------------------------------------------------------- stats
def feedback_stats(db: str | Path) -> dict[str, Any]:
    """Counts over a feedback database (a flat-ish dict, JSON-ready).

    ``liked``/``disliked``/``cleared`` count answers by their latest rating;
    ``events`` counts every click.
    """
    store = FeedbackStore(db, create=False, read_only=True)
    rows = store.rows()
    latest = store.latest()
    final = Counter(r["rating"] for r in latest)
    models: dict[str, Counter[str]] = {}
    for r in latest:
        models.setdefault(r["model_id"], Counter())[r["rating"]] += 1
    return {
        "db": str(db),
        "events": len(rows),
        "answers": len(latest),
        "liked": final["like"],
        "disliked": final["dislike"],
        "cleared": final["cleared"],
        "liked_recipes": sum(1 for r in latest if r["rating"] == "like" and r["is_recipe"]),
        "liked_replies": sum(1 for r in latest if r["rating"] == "like" and not r["is_recipe"]),
        "with_comment": sum(1 for r in latest if r["comment"]),
        "models": {m: {"liked": c["like"], "disliked": c["dislike"]} for m, c in sorted(models.items())},
        "first_event": rows[0]["created_at"] if rows else None,
        "last_event": rows[-1]["created_at"] if rows else None,
    }
