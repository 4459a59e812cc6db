"""A running chat app over the tiny model, on 127.0.0.1, with its feedback database."""
from __future__ import annotations

import asyncio
import gc
import socket
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def feedback_rows(db: Path) -> list[dict]:
    """Every row, read the way an outsider would: a fresh connection."""
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM feedback ORDER BY id")]


@dataclass
class Served:
    url: str
    service: object  # chat.service.ChatService
    db: Path


@pytest.fixture(scope="module")
def served(tiny, tmp_path_factory):
    """The app as `souschef chat` serves it, answering recipes (mode="recipe": a random model
    then gives a recipe every time) within 96 tokens."""
    pytest.importorskip("gradio", reason="the ui extra is not installed (pip install 'souschef[ui]')")
    from souschef.chat.app import serve
    from souschef.chat.feedback import FeedbackStore
    from souschef.chat.service import ChatService

    _, generator = tiny
    db = tmp_path_factory.mktemp("feedback") / "feedback.db"
    service = ChatService(generator, FeedbackStore(db), max_total_tokens=96, mode="recipe")
    port = free_port()
    demo = serve(service, "127.0.0.1", port, block=False)
    yield Served(f"http://127.0.0.1:{port}/", service, db)
    demo.close(verbose=False)
    # gradio.utils.safe_get_lock sets a new event loop on this thread at each call and never
    # closes one; close the last and collect the rest now, while the test modules' warning
    # filters still apply, rather than at interpreter exit.
    asyncio.get_event_loop_policy().get_event_loop().close()
    asyncio.set_event_loop(None)
    gc.collect()
