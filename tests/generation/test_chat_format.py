"""Models with a chat template (SmolLM2's shape): their own prompt layout, their own end of turn,
rotary positions past the window, and models trained before formats were recorded."""
from __future__ import annotations

import json

from generation import RecipeGenerator
from recipe_schema import CHAT_TEMPLATE, PLAIN, SYSTEM_PROMPT, end_of_answer_id, format_prompt, prompt_text
from tests.conftest import N_POSITIONS, build_tokenizer, finish_in_other_processes

PROMPT = "How do I make a quick tomato soup?"


def test_a_template_model_is_prompted_through_its_chat_template(tiny_llama):
    _, gen = tiny_llama
    assert gen.prompt_format == CHAT_TEMPLATE
    text = gen.tokenizer.decode(gen.prompt_ids(PROMPT))
    assert text == (f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n{PROMPT}<|im_end|>\n"
                    "<|im_start|>assistant\n")


def test_the_end_of_turn_token_ends_the_answer(tiny_llama):
    _, gen = tiny_llama
    assert gen.eos_id == gen.tokenizer.convert_tokens_to_ids("<|im_end|>") == gen.stop_ids[0]
    result = gen.generate(PROMPT, max_total_tokens=200)
    assert result.finished and result.answer is not None


def test_every_generation_config_eos_id_ends_an_answer(tiny_llama):
    path, _ = tiny_llama
    gen = RecipeGenerator.from_pretrained(path, guard=False)
    other = gen.tokenizer.convert_tokens_to_ids("<|im_start|>")
    gen.model.generation_config.eos_token_id = [gen.eos_id, other]
    again = RecipeGenerator(gen.model, gen.tokenizer)
    assert again.stop_ids == (gen.eos_id, other)


def test_a_tokenizer_without_a_template_keeps_the_plain_layout(tiny):
    _, gen = tiny
    assert gen.prompt_format == PLAIN
    assert gen.tokenizer.decode(gen.prompt_ids(PROMPT)) == format_prompt(PROMPT)
    assert end_of_answer_id(gen.tokenizer, PLAIN) == gen.tokenizer.eos_token_id


def test_a_template_that_refuses_a_system_turn_gets_it_in_the_user_turn():
    class NoSystem:
        def apply_chat_template(self, messages, tokenize, add_generation_prompt):
            if any(m["role"] == "system" for m in messages):
                raise ValueError("System role not supported")
            return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<model>"

    assert prompt_text("Soup?", NoSystem(), CHAT_TEMPLATE) == f"<user>{SYSTEM_PROMPT}\n\nSoup?<model>"


def test_a_model_trained_before_prompt_formats_keeps_the_plain_layout(tiny_llama, tmp_path):
    path, gen = tiny_llama
    old = tmp_path / "old-run"
    gen.model.save_pretrained(old)
    gen.tokenizer.save_pretrained(old)
    (old / "souschef.json").write_text(json.dumps({"config": {"base": "gpt2"}}))  # no prompt_format
    assert RecipeGenerator.from_pretrained(old, guard=False).prompt_format == PLAIN
    (old / "souschef.json").write_text(json.dumps({"config": {}, "prompt_format": CHAT_TEMPLATE}))
    assert RecipeGenerator.from_pretrained(old, guard=False).prompt_format == CHAT_TEMPLATE


def test_a_rotary_model_resumed_in_another_process_past_its_window_equals_one_run(tiny_llama, tmp_path):
    path, gen = tiny_llama
    settings = {"temperature": 1.0, "seed": 3, "max_total_tokens": 300, "mode": "recipe"}
    one_run = gen.generate(PROMPT, **settings)
    assert len(one_run.state.prompt_ids) + one_run.tokens > N_POSITIONS  # the window slid
    state_file = tmp_path / "state.json"
    state_file.write_text(gen.start(PROMPT, **settings).to_json())
    state = finish_in_other_processes(path, state_file, 70, guard=False, processes=10)
    assert state.finished and state.calls > 2
    assert state.generated_ids == one_run.state.generated_ids


def test_the_default_keep_bounds_what_a_slide_rereads():
    from generation.window import MAX_KEEP, Window, default_keep

    window = Window(prompt_len=60, n_positions=8192, keep=default_keep(8192 - 60))
    assert window.keep == MAX_KEEP and window.start(8192 - 60) == 8192 - 60 - MAX_KEEP
    assert default_keep(100) == 50


def test_the_plain_tokenizer_fixture_has_no_template():
    assert not getattr(build_tokenizer(), "chat_template", None)
