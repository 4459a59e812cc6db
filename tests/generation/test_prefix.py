"""The prompt format's shared prefix, read once (generation.prefix)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from generation import RecipeGenerator
from generation.decoder import Decoder
from generation.prefix import SharedPrefix
from tests.conftest import load_bench

PROMPTS = ["How do I make a leek and potato soup?", "What is the capital of France?"]


@pytest.fixture(params=["tiny", "tiny_llama"])
def gen64(request):
    path, _ = request.getfixturevalue(request.param)
    gen = RecipeGenerator.from_pretrained(path, guard=False)
    gen.model = gen.model.double()
    return gen


def test_every_prompt_format_here_has_a_shared_prefix(gen64):
    prefix = SharedPrefix.of(gen64.model, gen64.prompt_ids)
    assert prefix.ids and all(gen64.prompt_ids(p)[:len(prefix.ids)] == list(prefix.ids) for p in PROMPTS)


def test_a_prefill_from_the_prefix_gives_the_logits_and_cache_of_a_whole_read(gen64):
    prefix = SharedPrefix.of(gen64.model, gen64.prompt_ids)
    decoder = Decoder(gen64.model, gen64.grammar("recipe"), gen64.n_positions)
    for prompt in PROMPTS:
        ids = gen64.prompt_ids(prompt)
        decoder.prefix = None
        whole, whole_cache = decoder.prefill(ids)
        decoder.prefix = prefix
        part, part_cache = decoder.prefill(ids)
        torch.testing.assert_close(part, whole, rtol=0, atol=1e-9)
        assert part_cache.get_seq_length() == whole_cache.get_seq_length() == len(ids)
        torch.testing.assert_close(part_cache.layers[0].keys, whole_cache.layers[0].keys, rtol=0, atol=1e-9)
    assert prefix.read().get_seq_length() == len(prefix.ids)  # each prompt read from a copy


def test_ids_that_do_not_go_past_the_prefix_are_read_whole(gen64):
    prefix = SharedPrefix.of(gen64.model, gen64.prompt_ids)
    ids = list(prefix.ids)
    assert prefix.split(ids) == (None, ids)
    assert prefix.split([ids[0] + 1] + ids[1:] + [5]) == (None, [ids[0] + 1] + ids[1:] + [5])
    cache, rest = prefix.split(ids + [5, 6])
    assert rest == [5, 6] and cache.get_seq_length() == len(ids)


def test_answers_are_those_of_whole_reads_greedy(gen64):
    answers = [gen64.generate(p, max_total_tokens=40).state.generated_ids for p in PROMPTS]
    gen64._prefix = SharedPrefix(gen64.model, [])  # an empty prefix: every prompt read whole
    assert [gen64.generate(p, max_total_tokens=40).state.generated_ids for p in PROMPTS] == answers


def test_the_prefix_is_read_again_when_the_models_weights_change_dtype(gen64):
    prefix = SharedPrefix.of(gen64.model, gen64.prompt_ids)
    assert prefix.read().layers[0].keys.dtype == torch.float64
    gen64.model.float()
    cache, _ = prefix.split(gen64.prompt_ids(PROMPTS[0]))
    assert cache.layers[0].keys.dtype == torch.float32


def test_the_bench_reads_prompts_both_ways_with_the_same_logits(tiny_llama, capsys):
    import json

    bench = load_bench("shared_prefix")
    model, _ = tiny_llama
    assert bench.main(["--model", str(model), "--prompts", "3", "--repeats", "1", "--threads", "1",
                       "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["prefix_tokens"] > 0 and result["prompt_tokens"] > result["prefix_tokens"]
    assert result["largest_logit_difference"] < 1e-4 and set(result["ms_a_prompt"]) == {
        "whole", "from the shared prefix"}


def test_the_guards_view_from_the_prefix_is_the_view_of_a_whole_read(gen64):
    from generation.guard.view import prompt_pass

    prefix = SharedPrefix.of(gen64.model, gen64.prompt_ids)
    for prompt in PROMPTS:
        ids = gen64.prompt_ids(prompt)
        whole, whole_logits, _ = prompt_pass(gen64.model, ids, 2, len(prefix.ids))
        part, part_logits, cache = prompt_pass(gen64.model, ids, 2, len(prefix.ids), prefix)
        np.testing.assert_allclose(part, whole, rtol=0, atol=1e-9)
        torch.testing.assert_close(part_logits, whole_logits, rtol=0, atol=1e-9)
        assert cache.get_seq_length() == len(ids)
    # a shared prefix longer than the view's would drop tokens the view averages: read whole
    shorter = len(prefix.ids) - 1
    ids = gen64.prompt_ids(PROMPTS[0])
    np.testing.assert_allclose(prompt_pass(gen64.model, ids, 2, shorter, prefix)[0],
                               prompt_pass(gen64.model, ids, 2, shorter)[0], rtol=0, atol=1e-9)
