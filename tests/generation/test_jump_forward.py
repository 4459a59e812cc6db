"""Jump-forward: text the schema forces is taken in one canonical tokenization, without
sampling, and fed in one pass; the tokens are those of taking it one token per step."""
from __future__ import annotations

import json

import pytest

from generation import GenerationState
from generation.state import _digest
from tests.conftest import finish_in_other_processes, load_bench
from tests.generation.test_batch import PROMPTS

SETTINGS = [
    {"max_total_tokens": 300, "jump_forward": True},                                 # greedy, past the window
    {"max_total_tokens": 300, "jump_forward": True, "temperature": 0.9, "seed": 4},  # sampled
    {"max_total_tokens": 70, "jump_forward": True, "mode": "recipe"},               # the budget closes it
]


def _run(gen, fused: bool, **settings):
    gen.fuse_forced = fused
    try:
        return [gen.generate(p, max_new_tokens_per_call=64, **settings) for p in PROMPTS]
    finally:
        gen.fuse_forced = True


def test_the_forced_run_after_a_list_of_ingredients_is_the_steps_key(gen64):
    grammar = gen64.grammar("recipe")
    text = '{"title":"Soup","servings":2,"prep_time":"PT5M","cook_time":"PT5M","ingredients":["salt"]'
    state = grammar.replay(gen64.tokenizer(text, add_special_tokens=False)["input_ids"])
    assert state is not None
    run, end = grammar.forced(state)
    assert gen64.decode(list(run)).startswith(',"')          # the next key is forced
    after = state
    for token in run:
        after = grammar.next_state(after, token)
    assert after == end
    assert gen64.decode(list(grammar.forced(grammar.initial_state)[0])) == '{"title":"'
    either = gen64.grammar("any")                              # a recipe or a reply: only '{"' is forced
    assert gen64.decode(list(either.forced(either.initial_state)[0])) == '{"'


@pytest.mark.parametrize("settings", SETTINGS)
def test_jump_forward_equals_taking_the_run_one_token_per_step(gen64, settings):
    fused = _run(gen64, True, **settings)
    stepped = _run(gen64, False, **settings)
    for a, b in zip(fused, stepped, strict=True):
        assert a.state.to_json() == b.state.to_json()
        assert a.finished and a.answer is not None and a.tokens <= settings["max_total_tokens"]
    forced = sum(r.timings.forced for r in fused)
    assert forced > 0 and sum(r.timings.forced for r in stepped) == forced
    # one pass per run instead of one per token: fewer incremental forwards
    assert sum(r.timings.forwards for r in fused) < sum(r.timings.forwards for r in stepped)


def test_a_batched_row_takes_the_same_forced_tokens(gen64):
    alone = _run(gen64, True, **SETTINGS[0])
    together = gen64.generate_batch(PROMPTS, batch_size=3, max_new_tokens_per_call=64, **SETTINGS[0])
    assert [r.state.generated_ids for r in together] == [r.state.generated_ids for r in alone]


def test_a_call_ending_inside_a_forced_run_resumes_in_another_process_to_the_one_run(gen64, tiny, tmp_path):
    whole = gen64.generate(PROMPTS[0], max_new_tokens_per_call=64, **SETTINGS[0])
    first = gen64.generate(PROMPTS[0], max_new_tokens_per_call=3, max_calls=2, **SETTINGS[0])
    assert not first.finished
    saved = tmp_path / "state.json"
    saved.write_text(first.state.to_json(), encoding="utf-8")
    if gen64.model.config.model_type != "gpt2":
        pytest.skip("checked once, on the GPT-2 fixture")
    path, _ = tiny
    resumed = finish_in_other_processes(path, saved, 64, guard=False, double=True)
    assert resumed.generated_ids == whole.state.generated_ids


def test_off_by_default_and_a_state_saved_before_it_existed_loads_with_it_off(gen64):
    state = gen64.start(PROMPTS[1])
    assert state.settings.jump_forward is False
    data = json.loads(state.to_json())
    del data["settings"]["jump_forward"], data["digest"]
    data["digest"] = _digest(data)
    assert GenerationState.from_json(json.dumps(data)).settings.jump_forward is False


def test_the_jump_forward_bench_runs_and_counts_forced_tokens(tiny, capsys):
    bench = load_bench("jump_forward")
    model, _ = tiny
    assert bench.main(["--model", str(model), "--prompts", "2", "--max-total-tokens", "60",
                       "--repeats", "1", "--threads", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    arms = result["arms"]
    assert arms["off"]["forced_share"] == 0 and arms["fused"]["forced_share"] > 0
    assert arms["fused"]["forced_share"] == arms["stepped"]["forced_share"]
    assert arms["fused"]["forwards"] < arms["stepped"]["forwards"]
