"""What a run leaves behind: the model directory, its record and its model card.

The output directory appears only complete. Everything is written into a sibling
temporary directory, which is then renamed onto ``OUT`` (a rename is atomic on one
file system); a model from an earlier run there is moved aside first and deleted
after. A crash at any moment leaves either the old model or the new one, never a
mix. While training, checkpoints live in ``OUT.checkpoints`` beside it.
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone
from fnmatch import fnmatch
from importlib import metadata
from pathlib import Path
from typing import Any

from generation.base import file_sha256
from recipe_schema import SCHEMA_VERSION, InputFileError, UsageError, refuse_overwriting_inputs

logger = logging.getLogger("souschef.training")

RECORD = "souschef.json"
CARD = "README.md"
GUARD = "guard.json"  # generation.guard.GUARD_FILE, named here without importing torch with it
LIBRARIES = ("souschef", "torch", "transformers", "tokenizers", "accelerate", "peft", "pydantic")


def checkpoint_dir(out: str | Path) -> Path:
    """Where a run keeps its checkpoints: ``OUT.checkpoints`` beside ``OUT``."""
    out = Path(out)
    return out.with_name(out.name + ".checkpoints")


# What a souschef model directory may hold, for one written before its record listed its
# files: save_pretrained's files (transformers 4.x and 5.x) and ours.
MODEL_FILES = ("config.json", "generation_config.json", "model.safetensors", "model-*.safetensors",
               "model.safetensors.index.json", "pytorch_model*.bin", "pytorch_model.bin.index.json",
               "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
               "vocab.json", "merges.txt", "chat_template.jinja", "chat_template.json", RECORD, CARD,
               GUARD, "adapter_config.json", "adapter_model.safetensors")
# What a run keeps beside its checkpoints (resume.RUN_FILE, resume.TOKENIZER_DIR) and transformers'.
CHECKPOINT_FILES = ("run.json", "tokenizer", "checkpoint-*", ".run.json.*.tmp", ".tokenizer.*.tmp")


def check_target(out: str | Path, inputs: dict[str, Any] | None = None) -> None:
    """Refuse, before any work, an output path that must not be replaced.

    ``OUT`` may be absent (its parents are created, as ``mkdir -p``), an empty directory
    or a model of an earlier souschef run holding only the files that run wrote; anything
    else (a file, someone's directory, a model with a file added by hand) is left alone
    with a ``UsageError``. So is an ``OUT.checkpoints`` that holds what no run put there,
    and an output that holds one of ``inputs`` (``--data runs/x/mine.jsonl --out runs/x``).
    """
    out = Path(out)
    ckpt = checkpoint_dir(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"out: {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not (out / RECORD).is_file():
            raise UsageError(f"out: {out} is not empty and holds no souschef model; choose another directory")
        foreign = _foreign(out, _written_files(out))
        if foreign:
            raise UsageError(f"out: {out} holds {_some(foreign)} that souschef did not write, which "
                             "replacing the model would delete; move them or choose another directory")
    if ckpt.exists() and not ckpt.is_dir():
        raise UsageError(f"out: {ckpt} (where checkpoints go) exists and is not a directory")
    if ckpt.is_dir():
        foreign = _foreign(ckpt, CHECKPOINT_FILES)
        if foreign:
            raise UsageError(f"out: {ckpt} (where checkpoints go) holds {_some(foreign)} that no souschef "
                             "run put there; move them or choose another directory")
    if out.parent.exists() and not out.parent.is_dir():
        raise InputFileError(str(out), f"{out.parent} is not a directory")
    refuse_overwriting_inputs({"out": out, "out's checkpoints": ckpt}, inputs or {})


def _written_files(out: Path) -> tuple[str, ...]:
    """The names the run that made ``out`` wrote there (its record lists them since it lists files)."""
    try:
        files = json.loads((out / RECORD).read_text(encoding="utf-8")).get("files")
    except (OSError, ValueError, AttributeError):
        files = None
    if isinstance(files, list) and all(isinstance(f, str) for f in files):
        return tuple(files)
    return MODEL_FILES


def _foreign(directory: Path, patterns: tuple[str, ...]) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if not any(fnmatch(p.name, pat) for pat in patterns))


def _some(names: list[str]) -> str:
    shown = ", ".join(names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


@contextlib.contextmanager
def staging_dir(out: str | Path) -> Iterator[Path]:
    """A temporary directory beside ``OUT`` that ``publish`` renames onto it; removed on failure."""
    out = Path(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def clear_staging(out: str | Path) -> None:
    """Tidy what a run killed while publishing left beside ``OUT``.

    A staging directory (``.OUT.*.tmp``) is deleted. An earlier model moved aside
    (``.OUT.*.old/model``) goes back to ``OUT`` when the kill came before the new model
    took its place, and is deleted otherwise.
    """
    out = Path(out)
    if not out.parent.is_dir():
        return
    for leftover in sorted(out.parent.glob(f".{glob.escape(out.name)}.*.old")):
        if not out.exists() and (leftover / "model").is_dir():
            os.replace(leftover / "model", out)
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in out.parent.glob(f".{glob.escape(out.name)}.*.tmp"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)


def publish(staged: Path, out: str | Path) -> None:
    """Move a complete staged directory onto ``OUT`` (atomically replacing an earlier model)."""
    out = Path(out)
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.replace(out, old / "model")
    os.replace(staged, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def save_model_dir(model: Any, tokenizer: Any, out: Path, record: dict[str, Any], guard: Any = None,
                   lora: bool = False, merge: bool = False, base: str | None = None) -> None:
    """Write the final model directory (with its domain guard) into a staging directory, then publish it.

    Parameters
    ----------
    model, tokenizer
        What training made.
    out
        ``OUT``; an earlier model there is replaced whole, atomically.
    record
        ``souschef.json``'s contents (``run_record``), which the model card also shows.
    guard
        A ``generation.guard.DomainGuard`` saved as ``guard.json``.
    lora, merge, base
        A LoRA run writes its adapter alone, unmerged, in fp16 (half the bytes; fp16's
        10-bit mantissa keeps an adapter's small values closer than bf16 would), and its
        record gains the adapter file's SHA-256; with ``merge`` it writes a whole merged
        model, which loads without peft. ``base`` is the base as the user named it.
    """
    adapter = lora and not merge
    if lora and merge:
        model = model.merge_and_unload()
    if not adapter:
        model.config.use_cache = True
    with staging_dir(out) as staged:
        if adapter:
            _save_adapter(model, base or "", staged)
            record = {**record, "adapter_sha256": file_sha256(staged / "adapter_model.safetensors")}
        else:
            model.save_pretrained(str(staged))
            tokenizer.save_pretrained(str(staged))  # a LoRA run adds no token: its base's tokenizer serves
        if guard is not None:
            guard.save(staged / GUARD)
        (staged / CARD).write_text(model_card(record), encoding="utf-8")
        write_record(staged, record)  # last: it lists the files, which the next run may replace
        publish(staged, out)
    logger.info("saved %s", out)


def _save_adapter(model: Any, base: str, staged: Path) -> None:
    """peft's adapter files, with the base named as the user named it and the weights in fp16."""
    from safetensors.torch import load_file, save_file

    model.peft_config["default"].base_model_name_or_path = base  # not the cache folder it resolved to
    model.save_pretrained(str(staged), save_embedding_layers=False)
    weights = staged / "adapter_model.safetensors"
    tensors = {k: v.half().contiguous() for k, v in load_file(str(weights)).items()}
    save_file(tensors, str(weights), metadata={"format": "pt"})


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries a result depends on (``None``: not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> str | None:
    """The commit of the souschef checkout this code runs from, with ``-dirty`` if modified."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None  # an installed copy, or no git
    return commit + ("-dirty" if dirty else "") if commit else None


def run_record(config: dict[str, Any], data: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    """The contents of ``souschef.json``: resolved config, data hashes, results, versions, commit."""
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "schema_version": SCHEMA_VERSION,
        "config": config,
        "data": data,
        "results": results,
        "versions": library_versions(),
        "git_commit": git_commit(),
    }


def write_record(directory: Path, record: dict[str, Any]) -> None:
    """Write ``souschef.json``, listing every file of ``directory`` (itself included) under ``files``.

    A later run over this directory deletes those files and no others (``check_target``).
    """
    record = {**record, "files": sorted({p.name for p in directory.iterdir()} | {RECORD})}
    (directory / RECORD).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _loss(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def model_card(record: dict[str, Any]) -> str:
    """A Hugging Face model card (``README.md``) with the run's data, settings and losses."""
    config, data, results = record["config"], record["data"], record["results"]
    base = f"from scratch ({config['from_scratch']})" if config["from_scratch"] else f"`{config['base']}`"
    adapter = bool(config.get("lora")) and not config.get("merge")
    chat = record.get("prompt_format") == "chat-template"
    unique: dict[str, dict[str, Any]] = {}
    for f in data["files"]:
        unique.setdefault(f["sha256"], f)  # a file given twice is read once
    files = "\n".join(
        f"| `{f['path']}` | {f['format']} | {f['loaded']} | {f['skipped']} | `{f['sha256'][:12]}` |"
        for f in unique.values()
    )
    evals = "\n".join(f"| {e['step']} | {e['loss']:.4f} |" for e in results.get("eval_history", []))
    library = "peft" if adapter else "transformers"
    front = (f"---\nlibrary_name: {library}\npipeline_tag: text-generation\n"
             "tags:\n- souschef\n- recipes\n---\n")
    what = (f"A LoRA adapter (rank 16 on every attention and MLP projection, fp16) for {base}"
            if adapter else "A causal language model")
    layout = ("the base's chat template: a system turn (`recipe_schema.SYSTEM_PROMPT`), the user's "
              "question, then the assistant's turn, which ends with the template's end-of-turn token"
              if chat else "`recipe_schema.format_prompt(question)`; the answer ends with EOS")
    use = """```sh
souschef generate "How do I make pancakes?" --model PATH
```

```python
from generation import RecipeGenerator

generator = RecipeGenerator.from_pretrained("PATH")
print(generator.generate("How do I make pancakes?").recipe)
```
"""
    if adapter:
        use += f"""
Loading reads `{config["base"]}`, checks that its weights are the ones the adapter was
trained on (`base_identity` in `souschef.json`: {record.get("base_identity")}; the adapter
file's SHA-256 is recorded too), and merges the adapter in. Another base is refused.
"""
    else:
        use += """
Token ids from `len(tokenizer)` up pad the embedding matrix to a multiple of 64; the
generation config suppresses them.
"""
    return f"""{front}
# souschef cooking assistant

{what}, trained by `souschef train` to answer cooking questions with a recipe as
compact JSON (schema {record["schema_version"]}) and anything else with `{{"reply": "..."}}`.
Prompts: {layout}.

- Base: {base}; {results["parameters"]:,} parameters; LoRA: {config["lora"]}
- Steps: {results["steps"]}, learning rate {config["lr"]}, batch {config["batch_size"]} x
  {config["seq_len"]} tokens x {config["grad_accum"]} accumulation x {results["world_size"]} processes
- Examples: {data["train_examples"]} training, {data["validation_examples"]} validation
  ({data["windowed"]} longer than {config["seq_len"]} tokens, learned in windows),
  {data["skipped"]} bad records skipped
- Training loss: {_loss(results["train_loss"])}; validation loss: {_loss(results["initial_val_loss"])} before
  training, {_loss(results["val_loss"])} after
- Throughput: {results["tokens_per_second"]:.0f} tokens/s on {results["device"]}
- souschef commit: `{record["git_commit"]}`

## Data

| file | format | records | skipped | sha256 |
|---|---|---|---|---|
{files}

## Validation loss

| step | loss |
|---|---|
{evals}

## Use

{use}
`souschef.json` records the full configuration, data hashes and library versions.
"""
