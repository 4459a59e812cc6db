"""The feedback store: durable, concurrent, and exported in the format training reads."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from recipe_schema import DataError, InputFileError, Recipe, Reply, UsageError, to_compact_json
from souschef.chat.feedback import (
    FeedbackEvent,
    FeedbackStore,
    default_rejected_path,
    export_feedback,
    feedback_stats,
)

TOAST = Recipe(title="Toast", servings=2, ingredients=["2 slices bread", "1 tbsp butter"],
               steps=["Toast the bread.", "Butter it."])
REPLY = Reply(reply="I can only help with cooking.")


def event(answer_id: str = "a1", rating: str = "like", answer=TOAST, prompt: str = "Toast for two?",
          comment: str | None = None) -> FeedbackEvent:
    return FeedbackEvent(answer_id=answer_id, prompt=prompt, answer=answer, model_id="sha256:test",
                         rating=rating, comment=comment, settings={"temperature": 0.0, "seed": 0})


def rows(db: Path) -> list[dict]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM feedback ORDER BY id")]


def test_record_stores_one_row_per_event_with_everything_training_needs(tmp_path):
    store = FeedbackStore(tmp_path / "f.db")
    first = store.record(event(comment="  crisp!  "))
    second = store.record(event("a2", "dislike", REPLY, prompt="What is Rust?"))
    got = rows(tmp_path / "f.db")
    assert [r["id"] for r in got] == [first, second]
    assert got[0] | {"created_at": None} == {
        "id": first, "created_at": None, "answer_id": "a1", "prompt": "Toast for two?",
        "answer": to_compact_json(TOAST), "is_recipe": 1, "model_id": "sha256:test", "rating": "like",
        "comment": "crisp!", "settings": '{"seed": 0, "temperature": 0.0}'}
    assert got[0]["created_at"].endswith("Z") and got[0]["created_at"] <= got[1]["created_at"]
    assert (got[1]["is_recipe"], got[1]["rating"], got[1]["comment"]) == (0, "dislike", None)


def test_database_is_in_wal_mode_and_marked_as_ours(tmp_path):
    FeedbackStore(tmp_path / "f.db")
    with sqlite3.connect(tmp_path / "f.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x53434846
    FeedbackStore(tmp_path / "f.db")  # opening again changes nothing


def test_unknown_rating_is_refused():
    with pytest.raises(UsageError, match="rating"):
        event(rating="meh")


def test_concurrent_writers_lose_nothing(tmp_path):
    db = tmp_path / "f.db"
    FeedbackStore(db)
    ids: list[int] = []
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        store = FeedbackStore(db)  # each its own store, as separate app processes would be
        try:
            for i in range(6):
                ids.append(store.record(event(f"w{worker}-{i}", comment=f"{worker}/{i}")))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    stored = rows(db)
    assert len(stored) == len(ids) == 60
    assert sorted(r["id"] for r in stored) == sorted(ids)
    assert {r["comment"] for r in stored} == {f"{w}/{i}" for w in range(10) for i in range(6)}


def test_an_acknowledged_event_survives_the_app_being_killed(tmp_path):
    db = tmp_path / "f.db"
    script = (
        "import os, signal, sys\n"
        "from souschef.chat.feedback import FeedbackEvent, FeedbackStore\n"
        "from recipe_schema import Reply\n"
        f"store = FeedbackStore({str(db)!r})\n"
        "row = store.record(FeedbackEvent('a1', 'q?', Reply(reply='r'), 'm', 'like'))\n"
        "print(row, flush=True)\n"  # the acknowledgement
        "os.kill(os.getpid(), signal.SIGKILL)\n"  # no clean shutdown, no close()
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == -9, done.stderr
    acknowledged = int(done.stdout.strip())
    assert [(r["id"], r["prompt"], r["rating"]) for r in rows(db)] == [(acknowledged, "q?", "like")]


def corrupt_index(db: Path) -> None:
    """A feedback database whose index page is garbage: SQLite itself still opens it."""
    store = FeedbackStore(db)
    for i in range(60):
        store.record(event(f"a{i}", prompt="Toast for two? " * 10))
    with sqlite3.connect(db) as conn:
        query = "SELECT rootpage FROM sqlite_master WHERE name='feedback_by_answer'"
        root = conn.execute(query).fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(db.read_bytes())
    data[(root - 1) * size + 8:(root - 1) * size + 60] = b"\xff" * 52
    db.write_bytes(bytes(data))


@pytest.mark.parametrize("read_only", [False, True])
@pytest.mark.parametrize("make, error, message", [
    (lambda p: None, InputFileError, "no such file"),
    (lambda p: p.mkdir(), InputFileError, "is a directory"),
    (lambda p: p.write_bytes(b"not a database at all" * 100), DataError, "not a usable feedback database"),
    (lambda p: sqlite3.connect(p).execute("CREATE TABLE x (y)").connection.commit(), DataError,
     "not a souschef feedback database"),
    (corrupt_index, DataError, r"the feedback database is corrupt \(SQLite quick_check: On tree page"),
])
def test_unusable_database_is_a_clear_error(tmp_path, make, error, message, read_only):
    db = tmp_path / "f.db"
    make(db)
    with pytest.raises(error, match=message):
        FeedbackStore(db, create=False, read_only=read_only)


def test_reading_a_database_writes_nothing_and_an_empty_file_stays_empty(tmp_path):
    db = tmp_path / "f.db"
    FeedbackStore(db).record(event())
    before = db.read_bytes()
    feedback_stats(db)
    export_feedback(db, tmp_path / "out.jsonl")
    assert db.read_bytes() == before
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(DataError, match=r"not a souschef feedback database \(an empty file\)"):
        feedback_stats(empty)
    with pytest.raises(DataError, match="an empty file"):
        export_feedback(empty, tmp_path / "e.jsonl")
    assert empty.stat().st_size == 0 and not (tmp_path / "e.jsonl").exists()


@pytest.fixture
def read_only_mount(tmp_path):
    """A folder mounted read-only (root and mount(8) needed: skipped elsewhere)."""
    import os
    import shutil

    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("a read-only mount needs root")
    source, mounted = tmp_path / "source", tmp_path / "ro"
    source.mkdir()
    mounted.mkdir()
    if subprocess.run(["mount", "--bind", str(source), str(mounted)], capture_output=True).returncode:
        pytest.skip("mount is not permitted here")
    try:
        if subprocess.run(["mount", "-o", "remount,bind,ro", str(mounted)], capture_output=True).returncode:
            pytest.skip("a read-only remount is not permitted here")
        yield source, mounted
    finally:
        subprocess.run(["umount", str(mounted)], capture_output=True)


def test_stats_and_export_read_a_database_on_a_read_only_mount(read_only_mount, tmp_path):
    source, mounted = read_only_mount
    store = FeedbackStore(source / "f.db")
    store.record(event("a1", "like"))
    store.record(event("a2", "dislike", REPLY, prompt="Tax advice?"))
    assert feedback_stats(mounted / "f.db")["events"] == 2
    summary = export_feedback(mounted / "f.db", tmp_path / "out.jsonl")
    assert (summary.liked, summary.rejected) == (1, 1)


def test_a_comment_is_capped(tmp_path):
    FeedbackStore(tmp_path / "f.db").record(event(comment="x" * 2000))
    with pytest.raises(UsageError, match=r"comment is too long \(2000001 characters; the limit is 2000\)"):
        event(comment="x" * 2_000_001)


def test_a_missing_directory_is_refused(tmp_path):
    with pytest.raises(InputFileError, match="directory does not exist"):
        FeedbackStore(tmp_path / "nope" / "f.db")


# ------------------------------------------------------------------ export
def test_export_writes_liked_answers_that_training_loads(tmp_path):
    from souschef.training.data import load_examples

    db = tmp_path / "f.db"
    store = FeedbackStore(db)
    store.record(event("a1", "like", TOAST))
    store.record(event("a2", "like", REPLY, prompt="Who won the 1998 World Cup?"))
    store.record(event("a3", "dislike", TOAST, prompt="Toast for one?", comment="wrong servings"))
    summary = export_feedback(db, tmp_path / "liked.jsonl")
    assert (summary.liked, summary.rejected, summary.invalid) == (2, 1, [])
    lines = [json.loads(line) for line in (tmp_path / "liked.jsonl").read_text().splitlines()]
    assert lines == [{"prompt": "Toast for two?", "answer": json.loads(to_compact_json(TOAST))},
                     {"prompt": "Who won the 1998 World Cup?", "answer": {"reply": REPLY.reply}}]
    report = load_examples([str(tmp_path / "liked.jsonl")])
    assert report.bad_records == []
    assert [(e.prompt, e.answer) for e in report.examples] == [("Toast for two?", TOAST),
                                                               ("Who won the 1998 World Cup?", REPLY)]
    rejected = [json.loads(line) for line in (tmp_path / "liked.rejected.jsonl").read_text().splitlines()]
    assert [(r["prompt"], r["comment"], r["model_id"]) for r in rejected] == [
        ("Toast for one?", "wrong servings", "sha256:test")]


def test_export_lets_the_latest_rating_of_an_answer_decide(tmp_path):
    db = tmp_path / "f.db"
    store = FeedbackStore(db)
    for answer_id, ratings in {"changed-mind": ["like", "dislike"], "undone": ["like", "cleared"],
                               "won-over": ["dislike", "like"]}.items():
        for rating in ratings:
            store.record(event(answer_id, rating, prompt=answer_id))
    summary = export_feedback(db, tmp_path / "out.jsonl", tmp_path / "review.jsonl")
    def prompts(name):
        return [json.loads(x)["prompt"] for x in (tmp_path / name).read_text().splitlines()]

    assert prompts("out.jsonl") == ["won-over"] and prompts("review.jsonl") == ["changed-mind"]
    assert (summary.liked, summary.rejected) == (1, 1)


def test_export_leaves_out_repeated_liked_answers(tmp_path):
    db = tmp_path / "f.db"
    store = FeedbackStore(db)
    store.record(event("a1"))
    store.record(event("a2"))  # the same prompt and answer, generated twice
    assert export_feedback(db, tmp_path / "out.jsonl").duplicates == 1
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 1


def test_export_skips_and_reports_an_answer_that_no_longer_validates(tmp_path):
    db = tmp_path / "f.db"
    FeedbackStore(db).record(event("a1"))
    FeedbackStore(db).record(event("a2", prompt="other"))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE feedback SET answer = '{\"title\": \"x\"}' WHERE answer_id = 'a2'")
    summary = export_feedback(db, tmp_path / "out.jsonl")
    assert summary.liked == 1 and len(summary.invalid) == 1 and summary.invalid[0].startswith("row 2:")


def test_export_refuses_a_file_training_could_not_read(tmp_path):
    FeedbackStore(tmp_path / "f.db")
    with pytest.raises(UsageError, match=".jsonl"):
        export_feedback(tmp_path / "f.db", tmp_path / "liked.csv")
    with pytest.raises(UsageError, match="out and rejected are one file"):
        export_feedback(tmp_path / "f.db", tmp_path / "a.jsonl", tmp_path / "a.jsonl")


def test_rejected_file_defaults_to_next_to_the_export():
    assert default_rejected_path("data/liked.jsonl") == Path("data/liked.rejected.jsonl")


def test_stats_count_answers_by_their_latest_rating(tmp_path):
    db = tmp_path / "f.db"
    store = FeedbackStore(db)
    store.record(event("a1", "dislike"))
    store.record(event("a1", "like", comment="better on a second look"))
    store.record(event("a2", "like", REPLY))
    store.record(event("a3", "dislike"))
    stats = feedback_stats(db)
    assert {k: stats[k] for k in ("events", "answers", "liked", "disliked", "cleared", "liked_recipes",
                                  "liked_replies", "with_comment")} == {
        "events": 4, "answers": 3, "liked": 2, "disliked": 1, "cleared": 0, "liked_recipes": 1,
        "liked_replies": 1, "with_comment": 1}
    assert stats["models"] == {"sha256:test": {"liked": 2, "disliked": 1}}


# --------------------------------------------------------------------- CLI
@pytest.fixture
def db_with_feedback(tmp_path) -> Path:
    db = tmp_path / "f.db"
    store = FeedbackStore(db)
    store.record(event("a1", "like"))
    store.record(event("a2", "dislike", REPLY, prompt="Tax advice?"))
    return db


def test_cli_export_writes_both_files(cli, db_with_feedback, tmp_path):
    code, out, err = cli(["feedback", "export", "--db", str(db_with_feedback), "--out",
                          str(tmp_path / "x.jsonl")])
    assert (code, out) == (0, "")
    assert "1 liked" in err and "1 disliked" in err
    assert len((tmp_path / "x.jsonl").read_text().splitlines()) == 1
    assert len((tmp_path / "x.rejected.jsonl").read_text().splitlines()) == 1


def test_cli_stats_json_is_machine_readable(cli, db_with_feedback):
    code, out, err = cli(["feedback", "stats", "--db", str(db_with_feedback), "--json"])
    assert code == 0 and err == ""
    stats = json.loads(out)
    assert (stats["events"], stats["liked"], stats["disliked"]) == (2, 1, 1)


def test_cli_stats_text(cli, db_with_feedback):
    code, out, _ = cli(["feedback", "stats", "--db", str(db_with_feedback)])
    assert code == 0
    lines = {line.split("  ")[0]: line.split("  ")[-1].strip() for line in out.splitlines()}
    assert lines["liked"] == "1 (1 recipes, 0 replies)" and lines["disliked"] == "1"
    assert lines["model sha256:test"] == "1 liked, 1 disliked"


@pytest.mark.parametrize("args, code, message", [
    (["feedback", "stats", "--db", "{tmp}/missing.db"], 2, "missing.db: no such file"),
    (["feedback", "export", "--db", "{tmp}/missing.db", "--out", "{tmp}/o.jsonl"], 2, "no such file"),
    (["feedback", "stats", "--db", "{tmp}/corrupt.db"], 1, "not a usable feedback database"),
    (["feedback", "export", "--db", "{tmp}/corrupt.db", "--out", "{tmp}/o.jsonl"], 1, "not a usable"),
    (["feedback", "stats", "--db", "{tmp}/index.db"], 1, "the feedback database is corrupt"),
    (["feedback", "export", "--db", "{tmp}/index.db", "--out", "{tmp}/o.jsonl"], 1, "is corrupt"),
    (["chat", "--model", "{tmp}/no-model", "--feedback-db", "{tmp}/index.db", "--port", "{port}"], 1,
     "is corrupt"),
    (["feedback", "stats", "--db", "{tmp}/empty.db"], 1, "not a souschef feedback database (an empty file)"),
    (["feedback", "export", "--db", "{tmp}/empty.db", "--out", "{tmp}/o.jsonl"], 1, "(an empty file)"),
    (["feedback", "export", "--db", "{tmp}/f.db", "--out", "{tmp}/o.txt"], 2, "must be a .jsonl file"),
    (["feedback", "export", "--db", "{tmp}/f.db", "--out", "{tmp}/no-dir/o.jsonl"], 2, "directory does not"),
    (["feedback", "stats"], 2, "--db"),
    (["feedback"], 2, "ACTION"),
    (["chat", "--port", "70000"], 2, "must be from 1 to 65535"),  # checked before any model loads
    (["chat", "--model", "x", "--port", "0"], 2, "must be from 1 to 65535"),
    (["chat", "--model", "{tmp}/no-model", "--feedback-db", "{tmp}/no-dir/f.db"], 2, "directory does not"),
    (["chat", "--model", "{tmp}/no-model", "--host", "999.1.1.1", "--feedback-db", "{tmp}/f2.db"], 2,
     "cannot serve on 999.1.1.1:7860: unknown host"),
    (["chat", "--model", "{tmp}/no-model", "--host", "192.0.2.1", "--feedback-db", "{tmp}/f2.db"], 2,
     "cannot serve on 192.0.2.1:7860: Cannot assign"),  # an address of another machine
])
def test_cli_errors_are_one_line_with_the_house_exit_codes(cli, tmp_path, db_with_feedback, args, code,
                                                           message):
    (tmp_path / "corrupt.db").write_bytes(b"\x00garbage" * 512)
    corrupt_index(tmp_path / "index.db")
    (tmp_path / "empty.db").touch()
    from tests.souschef.chat.conftest import free_port

    port = str(free_port())
    got, out, err = cli([a.replace("{tmp}", str(tmp_path)).replace("{port}", port) for a in args])
    assert got == code
    assert message in err and out == ""
    assert len(err.strip().splitlines()) == 1 or err.startswith("usage:")
    assert not (tmp_path / "o.jsonl").exists() and not (tmp_path / "f2.db").exists()  # nothing written


def test_cli_chat_with_a_missing_model_fails_before_serving(cli, tmp_path):
    pytest.importorskip("gradio")
    model, db = str(tmp_path / "no-model"), str(tmp_path / "f.db")
    code, _, err = cli(["chat", "--model", model, "--feedback-db", db])
    assert code == 2 and "cannot load model" in err


def test_cli_chat_on_a_port_in_use_is_one_line_before_the_model_loads(cli, tmp_path):
    import socket

    pytest.importorskip("gradio")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = cli(["chat", "--model", str(tmp_path / "no-model"), "--port", str(port),
                              "--feedback-db", str(tmp_path / "f.db")])
    assert (code, out) == (2, "")
    assert err == f"souschef: error: cannot serve on 127.0.0.1:{port}: Address already in use\n"  # no banner
