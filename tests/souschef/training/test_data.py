"""Loading training data: formats, schema.org names, bad records as FILE:LINE, the split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from postprocess.records import SCHEMA_ORG
from recipe_schema import InputFileError, Recipe, Reply, UsageError, answer_text
from souschef.training import DataError, load_examples, split_examples
from souschef.training.prompts import TEMPLATES, questions_for

PUBLIC = Path(__file__).resolve().parents[4] / "shared" / "data" / "public-domain-recipes"
TOAST = {"title": "Toast", "ingredients": ["2 slices bread"], "steps": ["Toast the bread."]}


def test_schema_org_names_map_onto_schema_fields_only():
    assert set(SCHEMA_ORG.values()) <= set(Recipe.model_fields)


def test_shipped_corpus_loads_without_a_bad_record():
    report = load_examples([])
    assert report.skipped == 0 and report.loaded == len(report.examples) > 800
    assert [Path(f.path).name for f in report.files] == ["recipes.jsonl", "exchanges.jsonl"]
    assert all(len(f.sha256) == 64 for f in report.files)
    assert any(isinstance(e.answer, Reply) for e in report.examples)
    recipe = next(e for e in report.examples if e.origin.endswith("recipes.jsonl:1"))
    assert recipe.prompt in {t.format(title=recipe.answer.title) for t in TEMPLATES}


def test_schema_org_recipe_fields_are_mapped_and_unknown_ones_kept(tmp_path, jsonl):
    record = {
        "@type": "Recipe",
        "name": "  Pancakes ",
        "recipeIngredient": ["1 cup flour", "  ", "1 egg"],
        "recipeInstructions": [
            {"@type": "HowToStep", "text": "Mix."},
            {"@type": "HowToSection", "itemListElement": [{"text": "Fry\n in butter."}]},
        ],
        "prepTime": "PT5M",
        "cookTime": "pt10m",
        "recipeYield": "serves 4",
        "keywords": "breakfast, sweet,",
        "recipeCuisine": ["American"],
        "description": "Fluffy.",
        "url": "https://example.org/p",
        "license": "CC0",
    }
    report = load_examples([jsonl([record], "r.jsonl")])
    (example,) = report.examples
    assert example.answer == Recipe(
        title="Pancakes",
        description="Fluffy.",
        servings=4,
        prep_time="PT5M",
        cook_time="PT10M",
        cuisine="American",
        tags=["breakfast", "sweet"],
        ingredients=["1 cup flour", "1 egg"],
        steps=["Mix.", "Fry in butter."],
    )
    assert example.metadata == {"@type": "Recipe", "url": "https://example.org/p", "license": "CC0"}
    assert example.origin == f"{tmp_path / 'r.jsonl'}:1"
    assert example.answer_text == answer_text(example.answer)


@pytest.mark.parametrize(
    "recipe_yield, servings",
    [
        ("4", 4),
        (6, 6),
        ("4 servings", 4),
        ("Serves 2", 2),
        ("3 people", 3),
        (["1 loaf", "8 servings"], 8),
        ("1 loaf", None),
        ("4-6", None),
        ("24 cookies", None),
        ("500", None),
        ("Depends", None),
    ],
)
def test_recipe_yield_becomes_servings_only_when_it_counts_people(tmp_path, jsonl, recipe_yield, servings):
    report = load_examples([jsonl([{**TOAST, "recipeYield": recipe_yield}], "y.jsonl")])
    assert report.skipped == 0
    (example,) = report.examples
    assert example.answer.servings == servings
    if servings is None:
        assert example.metadata["recipeYield"] == recipe_yield or example.metadata.get("servings")
        assert report.notes and report.notes[0].startswith(f"{tmp_path / 'y.jsonl'}:1: dropped")


def test_bad_records_are_reported_as_file_line_why_and_skipped(tmp_path):
    path = tmp_path / "mixed.jsonl"
    lines = [
        json.dumps(TOAST),
        "{not json",
        "",
        json.dumps([1, 2]),
        json.dumps({"title": "No steps", "ingredients": ["x"]}),
        json.dumps({**TOAST, "ingredients": "   "}),
        json.dumps({"prompt": "Hi?", "answer": {"reply": ""}}),
        json.dumps({"prompt": "", "answer": {"reply": "ok"}}),
        json.dumps({**TOAST, "recipeInstructions": [{"image": "x.png"}], "steps": None}),
        json.dumps({"prompt": "What is 2+2?", "answer": {"reply": "I only cook."}, "topic": "math"}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = load_examples([str(path)])
    assert [str(b) for b in report.bad_records] == [
        f"{path}:2: invalid JSON: Expecting property name enclosed in double quotes (column 2)",
        f"{path}:4: expected a JSON object, got list",
        f"{path}:5: no steps (or recipeInstructions / directions)",
        f"{path}:6: no ingredients (or recipeIngredient / ingredient)",
        f"{path}:7: answer/reply: String should have at least 1 character",
        f"{path}:8: exchange has no prompt (a non-empty string)",
        f"{path}:9: recipeInstructions: step 0 is neither text nor a HowToStep with text",
    ]
    assert (report.loaded, report.skipped) == (2, 7)
    assert (report.files[0].loaded, report.files[0].skipped) == (2, 7)
    assert report.examples[1].metadata == {"topic": "math"}


def test_fail_mode_raises_data_error_at_the_first_bad_record(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(TOAST) + "\n\xff\n", encoding="latin-1")
    with pytest.raises(DataError, match=rf"^{path}:2: not UTF-8 text") as info:
        load_examples([str(path)], on_bad_record="fail")
    assert info.value.exit_code == 1 and len(info.value.bad_records) == 1


def test_missing_files_and_unknown_formats_are_usage_errors(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        load_examples([str(tmp_path / "absent.jsonl")])
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(UsageError, match=r"unknown data format '.txt'"):
        load_examples([str(tmp_path / "notes.txt")])
    with pytest.raises(UsageError, match="on_bad_record"):
        load_examples([], on_bad_record="ignore")


def test_recipenlg_csv_loads_with_json_list_columns(tmp_path):
    path = tmp_path / "recipenlg.csv"
    path.write_text(
        ",title,ingredients,directions,link,source,NER\n"
        '0,No-Bake Cookies,"[""1 c. sugar"", ""1/2 c. milk""]","[""Boil."", ""Drop\nby spoonfuls.""]",'
        'example.com/1,Gathered,"[""sugar""]"\n'
        '1,Broken,"not a list","[""x""]",example.com/2,Gathered,[]\n'
        '2,Only title,"[]","[]",example.com/3,Gathered,[]\n',
        encoding="utf-8",
    )
    report = load_examples([str(path)])
    (example,) = report.examples
    assert example.answer.ingredients == ["1 c. sugar", "1/2 c. milk"]
    assert example.answer.steps == ["Boil.", "Drop by spoonfuls."]
    assert example.metadata == {"link": "example.com/1", "source": "Gathered", "NER": ["sugar"]}
    # The first record spans lines 2-3, so the next one starts on line 4.
    assert [str(b) for b in report.bad_records] == [
        f"{path}:4: column 'ingredients' is not a JSON list: 'not a list'",
        f"{path}:5: no ingredients (or recipeIngredient / ingredient)",
    ]


def test_csv_without_recipenlg_columns_is_one_bad_record(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("name,text\na,b\n", encoding="utf-8")
    report = load_examples([str(path)])
    assert report.examples == [] and str(report.bad_records[0]).startswith(
        f"{path}:1: CSV header lacks column(s)"
    )


@pytest.mark.parametrize(
    "document",
    [
        {
            "@context": "https://schema.org",
            "@type": "Recipe",
            "name": "Toast",
            "recipeIngredient": ["bread"],
            "recipeInstructions": "Toast it.",
        },
        [
            {
                "@type": "Recipe",
                "name": "Toast",
                "recipeIngredient": ["bread"],
                "recipeInstructions": ["Toast it."],
            }
        ],
        {
            "@context": "https://schema.org",
            "@graph": [
                {"@type": "WebPage", "name": "A blog"},
                {
                    "@type": ["Recipe"],
                    "name": "Toast",
                    "recipeIngredient": "bread",
                    "recipeInstructions": "Toast it.",
                },
            ],
        },
    ],
    ids=["object", "list", "graph"],
)
def test_schema_org_json_ld_loads_recipes_and_passes_over_other_nodes(tmp_path, document):
    path = tmp_path / "page.jsonld"
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    report = load_examples([str(path)])
    assert report.skipped == 0
    (example,) = report.examples
    assert (example.answer.title, example.answer.ingredients, example.answer.steps) == (
        "Toast",
        ["bread"],
        ["Toast it."],
    )


def test_json_ld_bad_records_carry_the_line_their_object_starts_on(tmp_path):
    path = tmp_path / "list.json"
    path.write_text(
        '[\n {"title": "Toast", "ingredients": ["b"], "steps": ["t"]},\n\n {"title": "Bad"}\n]\n',
        encoding="utf-8",
    )
    report = load_examples([str(path)])
    assert [str(b) for b in report.bad_records] == [
        f"{path}:4: no ingredients (or recipeIngredient / ingredient)"
    ]
    broken = tmp_path / "broken.json"
    broken.write_text('{\n "title": "Toast",\n "ingredients": [\n}', encoding="utf-8")
    assert str(load_examples([str(broken)]).bad_records[0]).startswith(f"{broken}:4: invalid JSON")


def test_duplicate_examples_are_dropped_and_counted(jsonl):
    report = load_examples([jsonl([TOAST, TOAST, {"prompt": "Toast?", "answer": TOAST}])])
    assert (len(report.examples), report.duplicates) == (2, 1)


def test_a_prompt_made_from_a_title_is_marked_as_made_and_a_written_one_is_not(jsonl):
    made, written = load_examples([jsonl([TOAST, {"prompt": "Toast?", "answer": TOAST}])]).examples
    assert made.templated and made.prompt == questions_for("Toast")[0]
    assert not written.templated and written.prompt == "Toast?"


def test_questions_are_chosen_by_title_hash_and_distinct():
    assert questions_for("Toast")[0].replace("Toast", "{title}") in TEMPLATES
    assert questions_for("Toast") == questions_for("Toast")
    assert len(set(questions_for("Toast", len(TEMPLATES)))) == len(TEMPLATES)
    firsts = {questions_for(f"Dish {i}")[0].replace(f"Dish {i}", "{title}") for i in range(200)}
    assert firsts == set(TEMPLATES)  # every template gets used


def test_split_is_deterministic_by_answer_and_keeps_phrasings_together():
    report = load_examples([])
    train, val = split_examples(report.examples, 0.1)
    assert 0.05 < len(val) / len(report.examples) < 0.2
    assert not {e.answer_text for e in train} & {e.answer_text for e in val}
    again = split_examples(list(reversed(report.examples)), 0.1)[1]
    assert sorted(e.origin for e in again) == sorted(e.origin for e in val)
    assert split_examples(report.examples, 0.0) == (report.examples, [])


def test_split_holds_out_one_answer_when_the_fraction_picks_none():
    examples = load_examples([]).examples[:3]
    train, val = split_examples(examples, 1e-9)
    assert len(val) == 1 and len(train) == 2


@pytest.mark.skipif(
    not PUBLIC.is_dir(), reason="../shared/data/public-domain-recipes is not beside this checkout"
)
def test_shared_public_domain_recipes_load_as_they_are():
    report = load_examples([str(PUBLIC / "train.jsonl"), str(PUBLIC / "val.jsonl")], on_bad_record="fail")
    assert report.loaded == 370 and report.skipped == 0
    assert all(e.metadata.get("license") for e in report.examples)
    assert sum(e.answer.servings is not None for e in report.examples) > 150


# (file, its content, the one bad record reported): work a record may cause is bounded
WORDS = "simmer the onions gently " * 200_000  # 5 MB of ordinary words on one line
OVERSIZED = [
    ("big.jsonl", json.dumps({**TOAST, "description": WORDS}), "big.jsonl:1: too long (5000103 characters; "
     "the limit is 200000)"),
    ("step.jsonl", json.dumps({**TOAST, "steps": ["Toast.", "x" * 10_001]}),
     "step.jsonl:1: /steps/1: too long (10001 characters; the limit is 10000)"),
    ("prompt.jsonl", json.dumps({"prompt": "why " * 3000, "answer": {"reply": "I only cook."}}),
     "prompt.jsonl:1: /prompt: too long (11999 characters; the limit is 10000)"),
    ("reply.jsonl", json.dumps({"prompt": "Why?", "answer": {"reply": "no" * 6000}}),
     "reply.jsonl:1: /answer/reply: too long (12000 characters; the limit is 10000)"),
    ("deep.jsonl", "[" * 100_000 + "]" * 100_000, "deep.jsonl:1: invalid JSON: nested too deeply"),
    ("wide.csv", "title,ingredients,directions\n" + ",".join(['"' + "x" * 100_000 + '"'] * 3),
     "wide.csv:2: too long (300000 characters; the limit is 200000)"),
    ("page.json", json.dumps({"@type": "Recipe", **TOAST, "review": ["great " * 40_000]}),
     "page.json:1: too long (240"),
    ("deep.json", "[" * 100_000 + "]" * 100_000, "deep.json:1: invalid JSON: nested too deeply"),
]


@pytest.mark.parametrize("name, content, bad", OVERSIZED)
def test_an_oversized_record_is_refused_with_its_length_and_the_limit(tmp_path, name, content, bad):
    import time

    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    started = time.perf_counter()
    report = load_examples([str(path)])
    assert len(report.bad_records) == 1 and str(report.bad_records[0]).startswith(str(tmp_path / bad))
    assert report.examples == []
    assert time.perf_counter() - started < 5  # refused, not tokenized or parsed at length
