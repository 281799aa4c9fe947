"""The capability audit: did a fine-tune lose general capability, and does a mitigation win it back?

Reads runs.csv (``model,seed,path``), pairs every model's runs on the same documents per task, and computes the
paired, seed-averaged statistics of ``calibration.stats.paired``. What ``audit.py`` writes is ``audit_record()``.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from calibration.lmeval import RunFile, TaskItems, load_run_file
from calibration.stats.bootstrap import percentile_ci
from calibration.stats.paired import (POINTS, bootstrap_item_means, gap_closed, holm, item_means,
                                      largest_regression, max_drop_verdict, seed_effect, seed_summary,
                                      sign_flip_p)
from grader.io import read_rows
from grader.types import InputError

CI = 0.95


@dataclass
class Run:
    """One model at one seed: the tasks of every runs.csv row with that model and seed."""
    model: str
    seed: str
    files: list[RunFile] = field(default_factory=list)
    tasks: dict[str, TaskItems] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.model} seed {self.seed}"


def load_runs(runs_csv: str | Path, models: list[str], overrides: dict[str, str],
              split_groups: bool = False) -> dict[str, list[Run]]:
    """runs.csv -> {model: [Run per seed]} for the models asked for; relative paths are relative to runs.csv."""
    runs_csv = Path(runs_csv)
    rows = read_rows(runs_csv, "runs file")
    if not rows:
        raise InputError(runs_csv, "no runs (expected columns model,seed,path)")
    by_key: dict[tuple[str, str], Run] = {}
    seen_paths: dict[str, int] = {}
    for i, row in enumerate(rows):
        missing = [k for k in ("model", "seed", "path") if str(row.get(k) or "").strip() == ""]
        if missing:
            raise InputError(runs_csv, f"missing {', '.join(missing)} (columns model,seed,path)", i)
        model, seed, raw = (str(row[k]).strip() for k in ("model", "seed", "path"))
        if model not in models:
            continue
        path = Path(raw) if Path(raw).is_absolute() else runs_csv.parent / raw
        key = str(path.resolve())
        if key in seen_paths:
            raise InputError(runs_csv, f"path {raw!r} is listed twice (first at item {seen_paths[key]})", i)
        seen_paths[key] = i
        if not path.exists():
            raise InputError(runs_csv, f"path {raw!r} not found", i, f"{model} seed {seed}")
        run = by_key.setdefault((model, seed), Run(model, seed))
        rf = load_run_file(path, overrides, split_groups)
        for task, items in rf.tasks.items():
            if task in run.tasks:
                raise InputError(runs_csv, f"task {task!r} of {run.label} is in two files "
                                           f"({run.tasks[task].sources[0]} and {items.sources[0]})", i)
            run.tasks[task] = items
        run.notes.update({t: n for t, n in rf.notes.items() if t not in run.tasks})
        run.files.append(rf)
    out = {m: [r for (mm, _), r in by_key.items() if mm == m] for m in models}
    for m, rs in out.items():
        if not rs:
            known = sorted({str(r.get("model", "")).strip() for r in rows})
            raise InputError(runs_csv, f"no runs for model {m!r} (models in the file: {', '.join(known)})")
        for r in rs:
            for t in list(r.notes):
                if t in r.tasks:
                    del r.notes[t]
    return out


@dataclass
class Aligned:
    """One task's scores on the documents every base and candidate run shares: matrices (seeds, items)."""
    task: str
    metric: str
    items: list[str]
    scores: dict[str, np.ndarray]              # model -> (seeds, items); mitigations only where complete
    unavailable: dict[str, str]                # mitigation -> why it has no scores on these items
    excluded: dict


def _why_missing(runs: list[Run], task: str) -> str | None:
    """Which runs lack the task's per-item scores and why (runs with the same reason named together); None if none."""
    by_note: dict[str | None, list[str]] = {}
    for r in runs:
        if task not in r.tasks:
            by_note.setdefault(r.notes.get(task), []).append(r.label)
    if not by_note:
        return None
    return "; ".join(f"no per-item scores in {', '.join(labels)} ({note})" if note else
                     f"missing from {', '.join(labels)}" for note, labels in by_note.items())


def align(runs: dict[str, list[Run]], base: str, candidate: str, mitigations: list[str]
          ) -> tuple[list[Aligned], list[dict]]:
    """Pair the runs per task on (task, item id) with equal doc_hash; returns (aligned tasks, skipped tasks)."""
    pair = runs[base] + runs[candidate]
    order: list[str] = []
    for r in pair:
        order += [t for t in list(r.tasks) + list(r.notes) if t not in order]
    aligned, skipped = [], []
    for task in order:
        missing = _why_missing(pair, task)
        if missing:
            skipped.append({"task": task, "reason": missing})
            continue
        metrics = sorted({r.tasks[task].metric for r in pair})
        if len(metrics) > 1:
            skipped.append({"task": task, "reason": f"runs use different metrics ({', '.join(metrics)})"})
            continue
        ref = pair[0].tasks[task]
        keep, mism, absent = [], [], []
        for item in ref.scores:
            h = ref.hashes.get(item)
            if any(item not in r.tasks[task].scores for r in pair[1:]):
                absent.append(item)
            elif any(h is not None and r.tasks[task].hashes.get(item) not in (None, h) for r in pair[1:]):
                mism.append(item)
            else:
                keep.append(item)
        extra = sorted({i for r in pair[1:] for i in r.tasks[task].scores if i not in ref.scores})
        absent += extra
        excluded = {"missing_in_some_run": len(absent), "doc_hash_mismatch": len(mism),
                    "examples": (mism + absent)[:5]}
        if not keep:
            skipped.append({"task": task, "reason": f"no documents in common with equal doc_hash "
                                                    f"({len(mism)} mismatched, {len(absent)} missing)"})
            continue
        scores = {m: np.array([[r.tasks[task].scores[i] for i in keep] for r in runs[m]]) for m in (base, candidate)}
        unavailable = {}
        for m in mitigations:
            why = _why_missing(runs[m], task)
            if why:
                unavailable[m] = why
                continue
            bad = [i for i in keep for r in runs[m] if i not in r.tasks[task].scores
                   or (ref.hashes.get(i) and r.tasks[task].hashes.get(i) not in (None, ref.hashes[i]))]
            if r_metric := {r.tasks[task].metric for r in runs[m]} - {metrics[0]}:
                unavailable[m] = f"uses a different metric ({', '.join(sorted(r_metric))})"
            elif bad:
                unavailable[m] = f"{len(set(bad))} of the {len(keep)} paired documents are missing or differ"
            else:
                scores[m] = np.array([[r.tasks[task].scores[i] for i in keep] for r in runs[m]])
        aligned.append(Aligned(task, metrics[0], keep, scores, unavailable, excluded))
    return aligned, skipped


def task_seed(seed: int, task: str) -> int:
    """A per-task resampling seed: adding or removing a task leaves the others' figures unchanged."""
    return int(np.random.SeedSequence([seed, zlib.crc32(task.encode())]).generate_state(1)[0])


def analyse(aligned: list[Aligned], base: str, candidate: str, mitigations: list[str], max_drop: float,
            n_boot: int, seed: int) -> dict:
    """Every figure of audit.json's ``tasks`` and ``largest_regression``."""
    tasks, reps, deltas = {}, {}, {}
    for a in aligned:
        s = task_seed(seed, a.task)
        names = [m for m in [base, candidate, *mitigations] if m in a.scores]
        vecs = {m: item_means(a.scores[m]) for m in names}
        boot = bootstrap_item_means([vecs[m] for m in names], n_boot, s)
        col = {m: boot[:, j] for j, m in enumerate(names)}
        d_reps = (col[candidate] - col[base]) * POINTS
        diffs = vecs[candidate] - vecs[base]
        delta = float(diffs.mean()) * POINTS
        ci = percentile_ci(d_reps, CI)
        p, p_method = sign_flip_p(diffs, n_boot, s)
        models = {}
        for m in names:
            mean, sd = seed_summary(a.scores[m])
            eff = seed_effect(a.scores[m])
            models[m] = {"mean": mean, "seed_sd": sd, "n_seeds": int(a.scores[m].shape[0]),
                         "seed_effect_p": None if eff is None else eff[1]}
        entry = {"metric": a.metric, "n_items": len(a.items), "models": models, "delta": delta, "ci": ci,
                 "p_value": p, "p_method": p_method, "p_holm": None,
                 "max_drop_verdict": max_drop_verdict(ci, max_drop), "excluded_items": a.excluded,
                 "mitigations": {}}
        for m in mitigations:
            if m not in a.scores:
                entry["mitigations"][m] = {"gap_closed": None, "ci": None, "note": a.unavailable[m],
                                           "delta_vs_base": None, "delta_vs_base_ci": None, "max_drop_verdict": None}
                continue
            mv = vecs[m]
            share, share_ci, note = gap_closed(col[base], col[candidate], col[m], float(vecs[base].mean()),
                                               float(vecs[candidate].mean()), float(mv.mean()), ci, CI)
            vb_ci = percentile_ci((col[m] - col[base]) * POINTS, CI)
            entry["mitigations"][m] = {"gap_closed": share, "ci": share_ci, "note": note,
                                       "delta_vs_base": float((mv - vecs[base]).mean()) * POINTS,
                                       "delta_vs_base_ci": vb_ci, "max_drop_verdict": max_drop_verdict(vb_ci, max_drop)}
        tasks[a.task], reps[a.task], deltas[a.task] = entry, d_reps, delta
    for t, ph in zip(tasks, holm([tasks[t]["p_value"] for t in tasks])):
        tasks[t]["p_holm"] = ph
    worst = largest_regression(reps, deltas) if tasks else None
    largest = None
    if worst:
        t, p_largest = worst
        largest = {"task": t, "delta": tasks[t]["delta"], "ci": tasks[t]["ci"], "p_largest": p_largest}
    return {"tasks": tasks, "largest_regression": largest}


def inputs_record(runs: dict[str, list[Run]]) -> list[dict]:
    """What was read: every run with its files, seed, tasks (metric, items, the file's own aggregate) and notes."""
    out = []
    for model, rs in runs.items():
        for r in rs:
            out.append({
                "model": model, "seed": r.seed,
                "paths": [f.path for f in r.files],
                "lm_eval_config": {f.path: f.config for f in r.files if f.config},
                "tasks": {t: {"metric": it.metric, "n_items": len(it.scores), "reported": it.reported,
                              "reported_stderr": it.reported_stderr, "subtasks": it.subtasks or None,
                              "sources": it.sources}
                          for t, it in r.tasks.items()},
                "notes": r.notes,
            })
    return out


def reported_mismatches(runs: dict[str, list[Run]], tol: float = 1e-6) -> list[str]:
    """Runs whose per-item mean differs from the results file's own aggregate (a metric lm-eval aggregates
    differently, or a sample log that does not belong to the results file)."""
    out = []
    for rs in runs.values():
        for r in rs:
            for t, it in r.tasks.items():
                if it.reported is not None and it.scores and not it.subtasks:
                    mean = float(np.mean(list(it.scores.values())))
                    if abs(mean - it.reported) > tol:
                        out.append(f"{r.label}, {t}: per-item mean {mean:.4f} but the results file reports "
                                   f"{it.metric} = {it.reported:.4f}")
    return out
