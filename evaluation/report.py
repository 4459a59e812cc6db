"""An evaluation report on disk: ``report.json``, ``samples.jsonl``, ``report.md`` and plots.

The report dict is what ``evaluation.suite`` returns (``format`` ``souschef-report/1``):
the model, the resolved config, the data files with their hashes, library versions, the
git commit, ``metrics`` (each an entry ``{"value", "low", "high", "n", "unit", "label"}``,
fractions in [0, 1]), ``baselines`` (entries of the same shape), ``contamination_by_topic``
and ``timings``. The samples are one dict per generated answer, in a fixed order.

Everything but the timings is deterministic for a fixed seed, and so is ``report.md``
above its last section, which holds what varies between runs (latency, throughput,
wall-clock times).

This module reads and writes the files; ``evaluation.markdown`` writes ``report.md``
(its names are importable from here too).
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from recipe_schema import InputFileError, UsageError, atomic_write, read_bytes, refuse_overwriting_inputs
from recipe_schema.files import PathArg

from .markdown import (
    BASELINES,
    METRIC_ORDER,
    format_interval,
    format_number,
    is_rouge,
    is_timed,
    markdown_table,
    ordered_keys,
    render_markdown,
    unit_label,
)
from .suite import REPORT_FORMAT

FORMAT = REPORT_FORMAT  # the old name, kept for one release: use REPORT_FORMAT
REPORT_JSON = "report.json"
SAMPLES_JSONL = "samples.jsonl"
REPORT_MD = "report.md"


# -- files --------------------------------------------------------------------------------


def _finite(obj: Any) -> Any:
    """``obj`` with every NaN or infinity replaced by None (JSON has no NaN)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _dumps(obj: Any, **kwargs: Any) -> str:
    try:
        return json.dumps(_finite(obj), ensure_ascii=False, allow_nan=False, **kwargs)
    except (TypeError, ValueError) as e:  # a Path, a set, an object: a bug in the caller
        raise ValueError(f"report is not plain JSON: {e}") from e


def report_files(out_dir: str | os.PathLike[str]) -> list[Path]:
    """Every file ``write_report`` writes into ``out_dir`` (and nothing else there is touched)."""
    from .plots import PLOTS

    out = Path(out_dir)
    return [out / REPORT_JSON, out / SAMPLES_JSONL, out / REPORT_MD, *(out / name for name in PLOTS)]


def check_report_dir(out_dir: str | os.PathLike[str],
                     inputs: Mapping[str, PathArg | Iterable[PathArg] | None] | None = None) -> None:
    """Refuse, before any work, a folder whose files a report must not replace.

    The folder may be absent, hold none of the report's files, or be a report folder
    souschef wrote (its ``report.json`` loads): then its report files are replaced and
    nothing else in it is touched. A ``report.md`` (or any file of the report's names)
    that is not beside a souschef ``report.json`` is someone else's and stays.

    Parameters
    ----------
    out_dir
        Where the report will go.
    inputs
        Name -> path(s) of what the evaluation reads (model, data sets): none may be a
        file the report writes.

    Raises
    ------
    UsageError
        Naming the files that would be lost; nothing has been written.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"out: {out} exists and is not a directory")
    files = report_files(out)
    present = [p.name for p in files if p.exists() or p.is_symlink()]
    if present and not _is_report(out / REPORT_JSON):
        raise UsageError(f"out: {out} holds {', '.join(present)} that souschef did not write (no souschef "
                         "report.json beside them); choose another directory")
    refuse_overwriting_inputs({"out": files}, inputs or {})


def _is_report(path: Path) -> bool:
    try:
        load_report(path)
    except InputFileError:
        return False
    return True


def write_report(out_dir: str | os.PathLike[str], report: dict[str, Any],
                 samples: list[dict[str, Any]]) -> dict[str, Path]:
    """Write a report folder: ``report.json``, ``samples.jsonl``, ``report.md`` and the plots.

    Each file is written atomically, ``report.json`` last, so an interrupted write leaves
    the previous complete files (or none) in place, never a half-written one. The JSON is
    strict: a NaN or infinite value (a rate over no samples) is written as ``null``.

    Parameters
    ----------
    out_dir
        The folder; created (with its parents) when missing.
    report
        The report dict (``format`` must be ``souschef-report/1``).
    samples
        The per-sample records, written in the order given.

    Returns
    -------
    dict[str, Path]
        ``{"report", "samples", "markdown", "metrics_plot", "contamination_plot"}`` -> path.

    Raises
    ------
    ValueError
        When ``report`` is not a souschef report or holds values JSON cannot (objects, sets);
        nothing is written then.
    InputFileError
        When the folder cannot be created or written.
    UsageError
        When the folder holds files of the report's names that souschef did not write
        (``check_report_dir``).
    """
    from .plots import CONTAMINATION_PNG, METRICS_PNG, plot_contamination_by_topic, plot_metrics

    if report.get("format") != REPORT_FORMAT:
        raise ValueError(f"report format is {report.get('format')!r}, expected {REPORT_FORMAT!r}")
    check_report_dir(out_dir)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputFileError(str(out), e.strerror or str(e)) from None
    report_text = _dumps(report, indent=2, sort_keys=True) + "\n"  # checked before anything is written
    samples_text = "".join(_dumps(s, sort_keys=True) + "\n" for s in samples)
    report, samples = _finite(report), _finite(samples)  # the Markdown and plots show what the JSON holds
    paths = {
        "metrics_plot": plot_metrics(report, out / METRICS_PNG),
        "contamination_plot": plot_contamination_by_topic(report, out / CONTAMINATION_PNG),
        "samples": out / SAMPLES_JSONL,
        "markdown": out / REPORT_MD,
        "report": out / REPORT_JSON,
    }
    atomic_write(paths["samples"], samples_text)
    atomic_write(paths["markdown"], render_markdown(report, samples))
    atomic_write(paths["report"], report_text)
    return paths


def load_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a report written by ``write_report``.

    Parameters
    ----------
    path
        A report folder or its ``report.json``.

    Returns
    -------
    dict
        The report dict.

    Raises
    ------
    InputFileError
        When the file is missing or unreadable, is not JSON, or is not a souschef report
        (the message is one line: the path and the reason).
    """
    p = Path(path)
    if p.is_dir():
        if not (p / REPORT_JSON).is_file():
            raise InputFileError(str(p), f"not a report folder (no {REPORT_JSON})")
        p = p / REPORT_JSON
    data = read_bytes(str(p))
    try:
        report = json.loads(data.decode("utf-8"))  # bytes would let json guess UTF-16 from a BOM
    except UnicodeDecodeError:
        raise InputFileError(str(p), "not a report (not UTF-8 text)") from None
    except json.JSONDecodeError as e:
        raise InputFileError(str(p), f"not a report (not JSON: {e.msg} at line {e.lineno})") from None
    fmt = report.get("format") if isinstance(report, dict) else None
    if not isinstance(fmt, str) or not fmt.startswith("souschef-report/"):
        raise InputFileError(str(p), "not a souschef report (no \"format\": \"souschef-report/...\")")
    if fmt != REPORT_FORMAT:
        raise InputFileError(str(p), f"report format {fmt} is not supported "
                                     f"(this souschef reads {REPORT_FORMAT})")
    if not isinstance(report.get("metrics"), dict):
        raise InputFileError(str(p), "not a souschef report (no \"metrics\" object)")
    for key, entry in report["metrics"].items():  # what compare and the Markdown compute with
        problem = _entry_problem(entry)
        if problem:
            raise InputFileError(str(p), f"not a souschef report (metrics.{key}{problem})")
    return report


def load_samples(path: str | os.PathLike[str]) -> list[dict[str, Any]] | None:
    """The ``samples.jsonl`` beside a report (``path``: the folder or its ``report.json``), or
    ``None`` when there is none.

    Raises
    ------
    InputFileError
        When the file is there but a line is not a JSON object (the path, the line, why).
    """
    p = Path(path)
    p = (p if p.is_dir() else p.parent) / SAMPLES_JSONL
    if not p.is_file():
        return None
    samples: list[dict[str, Any]] = []
    for number, line in enumerate(read_bytes(str(p)).decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            sample = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputFileError(f"{p}:{number}", f"not a sample (not JSON: {e.msg})") from None
        if not isinstance(sample, dict):
            raise InputFileError(f"{p}:{number}", "not a sample (not a JSON object)")
        samples.append(sample)
    return samples


def _entry_problem(entry: Any) -> str | None:
    """What makes a metric entry unusable (``.value is "high", not a number``), or ``None``."""
    if not isinstance(entry, dict):
        return f" is {_shown(entry)}, not an object"
    for name in ("value", "low", "high"):
        value = entry.get(name)
        if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                      and math.isfinite(value)):
            return f".{name} is {_shown(value)}, not a number"
    n = entry.get("n")
    if n is not None and not (isinstance(n, int) and not isinstance(n, bool)):
        return f".n is {_shown(n)}, not a whole number"
    for name in ("unit", "label"):
        if entry.get(name) is not None and not isinstance(entry[name], str):
            return f".{name} is {_shown(entry[name])}, not text"
    return None


def _shown(value: Any) -> str:
    text = json.dumps(value, allow_nan=True)
    return text if len(text) <= 40 else text[:37] + "..."


__all__ = [
    "BASELINES",
    "FORMAT",
    "REPORT_FORMAT",
    "METRIC_ORDER",
    "REPORT_JSON",
    "REPORT_MD",
    "SAMPLES_JSONL",
    "check_report_dir",
    "format_interval",
    "format_number",
    "is_rouge",
    "is_timed",
    "load_report",
    "load_samples",
    "markdown_table",
    "ordered_keys",
    "render_markdown",
    "report_files",
    "unit_label",
    "write_report",
]
