"""Concurrent users share decoding steps: every answer is the one it would be alone, only sooner."""
from __future__ import annotations

import threading
import time

import pytest

from recipe_schema import Recipe

PROMPTS = ["Lentil soup?", "How do I make a quick tomato soup for two?", "Pancakes?",
           "What is a good recipe for a slow-cooked lamb shoulder with rosemary and white beans?"]
BUDGET = 80
pytestmark = pytest.mark.slow
TIMEOUT_S = 120  # no test waits longer than this for a thread


@pytest.fixture
def forwards(tiny64):
    """Counts the model's forward passes (prefills and steps alike) while a test runs."""
    calls = {"n": 0}

    def count(module, args, kwargs):
        calls["n"] += 1

    handle = tiny64.model.register_forward_pre_hook(count, with_kwargs=True)
    yield calls
    handle.remove()


@pytest.fixture
def service(tiny64, tmp_path):
    from souschef.chat.feedback import FeedbackStore
    from souschef.chat.service import ChatService

    made = ChatService(tiny64, FeedbackStore(tmp_path / "f.db"), max_total_tokens=BUDGET, mode="recipe",
                       batch_size=4)
    yield made
    made.close()


def ask_all(service, asks, hold=None):
    """Run ``service.ask(session, prompt, temperature)`` for each of ``asks`` in its own thread, all at
    once; returns each one's last turn. With ``hold`` (an Event a forward hook waits on), the model
    is held at its first step until every request is queued, so they surely meet in one batch."""
    last: dict[int, object] = {}

    def user(i, prompt, temperature):
        for turn in service.ask(f"s{i}", prompt, temperature):
            last[i] = turn

    threads = [threading.Thread(target=user, args=(i, *a)) for i, a in enumerate(asks)]
    for t in threads:
        t.start()
    if hold is not None:
        deadline = time.monotonic() + TIMEOUT_S
        while service._scheduler.queued < len(asks) - 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        hold.set()
    for t in threads:
        t.join(TIMEOUT_S)
    assert not any(t.is_alive() for t in threads), "a client never got its answer"
    return [last[i] for i in range(len(asks))]


@pytest.fixture
def held(tiny64):
    """An Event the model's first forward pass waits for (see ``ask_all``)."""
    go = threading.Event()

    def wait(module, args, kwargs):
        go.wait(TIMEOUT_S)

    handle = tiny64.model.register_forward_pre_hook(wait, with_kwargs=True)
    yield go
    handle.remove()


def test_concurrent_users_all_get_valid_answers_and_share_decoding_steps(service, tiny64, forwards, held):
    turns = ask_all(service, [(p, 0.0) for p in PROMPTS], hold=held)
    together, forwards["n"] = forwards["n"], 0
    assert all(isinstance(t.answer, Recipe) and t.error is None for t in turns)
    answers = [tiny64.generate(p, max_total_tokens=BUDGET, mode="recipe") for p in PROMPTS]
    alone, tokens = forwards["n"], sum(r.tokens for r in answers)
    assert [t.text for t in turns] == [r.text for r in answers]
    # alone, every token but the last costs a forward pass of its own; together, one pass serves them all
    assert together < tokens and together < 0.6 * alone, (together, alone, tokens)
    print(f"{len(PROMPTS)} concurrent answers, {tokens} tokens: {together} forward passes together, "
          f"{alone} one after another")


def test_a_greedy_answer_in_the_batch_is_the_answer_alone_beside_sampled_ones(service, tiny64, held):
    asks = [(PROMPTS[0], 0.0), (PROMPTS[1], 0.9), (PROMPTS[2], 0.0), (PROMPTS[3], 1.3)]
    turns = ask_all(service, asks, hold=held)
    for (prompt, temperature), turn in zip(asks, turns, strict=True):
        assert isinstance(turn.answer, Recipe), turn.error
        alone = tiny64.generate(prompt, temperature=temperature, seed=turn.settings["seed"],
                               max_total_tokens=BUDGET, mode="recipe")
        assert turn.text == alone.text  # each row its own settings and sampling stream


def test_a_failing_row_ends_alone_and_the_others_are_answered(service, tiny64, held, monkeypatch):
    from generation.decoder import Decoder

    pick = Decoder.pick

    def failing(self, st, *args):
        if st.prompt == "Boom?" and len(st.generated_ids) == 5:
            raise RuntimeError("a bug in one row")
        return pick(self, st, *args)

    monkeypatch.setattr(Decoder, "pick", failing)
    turns = ask_all(service, [(PROMPTS[0], 0.0), ("Boom?", 0.0), (PROMPTS[2], 0.0)], hold=held)
    assert turns[1].answer is None and turns[1].error == "internal error (RuntimeError)"
    assert [t.text for t in turns[::2]] == [
        tiny64.generate(p, max_total_tokens=BUDGET, mode="recipe").text for p in (PROMPTS[0], PROMPTS[2])]
    # the worker goes on with the next question
    assert isinstance(ask_all(service, [(PROMPTS[1], 0.0)])[0].answer, Recipe)


def test_a_client_that_stops_listening_leaves_the_batch_and_the_others_finish(service, tiny64):
    gone = service.ask("gone", PROMPTS[3], 0.0)
    for _ in range(4):  # the empty turn, then three pieces
        next(gone)
    gone.close()
    turns = ask_all(service, [(PROMPTS[0], 0.0), (PROMPTS[2], 0.0)])
    assert all(isinstance(t.answer, Recipe) for t in turns)
    assert service.turns("gone")[-1].answer is None  # never finished
    assert service._scheduler.queued == 0


def test_a_failed_forward_pass_fails_its_rows_and_the_worker_goes_on(service, tiny64):
    failed = {"done": False}

    def once(module, args, kwargs):
        if not failed["done"] and kwargs.get("attention_mask") is not None:  # a batched step
            failed["done"] = True
            raise RuntimeError("out of memory")

    handle = tiny64.model.register_forward_pre_hook(once, with_kwargs=True)
    try:
        turns = ask_all(service, [(PROMPTS[0], 0.0), (PROMPTS[2], 0.0)])
    finally:
        handle.remove()
    assert failed["done"] and any(t.error == "internal error (RuntimeError)" for t in turns)
    assert isinstance(ask_all(service, [(PROMPTS[1], 0.0)])[0].answer, Recipe)


def test_closing_the_service_stops_its_worker_and_later_questions_are_refused(tiny64, tmp_path):
    from souschef.chat.feedback import FeedbackStore
    from souschef.chat.service import ChatService

    service = ChatService(tiny64, FeedbackStore(tmp_path / "f.db"), max_total_tokens=BUDGET, mode="recipe",
                          batch_size=3)
    assert isinstance(list(service.ask("s", PROMPTS[0]))[-1].answer, Recipe)
    service.close()
    assert not any(t.name == "souschef-batch" for t in threading.enumerate())
    assert list(service.ask("s", PROMPTS[2]))[-1].error == "the model is shutting down"


def test_a_batch_of_one_is_todays_service_one_generation_at_a_time(tiny, tmp_path):
    from souschef.chat.feedback import FeedbackStore
    from souschef.chat.service import ChatService

    service = ChatService(tiny[1], FeedbackStore(tmp_path / "f.db"), max_total_tokens=64, mode="recipe")
    assert service.batch_size == 1 and service._scheduler is None
    assert not any(t.name == "souschef-batch" for t in threading.enumerate())


@pytest.mark.filterwarnings("ignore:unclosed event loop:ResourceWarning")  # Gradio's (see test_app.py)
@pytest.mark.filterwarnings("ignore:unclosed <socket.socket fd=\\d+, family=1:ResourceWarning")
def test_the_app_lets_as_many_answers_run_at_once_as_the_service_decodes_together(tiny64, tmp_path):
    import asyncio
    import gc

    pytest.importorskip("gradio", reason="the ui extra is not installed (pip install 'souschef[ui]')")
    from souschef.chat.app import build_app
    from souschef.chat.feedback import FeedbackStore
    from souschef.chat.service import ChatService

    for batch in (1, 4):
        service = ChatService(tiny64, FeedbackStore(tmp_path / "f.db"), batch_size=batch)
        try:
            respond = [fn for fn in build_app(service).fns.values() if fn.api_name == "respond"]
            assert [fn.concurrency_limit for fn in respond] == [batch]
        finally:
            service.close()
    asyncio.get_event_loop_policy().get_event_loop().close()  # as the served fixture does
    asyncio.set_event_loop(None)
    gc.collect()


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_chat_refuses_a_batch_size_below_one(cli, value):
    code, _, err = cli(["chat", "--batch-size", value])
    assert code == 2 and "--batch-size" in err
