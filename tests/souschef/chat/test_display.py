"""How answers show in the chat: recipes rendered and scaled, replies as plain text."""
from __future__ import annotations

import json

from recipe_schema import Recipe, Reply
from souschef.chat.display import plain_text, render_answer, slug, streaming_text, write_download

STEW = Recipe(title="Bean Stew", servings=4, ingredients=["400 g beans", "1 onion, chopped"],
              steps=["Soften the onion.", "Add the beans."])


def test_a_recipe_renders_as_markdown_with_headings():
    text = render_answer(STEW)
    assert text.startswith("# Bean Stew\n") and "## Ingredients" in text and "1. Soften the onion." in text


def test_servings_scale_the_rendered_recipe():
    text = render_answer(STEW, servings=2)
    assert "**Serves:** 2" in text and "- 200 g beans" in text and "- 1/2 onion, chopped" in text


def test_a_recipe_without_servings_is_shown_as_written_with_a_note():
    text = render_answer(STEW.model_copy(update={"servings": None}), servings=2)
    assert "- 400 g beans" in text and "Shown as written" in text


def test_a_reply_is_plain_text_not_markdown():
    reply = "# Not a heading\n1. not a list\n- nor this *bold* <script>x</script> [link](y)"
    shown = render_answer(Reply(reply=reply))
    assert "\\# Not a heading" in shown and "1\\. not a list" in shown and "\\- nor this" in shown
    assert "\\*bold\\*" in shown and "\\<script\\>" in shown and "\\[link\\]" in shown
    assert shown.replace("\\", "") == reply  # nothing but escapes added


def test_plain_text_keeps_ordinary_sentences_readable():
    assert plain_text("Try 2 eggs. It's easy!") == "Try 2 eggs. It's easy\\!"


def test_a_half_written_answer_shows_as_json_in_a_code_block():
    assert streaming_text('{"title":"Be') == '```json\n{"title":"Be\n```'
    assert "```" not in streaming_text('{"title":"```"}')[7:-4]  # cannot close the block early


def test_download_is_the_recipe_as_shown(tmp_path):
    path = write_download(STEW, 2, tmp_path, "abc")
    assert path == tmp_path / "abc" / "bean-stew.json"
    assert Recipe.model_validate(json.loads(path.read_text())).ingredients[0] == "200 g beans"


def test_slug_makes_a_safe_file_name():
    assert slug("Pad Thai (easy!) / for 2") == "pad-thai-easy-for-2" and slug("???") == "recipe"
