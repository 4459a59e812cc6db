"""Batched decoding: every row is the generation it would be alone, only sooner."""
from __future__ import annotations

import pytest

from generation import RecipeGenerator
from tests.conftest import N_POSITIONS

PROMPTS = [
    "How do I make a quick tomato soup?",
    "Pancakes?",
    "What is a good recipe for a slow-cooked lamb shoulder with rosemary, garlic and white beans "
    "for a family dinner on a cold Sunday?",
    "Toast?",
    "Can you give me a recipe for a big Greek moussaka?",
]


@pytest.fixture(scope="module", params=["tiny", "tiny_llama"])
def gen64(request):
    """The fixture's model in float64, where batched and one-row products round alike."""
    path, _ = request.getfixturevalue(request.param)
    gen = RecipeGenerator.from_pretrained(path, guard=False)
    gen.model = gen.model.double()
    gen._decoders.clear()
    return gen


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


def test_a_batch_of_one_is_the_one_row_loop(tiny):
    _, gen = tiny
    assert gen.generate_batch(PROMPTS[:2], batch_size=1, max_total_tokens=80)[1].text == gen.generate(
        PROMPTS[1], max_total_tokens=80).text


def test_the_batched_generation_bench_runs_and_reports_each_batch(tiny, capsys):
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bench" / "batched_generation.py"
    spec = importlib.util.spec_from_file_location("batched_generation", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    model, _ = tiny
    assert bench.main(["--model", str(model), "--prompts", "3", "--batches", "2", "--max-total-tokens", "40",
                       "--repeats", "1", "--threads", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["tokens_per_s"]) == {"1", "2"} and result["tokens_per_s"]["2"] > 0
    assert result["identical_to_one_row"]["2"] <= 3 and result["weights_gb_per_s_at_batch_1"] > 0
