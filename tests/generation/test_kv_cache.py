"""The KV cache layer that appends in place (generation.kv_cache)."""
from __future__ import annotations

import torch
from transformers.cache_utils import DynamicCache, DynamicLayer

from generation.kv_cache import AppendInPlaceLayer, append_in_place
from tests.conftest import load_bench


def _steps(lengths, rows=2, heads=3, dim=4):
    gen = torch.Generator().manual_seed(0)
    return [(torch.randn(rows, heads, n, dim, generator=gen), torch.randn(rows, heads, n, dim, generator=gen))
            for n in lengths]


def test_updates_give_the_keys_and_values_concatenation_gives():
    plain, roomy = DynamicLayer(), AppendInPlaceLayer()
    for keys, values in _steps([5, 1, 1, 3, 1] + [1] * 80):  # past the first buffer's room
        expected = plain.update(keys, values)
        got = roomy.update(keys, values)
        assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])
    assert roomy.get_seq_length() == plain.get_seq_length() == 91


def test_a_step_writes_into_the_same_buffer_instead_of_copying_the_cache():
    layer = AppendInPlaceLayer()
    steps = _steps([10] + [1] * 20)
    layer.update(*steps[0])
    first = layer.keys.data_ptr()
    for keys, values in steps[1:]:
        layer.update(keys, values)
        assert layer.keys.data_ptr() == first  # room was left: nothing moved


def test_keys_set_from_outside_are_taken_up_at_the_next_update():
    layer = AppendInPlaceLayer()
    (k0, v0), (k1, v1) = _steps([6, 1])
    layer.update(k0, v0)
    layer.keys, layer.values = layer.keys[:1, :, 2:], layer.values[:1, :, 2:]  # drop a row and 2 columns
    keys, values = layer.update(k1[:1], v1[:1])
    assert torch.equal(keys, torch.cat([k0[:1, :, 2:], k1[:1]], dim=2))
    assert torch.equal(values, torch.cat([v0[:1, :, 2:], v1[:1]], dim=2))


def test_a_write_into_the_keys_view_reaches_the_cache():
    layer = AppendInPlaceLayer()
    (k0, v0), (k1, v1) = _steps([4, 1])
    layer.update(k0, v0)
    layer.keys[1, :, 2:] = 0.0  # as the shared cache places a row's prefill
    keys, _ = layer.update(k1, v1)
    assert keys[1, :, 2:4].abs().sum() == 0 and torch.equal(keys[:, :, 4:], k1)


def test_append_in_place_converts_a_caches_layers_and_keeps_their_contents():
    cache = DynamicCache()
    (k0, v0), (k1, v1) = _steps([3, 1])
    cache.update(k0, v0, 0)
    append_in_place(cache)
    assert type(cache.layers[0]) is AppendInPlaceLayer
    keys, values = cache.update(k1, v1, 0)
    assert torch.equal(keys, torch.cat([k0, k1], dim=2)) and torch.equal(values, torch.cat([v0, v1], dim=2))


def test_the_bench_runs_both_arms_gives_the_same_answers_and_restores_the_product_path(tiny, capsys):
    import json

    import generation.batch
    import generation.decoder

    bench = load_bench("kv_cache")
    model, _ = tiny
    assert bench.main(["--model", str(model), "--prompts", "3", "--batches", "1", "2",
                       "--max-total-tokens", "40", "--repeats", "1", "--threads", "1", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["batches"]
    assert [row["batch"] for row in rows] == [1, 2]
    assert all(row["identical"] and row["in_place_tokens_per_s"] > 0 for row in rows)
    assert generation.batch.append_in_place is append_in_place is generation.decoder.append_in_place
