"""Generation always completes: valid, resumable, past the window, within budget."""
from __future__ import annotations

import json
import re

import pytest

from generation import GenerationConfig, GenerationState, RecipeGenerator
from recipe_schema import (
    ModelLoadError,
    Recipe,
    Reply,
    StateError,
    UsageError,
    answer_text,
    load_schema,
    parse_answer,
)
from recipe_schema.projection import answer_projection
from souschef import corpus
from tests.conftest import N_POSITIONS, build_model, build_tokenizer, finish_in_other_processes

PROMPT = "How do I make a quick tomato soup?"


def test_every_finished_output_parses_and_validates_over_100_seeds(tiny):
    import jsonschema

    _, gen = tiny
    validator = jsonschema.Draft202012Validator(load_schema())
    kinds = set()
    for seed in range(100):
        result = gen.generate(PROMPT, seed=seed, temperature=1.0, max_total_tokens=160,
                              max_new_tokens_per_call=64)
        assert result.finished
        assert result.tokens <= 160
        data = json.loads(result.text)
        assert isinstance(result.answer, (Recipe, Reply))
        if isinstance(result.answer, Recipe):
            assert not list(validator.iter_errors(data))
        kinds.add(type(result.answer).__name__)
    assert kinds == {"Recipe", "Reply"}  # the union lets the model choose either


def test_an_answer_longer_than_four_windows_completes(tiny):
    _, gen = tiny
    result = gen.generate(PROMPT, mode="recipe", temperature=0.0, max_total_tokens=700,
                          max_new_tokens_per_call=100)
    assert result.finished and isinstance(result.answer, Recipe)
    assert result.tokens > 4 * N_POSITIONS
    assert result.timings.prefills > 4  # the window slid, the cache was rebuilt


@pytest.mark.parametrize("budget", [40, 75, 128, 333])
def test_the_token_budget_is_honoured_and_the_answer_still_closes(tiny, budget):
    _, gen = tiny
    result = gen.generate(PROMPT, mode="recipe", seed=budget, temperature=1.5, max_total_tokens=budget)
    assert result.finished and result.tokens <= budget
    assert isinstance(result.answer, Recipe)


def test_a_budget_below_the_shortest_answer_is_a_usage_error(tiny):
    _, gen = tiny
    with pytest.raises(UsageError, match="too small"):
        gen.generate(PROMPT, mode="recipe", max_total_tokens=3)


@pytest.mark.parametrize("settings", [
    {"temperature": 0.0},
    {"temperature": 1.0, "seed": 7},
    {"temperature": 0.8, "top_k": 20, "top_p": 0.9, "repetition_penalty": 1.3, "seed": 11},
])
def test_call_boundaries_never_change_the_output(tiny, settings):
    _, gen = tiny
    one_run = gen.generate(PROMPT, mode="recipe", max_total_tokens=400, max_new_tokens_per_call=10_000,
                           **settings)
    for per_call in (1, 7, 50):
        state = gen.start(PROMPT, mode="recipe", max_total_tokens=400, **settings)
        while not state.finished:
            state = GenerationState.from_json(gen.step(state, per_call).to_json())
        assert state.generated_ids == one_run.state.generated_ids, per_call
    assert one_run.tokens > N_POSITIONS  # the comparison crossed a window slide


def test_a_generation_resumed_in_another_process_equals_the_single_run(tiny, tmp_path):
    path, gen = tiny
    settings = {"temperature": 1.0, "seed": 5, "max_total_tokens": 300}
    one_run = gen.generate(PROMPT, **settings)
    state_file = tmp_path / "state.json"
    state_file.write_text(gen.start(PROMPT, **settings).to_json())
    state = finish_in_other_processes(path, state_file, 60, processes=20)
    assert state.finished and state.calls > 2
    assert state.generated_ids == one_run.state.generated_ids


def test_streamed_text_is_the_answer(tiny):
    _, gen = tiny
    pieces: list[str] = []
    result = gen.generate("Ça va? Un gâteau au café ☕", seed=2, temperature=1.0, max_total_tokens=200,
                          on_text=pieces.append)
    assert "".join(pieces) == result.text
    assert "".join(gen.stream("Ça va?", seed=2, temperature=1.0, max_total_tokens=200)) == \
        gen.generate("Ça va?", seed=2, temperature=1.0, max_total_tokens=200).text


def test_modes_force_a_recipe_or_a_reply(tiny):
    _, gen = tiny
    assert isinstance(gen.generate(PROMPT, mode="reply", max_total_tokens=60).answer, Reply)
    assert isinstance(gen.generate(PROMPT, mode="recipe", max_total_tokens=60).answer, Recipe)


def test_max_calls_stops_early_with_a_resumable_state(tiny):
    _, gen = tiny
    partial = gen.generate(PROMPT, mode="recipe", max_total_tokens=300, max_new_tokens_per_call=20,
                           max_calls=2)
    assert not partial.finished and partial.answer is None and partial.calls == 2
    done = gen.continue_(partial.state, max_new_tokens_per_call=20)
    assert done.finished
    whole = gen.generate(PROMPT, mode="recipe", max_total_tokens=300)
    assert done.state.generated_ids == whole.state.generated_ids


# ------------------------------------------------------------ refused states
def _tamper(state: GenerationState, **changes) -> GenerationState:
    """An edit made in memory, or by a tool that recomputes the digest: the generator must see it."""
    data = json.loads(state.to_json())
    data.update(changes)
    settings = GenerationConfig(**data.pop("settings"))
    data.pop("digest")
    return GenerationState(settings=settings, **data)


def _edit_file(text: str, edit) -> str:
    """An edit by hand: the saved JSON changed, its digest left as it was."""
    data = json.loads(text)
    edit(data)
    return json.dumps(data)


@pytest.fixture
def partial(tiny) -> GenerationState:
    _, gen = tiny
    return gen.step(gen.start(PROMPT, mode="recipe", max_total_tokens=200), 30)


def test_tampered_states_are_refused(tiny, partial):
    _, gen = tiny
    state = partial
    ids, x = state.generated_ids, gen.tokenizer.convert_tokens_to_ids("x")
    cases = {
        "grammar state does not match": _tamper(state, grammar_state=state.grammar_state + 1),
        "not accepted by the schema": _tamper(state, generated_ids=[x] + ids[1:]),
        "another schema": _tamper(state, grammar="0" * 24),
        "another model": _tamper(state, model="gpt2:deadbeef"),
        "says finished": _tamper(state, finished=True),
        "prompt ids are not those of its prompt": _tamper(state, prompt="How do I fix my car?"),
        "prompt ids are not those of its prompt ": _tamper(state, prompt_ids=state.prompt_ids[:-1] + [7]),
        "max_total_tokens=3 is too small for this generation": _tamper(
            state, settings={**json.loads(state.to_json())["settings"], "max_total_tokens": 3}),
    }
    for message, bad in cases.items():
        with pytest.raises(UsageError, match=re.escape(message.strip())):
            gen.step(bad, 10)
        with pytest.raises(UsageError, match=re.escape(message.strip())):
            gen.continue_(bad, 10)  # a state that says finished is read without a step: still checked


# (an edit by hand of a saved state, what the refusal says): each was once accepted or crashed
CHANGED = "changed after souschef saved it"
HAND_EDITS = [
    (lambda d: d["generated_ids"].__setitem__(3, d["generated_ids"][3] + 1), CHANGED),
    (lambda d: d["prompt_ids"].__setitem__(0, 7), "changed after souschef saved it"),
    (lambda d: d.update(prompt="How do I fix my car?"), "changed after souschef saved it"),
    (lambda d: d.update(calls=-3), "changed after souschef saved it"),
    (lambda d: d["settings"].update(max_total_tokens=1), "changed after souschef saved it"),
    (lambda d: d.update(finished=True), "changed after souschef saved it"),
    (lambda d: d.pop("digest"), "no digest"),
    (lambda d: d.update(version=1), "predates the integrity check"),
    (lambda d: d.update(version=1, digest=None), "predates the integrity check"),
]


@pytest.mark.parametrize("edit, message", HAND_EDITS)
def test_a_state_edited_by_hand_is_refused(partial, edit, message):
    with pytest.raises(StateError, match=message) as err:
        GenerationState.from_json(_edit_file(partial.to_json(), edit))
    assert err.value.exit_code == 2


def test_a_reformatted_state_file_is_still_accepted(tiny, partial):
    _, gen = tiny
    pretty = json.dumps(json.loads(partial.to_json()), indent=4, sort_keys=True)  # what `jq .` makes of it
    assert gen.step(GenerationState.from_json(pretty), 5).generated_ids[:len(partial.generated_ids)] == \
        partial.generated_ids


@pytest.mark.parametrize("settings, message", [
    ({"temperature": float("nan")}, "temperature must be a number from 0 to 2, not nan"),
    ({"temperature": 5}, "temperature must be a number from 0 to 2, not 5"),
    ({"repetition_penalty": float("nan")}, "repetition_penalty must be a number above 0"),
    ({"top_p": 0}, "top_p must be a number above 0 and at most 1"),
    ({"top_k": 2.5}, "top_k must be a whole number"),
    ({"seed": True}, "seed must be a whole number"),
    ({"max_total_tokens": 10**9}, "max_total_tokens must be a whole number from 1 to 65536"),
])
def test_settings_out_of_range_are_usage_errors(settings, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        GenerationConfig(**settings)


def test_a_state_cannot_be_saved_with_a_value_json_does_not_have(partial):
    assert "NaN" not in partial.to_json() and json.loads(partial.to_json())["digest"].startswith("sha256:")


def test_a_state_from_another_model_is_refused(tiny):
    _, gen = tiny
    other = RecipeGenerator(build_model(len(gen.tokenizer), seed=1), gen.tokenizer)
    state = other.start(PROMPT)
    with pytest.raises(StateError, match="another model"):
        gen.step(state)


@pytest.mark.parametrize("text", ["", "{}", "[1]", '{"version": 99}', '{"version": 2}', "not json"])
def test_malformed_state_files_are_refused(text):
    with pytest.raises(StateError, match="unreadable generation state"):
        GenerationState.from_json(text)


def test_the_model_identity_does_not_depend_on_where_it_is_stored(tiny, tmp_path):
    path, gen = tiny
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    assert RecipeGenerator.from_pretrained(copy).model_id == gen.model_id


# ------------------------------------------------------------ usage errors
def test_a_missing_model_directory_cannot_be_loaded(tmp_path):
    with pytest.raises(ModelLoadError, match="cannot load model"):
        RecipeGenerator.from_pretrained(tmp_path / "nope")


def test_empty_and_oversized_prompts_are_usage_errors(tiny):
    _, gen = tiny
    with pytest.raises(UsageError, match="empty"):
        gen.generate("   ")
    with pytest.raises(UsageError, match="no room left"):
        gen.generate("tomato " * 200)
    with pytest.raises(UsageError, match=r"the prompt is too long \(10001 characters; the limit is 10000\)"):
        gen.generate("x" * 10_001)  # refused before the guard or the tokenizer reads it
    with pytest.raises(UsageError, match="not UTF-8 text"):
        gen.generate("pancakes \udcff")  # what a command line's byte 0xff becomes


# ------------------------------------------------------------ the grammar
def test_every_training_answer_is_admitted_by_the_constraint():
    """The compact layout of training data is exactly what decoding may write."""
    from outlines_core.json_schema import build_regex_from_schema

    pattern = re.compile(build_regex_from_schema(json.dumps(answer_projection("any")), ""))
    for name in (corpus.RECIPES, corpus.EXCHANGES):
        for line in corpus.path(name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            text = answer_text(parse_answer(row.get("answer", row)))
            assert pattern.fullmatch(text), text[:80]


def test_the_compiled_grammar_is_cached_on_disk(tmp_path, monkeypatch):
    from generation import Grammar
    from generation.vocabulary import token_bytes

    monkeypatch.setenv("SOUSCHEF_CACHE_DIR", str(tmp_path))
    tok = build_tokenizer(512)
    tokens = token_bytes(tok)
    first = Grammar.from_schema(answer_projection("recipe"), tokens, tok.eos_token_id)
    files = list((tmp_path / "grammar").iterdir())
    assert [f.name for f in files] == [f"{first.fingerprint}.pkl"]
    again = Grammar.from_schema(answer_projection("recipe"), tokens, tok.eos_token_id)
    assert again.fingerprint == first.fingerprint and again.dist == first.dist
    files[0].write_bytes(b"garbage")  # a corrupt cache is rebuilt, not fatal
    rebuilt = Grammar.from_schema(answer_projection("recipe"), tokens, tok.eos_token_id)
    assert rebuilt.dist == first.dist


def test_multibyte_tokens_keep_their_bytes():
    from generation.vocabulary import token_bytes

    tok = build_tokenizer(512)
    tokens = token_bytes(tok)
    ids = tok("café ☕")["input_ids"]
    assert b"".join(tokens[i] for i in ids).decode("utf-8") == "café ☕"


def test_no_repeat_ngram_repeats_an_ngram_only_where_the_schema_allows_nothing_else(tiny):
    from generation.sampling import repeated_ngram_tokens

    _, gen = tiny
    settings = {"mode": "recipe", "max_total_tokens": 200, "repetition_penalty": 1.0}
    looping = gen.generate(PROMPT, **settings).state.generated_ids
    assert any(looping[j] in repeated_ngram_tokens(looping[:j], 4) for j in range(len(looping)))  # it loops
    result = gen.generate(PROMPT, no_repeat_ngram=4, **settings)
    assert result.finished and result.answer is not None
    ids, grammar = result.state.generated_ids, gen.grammar("recipe")
    decoder, state = gen._decoder(grammar), grammar.initial_state
    for j, token in enumerate(ids):
        banned = repeated_ngram_tokens(ids[:j], 4)
        if token in banned:  # only when every token decoding could choose was banned
            allowed, _ = decoder._allowed(state, settings["max_total_tokens"] - j)
            assert set(allowed.tolist()) <= banned
        state = grammar.next_state(state, token)
