"""Batched decoding: every row is the generation it would be alone, only sooner."""
from __future__ import annotations

import pytest

from tests.conftest import N_POSITIONS, load_bench

PROMPTS = [
    "How do I make a quick tomato soup?",
    "Pancakes?",
    "What is a good recipe for a slow-cooked lamb shoulder with rosemary, garlic and white beans "
    "for a family dinner on a cold Sunday?",
    "Toast?",
    "Can you give me a recipe for a big Greek moussaka?",
]


@pytest.mark.parametrize("settings", [
    {"max_total_tokens": 300},                                            # greedy, past the window
    {"max_total_tokens": 300, "temperature": 0.9, "seed": 4},             # sampled: each row's own stream
    {"max_total_tokens": 70, "mode": "recipe"},                          # the budget closes each row
])
def test_a_batched_row_equals_its_one_row_generation(gen64, settings):
    assert gen64._batchable()  # GPT-2's and Llama's caches can be shared: this is the batched path
    alone = [gen64.generate(p, max_new_tokens_per_call=64, **settings) for p in PROMPTS]
    together = gen64.generate_batch(PROMPTS, batch_size=3, max_new_tokens_per_call=64, **settings)
    for a, b in zip(alone, together, strict=True):
        assert b.state.generated_ids == a.state.generated_ids
        assert (b.state.grammar_state, b.finished, b.calls) == (a.state.grammar_state, a.finished, a.calls)
        assert b.finished and b.answer is not None and b.tokens <= settings["max_total_tokens"]
    assert any(len(r.state.prompt_ids) + r.tokens > N_POSITIONS for r in alone)  # some slid past the window


def test_max_calls_stops_every_row_where_continue_would_and_they_resume(gen64):
    alone = [gen64.generate(p, max_new_tokens_per_call=16, max_calls=2, max_total_tokens=300)
             for p in PROMPTS]
    together = gen64.generate_batch(PROMPTS, batch_size=2, max_new_tokens_per_call=16, max_calls=2,
                                    max_total_tokens=300)
    assert [r.state.to_json() for r in together] == [r.state.to_json() for r in alone]
    finished = gen64.continue_batch([r.state for r in together], batch_size=4)
    whole = [gen64.generate(p, max_new_tokens_per_call=16, max_total_tokens=300) for p in PROMPTS]
    assert [r.state.generated_ids for r in finished] == [r.state.generated_ids for r in whole]


def test_rows_of_both_modes_share_a_batch(gen64):
    modes = ["recipe", "reply", "recipe", "reply", "any"]
    alone = [gen64.generate(p, mode=m, max_total_tokens=120) for p, m in zip(PROMPTS, modes, strict=True)]
    states = [gen64.start(p, mode=m, max_total_tokens=120) for p, m in zip(PROMPTS, modes, strict=True)]
    together = gen64.continue_batch(states, batch_size=5)
    assert [r.text for r in together] == [r.text for r in alone]
    assert [type(r.answer).__name__ for r in together][:2] == ["Recipe", "Reply"]


def test_once_nobody_waits_a_step_computes_only_the_rows_still_decoding(gen64):
    # a batch's tail: rows that left take no place in the forward pass, so the last row
    # decodes alone at the one-row cost, and every row is still its one-row generation
    budgets = [40, 200, 90, 60, 150]
    states = [gen64.start(p, max_total_tokens=b) for p, b in zip(PROMPTS, budgets, strict=True)]
    rows_fed = []
    hook = gen64.model.register_forward_pre_hook(
        lambda module, args, kwargs: rows_fed.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True)
    try:
        together = gen64.continue_batch(states, batch_size=3)
    finally:
        hook.remove()
    steps = [rows for rows, width in rows_fed if width == 1]
    steps = steps[steps.index(3):]  # from the first batched step
    shrunk = next(i for i, rows in enumerate(steps) if rows < 3)
    assert steps[:shrunk] == [3] * shrunk and steps[-1] == 1 and 2 in steps
    assert steps[shrunk:] == sorted(steps[shrunk:], reverse=True)  # a step never grows back
    alone = [gen64.generate(p, max_total_tokens=b) for p, b in zip(PROMPTS, budgets, strict=True)]
    assert [r.state.generated_ids for r in together] == [r.state.generated_ids for r in alone]


@pytest.mark.parametrize("batch_size", [1, 2])
def test_later_rows_start_only_as_slots_free_up_and_equal_their_one_row_generations(gen64, batch_size):
    settings = {"max_total_tokens": 60, "mode": "recipe"}
    events = []

    def started():
        for i, prompt in enumerate(PROMPTS):
            events.append(("start", i))
            yield gen64.start(prompt, **settings)

    together = gen64.continue_batch([], later=started(), batch_size=batch_size,
                                    on_done=lambda i, result, seconds: events.append(("done", i)))
    alone = [gen64.generate(p, **settings) for p in PROMPTS]
    assert [r.state.generated_ids for r in together] == [r.state.generated_ids for r in alone]
    for i in range(batch_size, len(PROMPTS)):  # prompt i starts once a row has left
        before = events[:events.index(("start", i))]
        assert sum(kind == "done" for kind, _ in before) >= i - batch_size + 1


def test_a_batch_of_one_is_the_one_row_loop(tiny):
    _, gen = tiny
    assert gen.generate_batch(PROMPTS[:2], batch_size=1, max_total_tokens=80)[1].text == gen.generate(
        PROMPTS[1], max_total_tokens=80).text


def test_the_batched_generation_bench_runs_and_reports_each_batch(tiny, capsys):
    import json

    bench = load_bench("batched_generation")
    model, _ = tiny
    assert bench.main(["--model", str(model), "--prompts", "3", "--batches", "2", "--max-total-tokens", "40",
                       "--repeats", "1", "--threads", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["tokens_per_s"]) == {"1", "2"} and result["tokens_per_s"]["2"] > 0
    assert result["identical_to_one_row"]["2"] <= 3 and result["weights_gb_per_s_at_batch_1"] > 0


def test_the_smaller_weights_bench_runs_bf16_beside_fp32(tiny, capsys):
    import json

    bench = load_bench("int8_weights")
    model, _ = tiny
    assert bench.main(["--model", str(model), "--tokens", "40", "--repeats", "1", "--threads", "1"]) == 0
    arms = json.loads(capsys.readouterr().out)["arms"]
    assert {"fp32", "bf16"} <= set(arms) and arms["fp32"]["ratio"] == 1.0 and arms["bf16"]["tokens_per_s"] > 0


def test_rows_that_arrive_while_it_runs_join_and_equal_their_one_row_generations(gen64):
    from generation.batch import run_batch

    settings = {"max_total_tokens": 90, "mode": "recipe"}
    alone = [gen64.generate(p, **settings) for p in PROMPTS]
    states = [gen64.start(p, **settings) for p in PROMPTS]
    decoders = [gen64._decoder(gen64.check(s)) for s in states]
    late = list(zip(states[2:], decoders[2:], strict=True))
    asked, seen, done = [], {i: [] for i in range(len(PROMPTS))}, {}

    def arrivals(n):  # one late row at a time, only once the first two have run a while
        asked.append(n)
        return [late.pop(0)] if late and len(seen[0]) >= 10 * (len(PROMPTS) - len(late) - 1) else []

    def on_token(i, token):
        seen[i].append(token)
        return not (i == 3 and len(seen[3]) == 7)  # row 3's client leaves after 7 tokens

    run_batch(states[:2], decoders[:2], 3, 1 << 30, on_done=lambda i, st, s: done.setdefault(i, st),
              arrivals=arrivals, on_token=on_token)
    assert sorted(done) == [0, 1, 2, 3, 4] and not late and max(asked) <= 3
    for i, (state, one) in enumerate(zip(states, alone, strict=True)):
        assert seen[i] == state.generated_ids  # each token was seen as it was chosen
        if i == 3:  # dropped: unfinished, its tokens those of the one-row run so far
            assert not state.finished and state.generated_ids == one.state.generated_ids[:7]
        else:
            assert state.finished and state.generated_ids == one.state.generated_ids


def test_an_error_in_one_row_ends_that_row_only(gen64, monkeypatch):
    from generation.batch import run_batch
    from generation.decoder import Decoder

    pick = Decoder.pick
    monkeypatch.setattr(Decoder, "pick", lambda self, st, *a: (
        1 / 0 if st.prompt == PROMPTS[1] and len(st.generated_ids) == 3 else pick(self, st, *a)))
    states = [gen64.start(p, max_total_tokens=60) for p in PROMPTS[:3]]
    errors, done = {}, {}
    run_batch(states, [gen64._decoder(gen64.check(s)) for s in states], 3, 1 << 30,
              on_done=lambda i, st, s: done.setdefault(i, st), on_error=errors.setdefault)
    assert sorted(done) == [0, 2] and isinstance(errors[1], ZeroDivisionError)
    assert all(done[i].generated_ids == gen64.generate(PROMPTS[i], max_total_tokens=60).state.generated_ids
               for i in (0, 2))
    with pytest.raises(ZeroDivisionError):  # without on_error, as before: the run ends
        states = [gen64.start(p, max_total_tokens=60) for p in PROMPTS[:2]]
        run_batch(states, [gen64._decoder(gen64.check(s)) for s in states], 2, 1 << 30)
