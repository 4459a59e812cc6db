"""What a suite run is asked to do, and the names of what it measures.

``SuiteConfig`` is the run; ``LABELS`` names every metric key of a report (the gate
names of ``souschef evaluate``), ``SETS`` the sets a run can generate for.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from recipe_schema import UsageError
from recipe_schema.limits import SETTINGS, WEIGHTS

REPORT_FORMAT = "souschef-report/1"
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
TIMING_METRICS = ("latency_p50", "latency_p95", "tokens_per_second")
QUESTION = "How do I make {title}?"

# Where a metric key comes from, for the Markdown report and the docs.
LABELS = {
    "rouge1": "ROUGE-1 F1, title -> recipe (whole recipe)",
    "rouge2": "ROUGE-2 F1, title -> recipe (whole recipe)",
    "rougeL": "ROUGE-L F1, title -> recipe (whole recipe)",
    "rougeLsum": "ROUGE-Lsum F1, title -> recipe (whole recipe)",
    **{f"{f}_{t}": f"{t} F1 of the {f}, title -> recipe"
       for f in ("ingredients", "steps") for t in ROUGE_TYPES},
    **{f"steps_given_ingredients_{t}": f"{t} F1 of the steps, title + ingredients -> steps"
       for t in ROUGE_TYPES},
    "contamination": "off-domain prompts answered with a recipe",
    "contamination_unseen": "off-domain prompts answered with a recipe, topics absent from training",
    "false_refusal": "in-domain prompts answered with a reply instead of a recipe",
    "validity": "answers that validate against the recipe schema (all sets)",
    "completion": "answers finished within the token budget (all sets)",
    "calls_per_recipe": "generation calls per held-out recipe (title -> recipe)",
    "tokens_per_recipe": "tokens per held-out recipe (title -> recipe)",
    "latency_p50": "seconds per answer, median (all sets)",
    "latency_p95": "seconds per answer, 95th percentile (all sets)",
    "tokens_per_second": "generated tokens per second of generation (all sets)",
    "on_topic_heldout": "recipes that are the dish asked for, title -> recipe (title and a third of the "
                        "reference's ingredients)",
    "on_topic_dish": "in-domain prompts naming a dish answered with a recipe whose title names it",
}
SETS = ("heldout", "offdomain", "indomain")  # what a run generates for; --sets picks some
# Answers decoded together. Twice the API's and the chat's 8: a run is hundreds of answers,
# so throughput is what counts, and 16 rows gave 1.33x the answers a second of 8 for 0.8-1 GB
# more memory (docs/BENCHMARKS.md, "`souschef evaluate`, end to end").
EVALUATE_BATCH = 16


@dataclass
class SuiteConfig:
    """What to evaluate and how. Paths left ``None`` use the sets souschef ships.

    ``limit`` caps each set (the first N records); ``seed`` seeds sampling (when
    ``temperature`` > 0) and the bootstrap; ``train`` lists the recipe files the
    nearest-recipe baselines retrieve from (default: the shipped training recipes);
    ``sets`` the sets to generate for (held-out quality depends on the model,
    contamination and refusals on the guard: run those once per guard).
    """

    model: str | None  # None: the assistant souschef ships
    heldout: str | None = None
    offdomain: str | None = None
    indomain: str | None = None
    train: list[str] = field(default_factory=list)
    limit: int | None = None
    seed: int = 0
    guard: bool = True
    temperature: float = 0.0
    max_total_tokens: int = 1024
    max_new_tokens_per_call: int = 256
    bootstrap: int = 1000
    repetition_penalty: float | None = None  # None: the model's own default
    no_repeat_ngram: int | None = None       # None: the model's own default
    jump_forward: bool | None = None         # None: the model's own default
    batch_size: int = EVALUATE_BATCH         # answers decoded together (generation.batch)
    weights: str = "fp32"                    # "int8", "auto": int8 weights for CPU decoding (generation.int8)
    sets: tuple[str, ...] = SETS

    def __post_init__(self) -> None:
        self.sets = tuple(self.sets)
        unknown = [s for s in self.sets if s not in SETS]
        if unknown or not self.sets:
            raise UsageError(f"sets must be some of {', '.join(SETS)}, not {', '.join(unknown) or 'none'}")
        if self.limit is not None and self.limit < 1:
            raise UsageError(f"limit must be at least 1, not {self.limit}")
        if self.weights not in WEIGHTS:
            raise UsageError(f"weights must be one of {', '.join(WEIGHTS)}, not {self.weights!r}")
        SETTINGS["temperature"].check("temperature", self.temperature)  # the range generate's flag has
        for name in ("repetition_penalty", "no_repeat_ngram"):
            if getattr(self, name) is not None:
                SETTINGS[name].check(name, getattr(self, name))
        if self.max_total_tokens < 16 or self.max_new_tokens_per_call < 1:
            raise UsageError("max_total_tokens must be at least 16 and max_new_tokens_per_call at least 1")
        if self.batch_size < 1:
            raise UsageError(f"batch_size must be at least 1, not {self.batch_size}")
        if self.bootstrap < 0:
            raise UsageError(f"bootstrap must be >= 0, not {self.bootstrap}")
