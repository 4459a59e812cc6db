"""int8 weights for CPU decoding (generation.int8)."""
from __future__ import annotations

import copy

import pytest
import torch
from transformers.pytorch_utils import Conv1D

from generation import RecipeGenerator
from generation.int8 import (
    FusedRMSNorm,
    Int8Linear,
    quantize_int8,
    resolve_weights,
    round_to_int8,
    weight_count,
    weights_of,
)
from recipe_schema import Recipe, UsageError
from tests.conftest import load_bench


def _dequantized(layer: torch.nn.Module) -> torch.Tensor:
    q, scale = round_to_int8(layer.weight if isinstance(layer, torch.nn.Linear) else layer.weight.t())
    return q.float() * scale[:, None]


def test_rounding_keeps_each_weight_within_half_a_step_of_its_row():
    w = torch.randn(48, 64, generator=torch.Generator().manual_seed(0))
    w[3] = 0.0  # an all-zero row is not a division by zero
    q, scale = round_to_int8(w)
    assert q.dtype == torch.int8 and q.abs().max() <= 127
    assert torch.all((q.float() * scale[:, None] - w).abs() <= scale[:, None] / 2 + 1e-7)
    assert torch.all(q[3] == 0)


class _Block(torch.nn.Module):
    """Linear layers named as a Llama block names them, and a GPT-2 Conv1D."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.q_proj, self.k_proj, self.v_proj = (torch.nn.Linear(64, n, bias=b) for n, b in
                                                 ((64, False), (32, True), (32, False)))
        self.o_proj = torch.nn.Linear(64, 96)
        self.c_fc = Conv1D(128, 64)  # GPT-2's: weight (in, out)
        self.odd = torch.nn.Linear(40, 16)  # a width the kernel cannot take


def test_each_layer_gives_the_product_of_its_rounded_weight():
    block = _Block()
    plain = copy.deepcopy(block)
    quantize_int8(block)
    names = ("q_proj", "k_proj", "v_proj", "o_proj", "c_fc")
    assert all(isinstance(getattr(block, n), Int8Linear) for n in names)
    assert isinstance(block.odd, torch.nn.Linear) and block.odd.weight.dtype == torch.bfloat16
    x = torch.randn(3, 5, 64)
    for name in names:
        layer = getattr(plain, name)
        bias = layer.bias if layer.bias is not None else 0.0
        expected = x @ _dequantized(layer).T + bias
        got = getattr(block, name)(x.to(torch.bfloat16)).float()
        assert got.shape == expected.shape
        assert (got - expected).abs().max() < 0.05 * expected.abs().max()  # bfloat16 activations


def test_a_prompts_many_rows_take_the_bfloat16_product_with_the_same_weights():
    block = quantize_int8(_Block())
    stack = block.o_proj.stack
    wide = torch.randn(40, 64, dtype=torch.bfloat16)  # past WIDE_ROWS: a prompt's prefill
    by_rows = torch.cat([stack.product(wide[i:i + 8]) for i in range(0, 40, 8)])  # the kernel, 8 rows a call
    got = stack.product(wide)
    assert got.shape == by_rows.shape == (40, 96)
    assert (got.float() - by_rows.float()).abs().max() <= 0.02 * by_rows.float().abs().max()


def test_siblings_share_one_product_and_still_answer_any_input():
    block = quantize_int8(_Block())
    assert block.q_proj.stack is block.k_proj.stack is block.v_proj.stack
    x1, x2 = (torch.randn(2, 64, dtype=torch.bfloat16) for _ in range(2))
    alone = [block.k_proj(x2), block.q_proj(x1), block.v_proj(x1)]
    mixed = [block.q_proj(x1), block.k_proj(x2), block.v_proj(x1)]  # k on another input in between
    assert torch.equal(mixed[0], alone[1]) and torch.equal(mixed[1], alone[0])
    assert torch.equal(mixed[2], alone[2])
    assert torch.equal(block.v_proj(x1), alone[2])  # v's second call on x1: multiplied again
    fresh = quantize_int8(_Block())
    fresh.q_proj(x1), fresh.k_proj(x1)
    assert fresh.q_proj.stack.last.memo[0] is x1  # held for v
    fresh.v_proj(x1)
    assert fresh.q_proj.stack.last.memo is None  # every layer took its part: nothing is held


def test_an_input_changed_in_place_between_siblings_is_multiplied_again():
    block = quantize_int8(_Block())
    x = torch.randn(2, 64, dtype=torch.bfloat16)
    block.q_proj(x)
    x.mul_(2.0)  # the same tensor, other numbers
    assert torch.equal(block.k_proj(x), quantize_int8(_Block()).k_proj(x))


def test_a_stacked_layer_equals_the_same_layer_alone():
    block = _Block()
    alone = quantize_int8(torch.nn.ModuleDict({"x": copy.deepcopy(block.k_proj)}))
    quantize_int8(block)
    x = torch.randn(4, 64, dtype=torch.bfloat16)
    block.q_proj(x)
    assert torch.equal(block.k_proj(x), alone["x"](x))


def test_a_model_keeps_its_rope_frequencies_and_its_parameter_count(tiny_llama):
    model = copy.deepcopy(tiny_llama[1].model)
    count = weight_count(model)
    quantize_int8(model)
    assert weights_of(model) == "int8" and weight_count(model) == count
    assert model.model.rotary_emb.inv_freq.dtype == torch.float32
    assert isinstance(model.model.norm, FusedRMSNorm) and isinstance(model.model.layers[0].input_layernorm,
                                                                      FusedRMSNorm)
    assert model.lm_head.float_output
    logits = model(torch.tensor([[5, 6, 7]])).logits
    assert logits.dtype == torch.float32


def test_the_fused_norm_gives_what_transformers_norm_gives_up_to_rounding():
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    norm = LlamaRMSNorm(64, eps=1e-5)
    torch.nn.init.normal_(norm.weight)
    x = torch.randn(2, 3, 64)
    assert torch.allclose(FusedRMSNorm(norm)(x), norm(x), atol=1e-5)  # float32: the same
    norm.to(torch.bfloat16)
    xb = x.to(torch.bfloat16)
    fused, theirs = FusedRMSNorm(norm)(xb), norm(xb)  # bfloat16: rounded once, not twice
    assert fused.dtype == torch.bfloat16
    step = theirs.float().abs() * 2.0**-7  # one bfloat16 step (8 bits of mantissa)
    assert torch.all((fused.float() - theirs.float()).abs() <= step + 1e-6)


def test_loading_with_int8_weights_decodes_valid_recipes(tiny_llama, tiny):
    for path, _ in (tiny_llama, tiny):
        gen = RecipeGenerator.from_pretrained(path, guard=False, weights="int8")
        assert weights_of(gen.model) == "int8"
        result = gen.generate("Pancakes?", mode="recipe", max_total_tokens=120)
        assert result.finished
        Recipe.model_validate(result.answer.model_dump())
        rows = gen.generate_batch(["Pancakes?", "Lentil soup with a much longer question?", "Tea?"],
                                  batch_size=2, mode="recipe", max_total_tokens=90)
        assert all(r.finished for r in rows)


def test_int8_weights_are_another_model_for_saved_states(tiny_llama):
    path, fp32 = tiny_llama
    int8 = RecipeGenerator.from_pretrained(path, guard=False, weights="int8")
    assert int8.model_id != fp32.model_id  # a state started in fp32 does not resume on int8 unnoticed


def test_the_logits_stay_close_to_fp32s(tiny_llama):
    path, fp32 = tiny_llama
    model = quantize_int8(copy.deepcopy(fp32.model))
    ids = torch.tensor([[3, 17, 40, 8, 99, 5]])
    with torch.no_grad():
        a, b = fp32.model(ids).logits, model(ids).logits
    assert torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1] > 0.99


def test_bad_weights_and_devices_are_refused(tiny_llama):
    path = tiny_llama[0]
    with pytest.raises(UsageError, match="weights must be one of auto, fp32, int8"):
        RecipeGenerator.from_pretrained(path, guard=False, weights="int4")
    with pytest.raises(UsageError, match="CPU inference"):
        RecipeGenerator.from_pretrained(path, guard=False, weights="int8", device="cuda")
    assert resolve_weights("auto", "cuda") == "fp32" and resolve_weights("fp32") == "fp32"
    expected = "int8" if torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512") else "fp32"
    assert resolve_weights("auto") == resolve_weights("auto", torch.device("cpu")) == expected
    assert resolve_weights("int8", "cpu:0") == "int8"
    with pytest.raises(UsageError, match="not a device: 'gpu'"):
        resolve_weights("auto", "gpu")
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    unfit = torch.nn.ModuleDict({"norm": LlamaRMSNorm(40), "odd": torch.nn.Linear(40, 8)})
    with pytest.raises(UsageError, match="no linear layers int8 weights fit"):
        quantize_int8(unfit)
    assert isinstance(unfit["norm"], LlamaRMSNorm) and unfit["odd"].weight.dtype == torch.float32  # as it was


class _OddHead(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body, self.head = torch.nn.Linear(64, 40), torch.nn.Linear(40, 8)  # 40: no int8 for the head

    def get_output_embeddings(self) -> torch.nn.Module:
        return self.head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def test_an_output_layer_int8_cannot_take_still_gives_float32_logits():
    model = quantize_int8(_OddHead())
    assert isinstance(model.body, Int8Linear)
    assert model(torch.randn(2, 64, dtype=torch.bfloat16)).dtype == torch.float32


def test_the_stacked_mlp_gives_the_numbers_of_the_mlp_it_replaces(tiny_llama):
    from generation.int8 import StackedMLP

    model = quantize_int8(copy.deepcopy(tiny_llama[1].model))
    stacked = model.model.layers[0].mlp
    assert isinstance(stacked, StackedMLP) and len(list(stacked.children())) == 4  # nothing registered twice
    plain = type(tiny_llama[1].model.model.layers[0].mlp).forward  # transformers' own forward, same layers
    x = torch.randn(2, 3, stacked.gate_proj.in_features, dtype=torch.bfloat16)
    assert torch.equal(stacked(x), plain(stacked, x))


def test_converting_twice_changes_nothing_and_a_copy_gives_the_same_logits(tiny_llama):
    model = quantize_int8(copy.deepcopy(tiny_llama[1].model))
    layer = model.model.layers[0].self_attn.q_proj
    assert quantize_int8(model) is model and model.model.layers[0].self_attn.q_proj is layer
    copied = copy.deepcopy(model)  # a copy multiplies with its own stacks
    ids = torch.tensor([[5, 6, 7]])
    assert torch.equal(copied(ids).logits, model(ids).logits)


def test_the_bench_compares_int8_with_fp32(tiny_llama, capsys):
    import json

    bench = load_bench("int8_weights")
    args = ["--model", str(tiny_llama[0]), "--tokens", "24", "--repeats", "1", "--threads", "1",
            "--prefill", "40"]
    assert bench.main(args) == 0
    result = json.loads(capsys.readouterr().out)
    arms = result["arms"]
    assert set(result["prefill_ms"]["40"]) == {"fp32", "int8, kernel only", "int8"}
    assert {"fp32", "int8", "bf16"} <= set(arms) and arms["fp32"]["ratio"] == 1.0
    assert arms["int8"]["tokens_per_s"] > 0
