"""The chat app through its API (gradio_client) and its service, over the tiny model."""
from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from recipe_schema import Recipe, Reply, to_compact_json

# Gradio's own, none of ours: its queue computes analytics with pandas options pandas 3
# deprecates, and gradio.utils.safe_get_lock makes event loops it never closes (each with
# two AF_UNIX sockets).
GRADIO_WARNINGS = [
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
    pytest.mark.filterwarnings("ignore:unclosed event loop:ResourceWarning"),
    pytest.mark.filterwarnings("ignore:unclosed <socket.socket fd=\\d+, family=1:ResourceWarning"),
]
pytestmark = [pytest.mark.slow, *GRADIO_WARNINGS]

STEW = Recipe(title="Bean Stew", servings=4, ingredients=["400 g beans", "1 onion, chopped"],
              steps=["Soften the onion.", "Add the beans."])


def text(message: dict) -> str:
    """A chat message's text, whether Gradio gives it as a string or as content parts."""
    content = message["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def rows(db: Path) -> list[dict]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM feedback ORDER BY id")]


@pytest.fixture
def client(served):
    from gradio_client import Client

    return Client(served.url, verbose=False)


# ------------------------------------------------------------------ service
def test_ask_streams_the_answer_then_parses_it(tiny, tmp_path):
    from souschef.chat.feedback import FeedbackStore
    from souschef.chat.service import ChatService

    service = ChatService(tiny[1], FeedbackStore(tmp_path / "f.db"), max_total_tokens=64, mode="recipe")
    seen = [turn.text for turn in service.ask("s", "Lentil soup?", temperature=0)]
    assert seen[0] == "" and len(seen) > 10  # one piece at a time
    assert all(a == b[: len(a)] for a, b in zip(seen, seen[1:], strict=False))  # only ever growing
    turn = service.turns("s")[-1]
    assert isinstance(turn.answer, Recipe) and json.loads(seen[-1]) == json.loads(turn.text)
    assert service.messages("s")[1]["content"].startswith("# ")


def test_a_reply_shows_as_plain_text_without_a_download(tiny, tmp_path):
    from souschef.chat.display import plain_text
    from souschef.chat.feedback import FeedbackStore
    from souschef.chat.service import ChatService

    service = ChatService(tiny[1], FeedbackStore(tmp_path / "f.db"), max_total_tokens=48, mode="reply")
    list(service.ask("s", "What is a monad?"))
    answer = service.turns("s")[-1].answer
    assert isinstance(answer, Reply)
    assert service.messages("s")[1]["content"] == plain_text(answer.reply)
    assert service.download("s") is None
    saved = service.rate("s", 0, "like")
    assert saved["is_recipe"] is False and rows(tmp_path / "f.db")[0]["is_recipe"] == 0


# ---------------------------------------------------------------------- API
def test_respond_streams_then_shows_a_rendered_recipe_and_its_json(client, served):
    job = client.submit("How do I make pancakes?", 0.0, None, api_name="/respond")
    chat, download, box = job.result()
    outputs = job.outputs()
    assert text(outputs[0][0][-1]).startswith("```json")  # first the answer as it is written
    assert [m["role"] for m in chat] == ["user", "assistant"] and text(chat[0]) == "How do I make pancakes?"
    shown = text(chat[-1])
    assert shown.startswith("# ") and "## Ingredients" in shown and "## Steps" in shown
    assert box == ""  # the message box is cleared
    turn = served.service.turns(client.session_hash)[-1]
    assert download["visible"] is True
    assert Recipe.model_validate(json.loads(Path(download["value"]).read_text())) == turn.answer


def test_rate_stores_the_answer_the_model_gave(client, served):
    client.predict("Leek and potato soup?", 0.0, None, api_name="/respond")
    saved = client.predict(-1, "like", "lovely", api_name="/rate")
    turn = served.service.turns(client.session_hash)[-1]
    row = next(r for r in rows(served.db) if r["id"] == saved["id"])
    assert row["prompt"] == "Leek and potato soup?" and row["answer"] == to_compact_json(turn.answer)
    assert (row["rating"], row["comment"], row["is_recipe"]) == ("like", "lovely", 1)
    assert row["model_id"] == served.service.generator.model_id and row["answer_id"] == turn.answer_id
    assert json.loads(row["settings"]) == {"temperature": 0.0, "seed": 0, "max_total_tokens": 96,
                                           "mode": "recipe"}


def test_servings_rescale_the_recipes_shown(client, served):
    client.predict("Bean stew?", 0.0, None, api_name="/respond")
    served.service.turns(client.session_hash)[-1].answer = STEW  # a recipe that says what it serves
    chat, download = client.predict(2, api_name="/rerender")
    assert "**Serves:** 2" in text(chat[-1]) and "- 200 g beans" in text(chat[-1])
    assert json.loads(Path(download["value"]).read_text())["servings"] == 2
    chat, _ = client.predict(None, api_name="/rerender")
    assert "- 400 g beans" in text(chat[-1])


@pytest.mark.parametrize("args, message", [
    ((99, "like", ""), "no answer 99"),
    ((0, "meh", ""), "rating"),
    ((0, "like", "x" * 2_000_001), r"the comment is too long \(2000001 characters; the limit is 2000\)"),
])
def test_rating_something_that_cannot_be_rated_is_an_error(client, served, args, message):
    from gradio_client.exceptions import AppError

    client.predict("Toast?", 0.0, None, api_name="/respond")
    stored = len(rows(served.db))
    with pytest.raises(AppError, match=message):
        client.predict(*args, api_name="/rate")
    assert len(rows(served.db)) == stored


# (endpoint, what a hostile client sends, what it is told): one line back, no traceback on the server
MALFORMED = [
    ("/respond", ("Toast?", 0.0, "abc"), r"Servings: not a valid value \('abc'\)"),
    ("/respond", ("Toast?", "hot", None), r"Temperature: not a valid value \('hot'\)"),
    ("/rerender", ("abc",), r"Servings: not a valid value \('abc'\)"),
    ("/rate", ("abc", "like", ""), "turn must be a whole number, not 'abc'"),
    ("/rate", (0, ["like"], ""), "rating and comment must be text"),
]


@pytest.mark.parametrize("api, args, message", MALFORMED)
def test_malformed_client_input_is_one_line_for_the_client_and_no_traceback_on_the_server(
        client, capfd, api, args, message):
    from gradio_client.exceptions import AppError

    capfd.readouterr()
    with pytest.raises(AppError, match=message):
        client.predict(*args, api_name=api)
    assert "Traceback" not in capfd.readouterr().err


def test_an_empty_question_is_an_error(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="type a question"):
        client.predict("   ", 0.0, None, api_name="/respond")


def test_new_chat_forgets_the_turns(client, served):
    client.predict("Toast?", 0.0, None, api_name="/respond")
    chat, _, _ = client.predict(api_name="/new_chat")
    assert chat == [] and served.service.turns(client.session_hash) == []


class Overlaps:
    """A generator proxy that measures how many generations ever ran at once."""

    def __init__(self, inner):
        self.inner, self.model_id = inner, inner.model_id
        self.active = self.most = 0
        self.lock = threading.Lock()

    def stream(self, prompt, **settings):
        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)
        try:
            yield from self.inner.stream(prompt, **settings)
        finally:
            with self.lock:
                self.active -= 1


def test_twenty_concurrent_clients_are_all_answered_and_all_feedback_stored(served, monkeypatch):
    from gradio_client import Client

    overlaps = Overlaps(served.service.generator)
    monkeypatch.setattr(served.service, "generator", overlaps)
    before = {r["id"] for r in rows(served.db)}

    def user(i: int) -> tuple[str, dict, dict]:
        client = Client(served.url, verbose=False)
        chat, _, _ = client.predict(f"Soup number {i}?", 0.8, None, api_name="/respond")
        saved = client.predict(-1, "like" if i % 2 else "dislike", f"from user {i}", api_name="/rate")
        return text(chat[0]), chat[-1], saved

    started = time.monotonic()
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(user, range(20)))
    elapsed = time.monotonic() - started
    assert [prompt for prompt, _, _ in results] == [f"Soup number {i}?" for i in range(20)]
    assert all(text(answer).startswith("# ") for _, answer, _ in results)  # every request answered
    new = [r for r in rows(served.db) if r["id"] not in before]
    assert sorted(r["id"] for r in new) == sorted(saved["id"] for _, _, saved in results)
    # each user's rating is stored with that user's own question: sessions never mix
    assert {(r["prompt"], r["comment"], r["rating"]) for r in new} == {
        (f"Soup number {i}?", f"from user {i}", "like" if i % 2 else "dislike") for i in range(20)}
    assert overlaps.most == 1, "the model must serve one generation at a time"
    print(f"20 concurrent clients served in {elapsed:.1f}s")
