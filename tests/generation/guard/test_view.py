"""A guard that reads the model: its view of a prompt, fitted, saved, and used by generation."""
from __future__ import annotations

import numpy as np
import pytest

from generation import DomainGuard, RecipeGenerator
from generation.guard.view import ViewReader, prompt_pass, prompt_views, shared_prefix
from recipe_schema import ModelLoadError, UsageError

pytest.importorskip("sklearn")

COOKING = ["How do I make shakshuka?", "What can I cook with leeks and potatoes?", "Recipe for banana bread",
           "How long do I boil an egg?", "Give me a quick curry for tonight", "How do I roast a chicken?",
           "Ideas for a vegetarian lasagne", "How to bake sourdough bread at home"]
OTHER = ["How can I implement a binary search in Python?", "Who won the 1998 world cup?",
         "Explain the French revolution", "What is a monad?", "Fix a flat bicycle tyre",
         "Translate hello into German", "Why is the sky blue?", "How do I file my taxes?"]


def fitted(gen: RecipeGenerator) -> DomainGuard:
    reader = ViewReader(gen.model, gen.prompt_ids)
    prompts = COOKING + OTHER
    return DomainGuard.fit(prompts, [True] * len(COOKING) + [False] * len(OTHER), validation_fraction=0.0,
                           views=reader.views(prompts), view_scale=0.3, view_layer=reader.layer,
                           view_prefix=reader.prefix)


@pytest.mark.parametrize("fixture", ["tiny", "tiny_llama"])
def test_the_batched_views_fitting_reads_are_the_views_generation_reads(fixture, request):
    path, _ = request.getfixturevalue(fixture)
    gen = RecipeGenerator.from_pretrained(path, guard=False)
    gen.model = gen.model.double()
    prefix, layer = shared_prefix(gen.prompt_ids), 2
    ids = [gen.prompt_ids(p) for p in COOKING + OTHER]
    batched = prompt_views(gen.model, ids, layer, prefix, batch_size=5)
    for row, one in zip(batched, ids, strict=True):
        view, logits, _ = prompt_pass(gen.model, one, layer, prefix)
        np.testing.assert_allclose(row, view, rtol=0, atol=1e-9)
        assert logits.shape[-1] == gen.model.config.vocab_size


def test_a_guard_that_reads_the_model_saves_loads_and_needs_the_view(tiny_llama, tmp_path):
    _, gen = tiny_llama
    guard = fitted(gen)
    assert guard.reads_model and guard.view_layer == 2 and guard.view_weights.size == 32
    guard.save(tmp_path / "guard.json")
    again = DomainGuard.load(tmp_path / "guard.json")
    view, _, _ = prompt_pass(gen.model, gen.prompt_ids(COOKING[0]), guard.view_layer, guard.view_prefix)
    assert again.score(COOKING[0], view) == guard.score(COOKING[0], view)
    with pytest.raises(UsageError, match="reads the model"):
        guard.score(COOKING[0])
    with pytest.raises(UsageError, match="shape"):
        guard.score(COOKING[0], view[:3])


def test_generation_routes_with_the_view_and_decodes_from_the_same_prompt_pass(tiny_llama):
    path, plain = tiny_llama
    guard = fitted(plain)
    gen = RecipeGenerator.from_pretrained(path, guard=guard)
    passes = []
    hooks = [m.register_forward_pre_hook(lambda module, args: passes.append(module))
             for m in (gen.model, plain.model)]
    modes = set()
    for k, prompt in enumerate((COOKING[1], OTHER[0], OTHER[3])):
        passes.clear()
        state = gen.start(prompt, max_total_tokens=60)
        prefix_read = 1 if k == 0 else 0  # the prompt format's shared prefix, read once
        assert state.guard_score is not None and len(gen._prompt_passes) == 1
        assert len(passes) == 1 + prefix_read
        result = gen.continue_(state)
        assert not gen._prompt_passes  # taken by the decoder, not read a second time
        guarded = len(passes)
        passes.clear()
        same = plain.generate(prompt, mode=state.settings.mode, max_total_tokens=60)
        assert result.state.generated_ids == same.state.generated_ids  # greedy: the same answer
        assert guarded == len(passes)  # routing cost no forward pass of its own
        modes.add(state.settings.mode)
    for hook in hooks:
        hook.remove()
    assert modes == {"recipe", "reply"}
    results = gen.generate_batch(COOKING[:3] + OTHER[:3], batch_size=4, max_total_tokens=60)
    assert all(r.state.finished for r in results) and not gen._prompt_passes


def test_a_guard_fitted_for_another_model_is_refused(tiny, tiny_llama):
    _, llama = tiny_llama
    guard = fitted(llama)
    path, _ = tiny
    guard.view_weights = np.zeros(7)
    with pytest.raises(ModelLoadError, match="fitted for this model"):
        RecipeGenerator.from_pretrained(path, guard=guard)
