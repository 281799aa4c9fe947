"""Per-item benchmark scores from lm-evaluation-harness output or from a generic per-item file.

lm-evaluation-harness (``lm_eval ... --output_path DIR --log_samples``) writes ``results_<timestamp>.json`` and,
beside it, one ``samples_<task>_<timestamp>.jsonl`` per task. The results file's ``results`` block holds each
task's aggregates under ``"metric,filter"`` keys (``acc,none``, ``exact_match,strict-match``, with
``"<metric>_stderr,<filter>"`` beside them, possibly ``"N/A"``); ``group_subtasks`` maps a group (``mmlu``) to its
subtasks. A sample-log row holds ``doc_id``, ``filter``, ``doc_hash`` and one key per metric (``"acc": 1.0``,
``"prompt_level_strict_acc": true``); a sample log has one row per document and filter. Groups have no sample log
of their own: by default a top-level group's leaf subtasks are pooled into one task named after the group (every
document counts once, as lm-eval's size-weighted group mean does), or reported one by one with ``split_groups``.

A generic per-item file (JSONL, JSON array or CSV) has columns ``task,item_id,score`` (score in [0, 1]) and
optionally ``doc_hash``, for benchmarks run elsewhere.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from grader.io import read_json, read_rows
from grader.types import InputError

# Preferred primary metrics, best first; a task's first metric that has per-item values in [0, 1] is used.
METRIC_PREFERENCE = ("prompt_level_strict_acc", "exact_match", "acc", "acc_norm", "pass@1", "em",
                     "prompt_level_loose_acc")
FILTER_PREFERENCE = ("none", "strict-match", "strict_match")
SAMPLES_RE = re.compile(r"^samples_(?P<task>.+)_(?P<ts>\d{4}-\d{2}-\d{2}T[0-9.\-]+)\.jsonl$")


@dataclass
class TaskItems:
    """One task's per-item scores in one run."""
    task: str
    metric: str                      # "acc,none", "exact_match,strict-match", or "score" for a generic file
    scores: dict[str, float]         # item id -> score in [0, 1]
    hashes: dict[str, str | None]    # item id -> doc_hash (None when the source has none)
    sources: list[str]
    reported: float | None = None    # the results file's aggregate, for a cross-check
    reported_stderr: float | None = None  # None when absent or "N/A"
    subtasks: list[str] = field(default_factory=list)


@dataclass
class RunFile:
    path: str
    kind: str                        # "lm-eval" or "per-item"
    tasks: dict[str, TaskItems]
    notes: dict[str, str] = field(default_factory=dict)  # task -> why it has no per-item scores in this file
    config: dict = field(default_factory=dict)


def parse_metric_overrides(specs: list[str]) -> dict[str, str]:
    """``["gsm8k=exact_match,flexible-extract", "arc=acc_norm"]`` -> {task: "metric,filter"} (filter default none)."""
    out = {}
    for spec in specs or []:
        task, sep, metric = spec.partition("=")
        if not sep or not task.strip() or not metric.strip():
            raise InputError("--metric", f"expected task=metric,filter, got {spec!r}")
        metric = metric.strip()
        out[task.strip()] = metric if "," in metric else f"{metric},none"
    return out


def load_run_file(path: str | Path, overrides: dict[str, str] | None = None, split_groups: bool = False) -> RunFile:
    """Read one ``path`` of runs.csv: an lm-eval output (directory or results_*.json) or a generic per-item file."""
    p = Path(path)
    if p.is_dir() or p.name.startswith("results_"):
        return load_lmeval(p, overrides or {}, split_groups)
    if p.suffix.lower() == ".json":
        data = read_json(p, "run file")
        if isinstance(data, dict) and "results" in data:
            return load_lmeval(p, overrides or {}, split_groups)
    return load_item_file(p)


def load_item_file(path: Path) -> RunFile:
    rows = read_rows(path, "per-item file")
    tasks: dict[str, TaskItems] = {}
    for i, row in enumerate(rows):
        missing = [k for k in ("task", "item_id", "score") if row.get(k) in (None, "")]
        if missing:
            raise InputError(path, f"missing {', '.join(missing)} (columns task,item_id,score)", i)
        task, item = str(row["task"]).strip(), str(row["item_id"]).strip()
        score = _unit_score(row["score"])
        if score is None:
            raise InputError(path, f"score must be a number in [0, 1], got {row['score']!r}", i, item)
        t = tasks.setdefault(task, TaskItems(task, "score", {}, {}, [str(path)]))
        if item in t.scores:
            raise InputError(path, f"duplicate item_id for task {task!r}", i, item)
        t.scores[item] = score
        t.hashes[item] = str(row["doc_hash"]) if row.get("doc_hash") not in (None, "") else None
    if not tasks:
        raise InputError(path, "no rows (expected columns task,item_id,score)")
    return RunFile(str(path), "per-item", tasks)


def _unit_score(v: object) -> float | None:
    """A per-item score in [0, 1] from JSON or CSV (bools and "true"/"false" count as 1/0); None otherwise."""
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("true", "false"):
            return float(s == "true")
        try:
            v = float(s)
        except ValueError:
            return None
    if isinstance(v, (int, float)) and math.isfinite(v) and 0.0 <= v <= 1.0:
        return float(v)
    return None


def _results_file(path: Path) -> Path:
    if not path.is_dir():
        if not path.is_file():
            raise InputError(path, "lm-evaluation-harness results file not found")
        return path
    found = sorted(path.rglob("results_*.json"))
    if not found:
        raise InputError(path, "no results_*.json in this directory (is it an lm_eval --output_path?)")
    if len(found) > 1:
        raise InputError(path, f"{len(found)} results_*.json files here ({found[0].name}, ...); "
                               "name one file per row of runs.csv")
    return found[0]


def _stderr(v: object) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def load_lmeval(path: Path, overrides: dict[str, str], split_groups: bool) -> RunFile:
    rfile = _results_file(path)
    data = read_json(rfile, "lm-evaluation-harness results file")
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise InputError(rfile, "not an lm-evaluation-harness results file (no \"results\" object)")
    results: dict = data["results"]
    subtasks = {g: list(s) for g, s in (data.get("group_subtasks") or {}).items() if isinstance(s, list) and s}
    group_block = data.get("groups") if isinstance(data.get("groups"), dict) else {}
    groups = set(subtasks) | set(group_block)

    def leaves(t: str) -> list[str]:
        return [x for s in subtasks[t] for x in leaves(s)] if t in subtasks else [t]

    nested = {s for subs in subtasks.values() for s in subs}
    if split_groups:
        units = {t: [t] for t in results if t not in groups}
    else:
        units = {g: leaves(g) for g in subtasks if g not in nested}
        covered = {x for ls in units.values() for x in ls}
        units.update({t: [t] for t in results if t not in groups and t not in covered})
    run = RunFile(str(rfile), "lm-eval", {}, config=_run_config(data))
    stamp = rfile.stem[len("results_"):] if rfile.stem.startswith("results_") else None
    for unit, members in units.items():
        override = overrides.get(unit)
        pooled, metric, note = [], None, None
        for leaf in members:
            got = _leaf_items(rfile, stamp, leaf, results.get(leaf, {}), overrides.get(leaf, override))
            if isinstance(got, str):
                note = f"{leaf}: {got}" if len(members) > 1 else got
                break
            if metric is not None and got.metric != metric:
                raise InputError(rfile, f"subtasks of {unit!r} use different metrics ({metric} for {pooled[0].task}, "
                                        f"{got.metric} for {leaf}); choose one with --metric {unit}=METRIC,FILTER")
            metric = got.metric
            pooled.append(got)
        if note is not None:
            run.notes[unit] = note
            continue
        if len(members) == 1 and members[0] == unit:
            run.tasks[unit] = pooled[0]
            continue
        entry = results.get(unit) or group_block.get(unit) or {}
        name, _, filt = metric.partition(",")
        items = TaskItems(unit, metric, {}, {}, [], _number(entry.get(metric)),
                          _stderr(entry.get(f"{name}_stderr,{filt}")), [t.task for t in pooled])
        for t in pooled:
            items.sources += t.sources
            items.scores.update({f"{t.task}/{k}": v for k, v in t.scores.items()})
            items.hashes.update({f"{t.task}/{k}": v for k, v in t.hashes.items()})
        run.tasks[unit] = items
    return run


def _number(v: object) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _run_config(data: dict) -> dict:
    cfg = data.get("config") if isinstance(data.get("config"), dict) else {}
    keep = ("model", "model_args", "random_seed", "numpy_seed", "torch_seed", "fewshot_seed", "limit")
    out = {k: cfg[k] for k in keep if k in cfg and isinstance(cfg[k], (str, int, float, type(None)))}
    for k in ("lm_eval_version", "git_hash", "date", "model_name"):
        if isinstance(data.get(k), (str, int, float)):
            out[k] = data[k]
    return out


def _samples_file(rfile: Path, stamp: str | None, task: str) -> Path | None:
    if stamp:
        exact = rfile.parent / f"samples_{task}_{stamp}.jsonl"
        if exact.is_file():
            return exact
    found = [f for f in sorted(rfile.parent.glob("samples_*.jsonl"))
             if (m := SAMPLES_RE.match(f.name)) and m.group("task") == task]
    if len(found) > 1:
        raise InputError(rfile.parent, f"{len(found)} sample logs for task {task!r} and none with the results "
                                       f"file's timestamp; keep one run per directory")
    return found[0] if found else None


def _metric_candidates(entry: dict) -> list[str]:
    keys = [k for k in entry if isinstance(k, str) and "," in k and not k.split(",")[0].endswith("_stderr")]

    def rank(k: str) -> tuple:
        name, _, filt = k.partition(",")
        mi = METRIC_PREFERENCE.index(name) if name in METRIC_PREFERENCE else len(METRIC_PREFERENCE)
        fi = FILTER_PREFERENCE.index(filt) if filt in FILTER_PREFERENCE else len(FILTER_PREFERENCE)
        return mi, fi, k
    return sorted(keys, key=rank)


def _leaf_items(rfile: Path, stamp: str | None, task: str, entry: dict, override: str | None) -> TaskItems | str:
    """The task's per-item scores, or a string saying why there are none (reported, never dropped silently)."""
    sfile = _samples_file(rfile, stamp, task)
    if sfile is None:
        return "no samples_<task>_*.jsonl beside the results file (run lm_eval with --log_samples)"
    rows = read_rows(sfile, "lm-evaluation-harness sample log")
    candidates = [override] if override else _metric_candidates(entry if isinstance(entry, dict) else {})
    if not candidates:
        return "the results file lists no metric for this task"
    reasons = []
    for metric in candidates:
        name, _, filt = metric.partition(",")
        got = _items_for(sfile, rows, name, filt)
        if isinstance(got, str):
            reasons.append(f"{metric}: {got}")
            continue
        scores, hashes = got
        return TaskItems(task, metric, scores, hashes, [str(sfile)], _number(entry.get(metric)),
                         _stderr(entry.get(f"{name}_stderr,{filt}")))
    if override:
        raise InputError(sfile, f"--metric {task}={override}: {reasons[0]}")
    return "no per-item metric in [0, 1] (" + "; ".join(reasons) + ")"


def _items_for(sfile: Path, rows: list[dict], name: str, filt: str):
    scores: dict[str, float] = {}
    hashes: dict[str, str | None] = {}
    seen_filter = False
    for i, row in enumerate(rows):
        if row.get("filter", "none") != filt:
            continue
        seen_filter = True
        if "doc_id" not in row:
            raise InputError(sfile, "sample row has no doc_id", i)
        doc = str(row["doc_id"])
        if name not in row:
            return f"sample rows have no {name!r} value"
        v = row[name]
        if isinstance(v, (list, dict)):
            return "not a per-item metric (its sample values are aggregated at the corpus level)"
        score = _unit_score(v) if not isinstance(v, str) else None
        if score is None:
            return f"per-item value {v!r} (doc_id {doc}) is not a number in [0, 1]"
        if doc in scores:
            raise InputError(sfile, f"doc_id {doc} appears twice for filter {filt!r}", i)
        scores[doc] = score
        hashes[doc] = row.get("doc_hash") if isinstance(row.get("doc_hash"), str) else None
    if not seen_filter:
        return f"no sample rows with filter {filt!r}"
    return scores, hashes
