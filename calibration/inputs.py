"""Reading what a calibration compares: a grading run's results (and its summary) and the expert grades."""
from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.io import read_json
from grader.rubric import Rubric
from grader.types import InputError, Sample

def load_results(path: str | Path, samples: list[Sample], rubric: Rubric) -> list[dict]:
    """Read run.py's results.json and check it against the samples and the rubric; results in sample order.

    Every sample id must have exactly one result and every result a sample; each result needs an integer on the
    scale for every rubric dimension (and nothing else). A stored ``overall`` must equal the rubric's weighted
    mean (else the results came from another rubric spec). Problems raise InputError naming the file and item.
    """
    data = read_json(path, "results file")
    if not isinstance(data, list):
        raise InputError(path, f"results must be a JSON array (run.py's results.json), got {type(data).__name__}")
    ids = {s.id for s in samples}
    by_id: dict[str, dict] = {}
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise InputError(path, f"entry is a {type(item).__name__}, not an object", i)
        sid = item.get("id")
        if not isinstance(sid, str):
            raise InputError(path, f"'id' must be a string, got {sid!r}", i)
        if sid not in ids:
            raise InputError(path, "id not found in the samples (results must come from the same samples file)", i,
                             sid)
        if sid in by_id:
            raise InputError(path, "duplicate result for this id", i, sid)
        try:
            scores = rubric.validate_scores(item.get("scores"))
        except ValueError as e:
            raise InputError(path, f"scores: {e} (rubric {rubric.name!r})", i, sid) from None
        overall = rubric.overall(scores)
        stored = item.get("overall")
        if stored is not None:
            if isinstance(stored, bool) or not isinstance(stored, (int, float)) or abs(stored - overall) > 0.011:
                raise InputError(path, f"'overall' {stored!r} is not the rubric's weighted mean {overall} of the "
                                       f"scores: graded with another rubric spec?", i, sid)
        clean = {"id": sid, "scores": scores, "overall": overall}
        for key in ("tokens_used", "latency_ms"):
            v = item.get(key, 0)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise InputError(path, f"{key!r} must be a non-negative number, got {v!r}", i, sid)
            clean[key] = v
        judge = item.get("judge", "unknown")
        flags = item.get("flags", [])
        if not isinstance(judge, str):
            raise InputError(path, f"'judge' must be a string, got {judge!r}", i, sid)
        if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
            raise InputError(path, "'flags' must be an array of strings", i, sid)
        clean["judge"], clean["flags"] = judge, flags
        by_id[sid] = clean
    missing = [s.id for s in samples if s.id not in by_id]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise InputError(path, f"no result for sample id {missing[0]!r}{more} (results must cover every sample)")
    return [by_id[s.id] for s in samples]


def read_run_summary(results_path: str | Path) -> dict | None:
    """run.py's summary next to the results (``<name>.summary.json``), or None when absent or unreadable."""
    p = Path(results_path)
    p = p.with_name(p.stem + ".summary.json")
    if not p.is_file():
        return None
    try:
        data = read_json(p, "run summary")
    except InputError:
        return None
    return data if isinstance(data, dict) else None


def is_fallback(r: dict) -> bool:
    return any(f.startswith("fallback_offline:") for f in r.get("flags", []))


def results_judge_name(results: list[dict], summary: dict | None = None) -> str:
    """The judge that produced the results: the summary's ``judge_requested``, else the most common judge among
    results that are neither fallbacks nor empty outputs (graded by rule), else ``"offline"``."""
    if summary and isinstance(summary.get("judge_requested"), str):
        return summary["judge_requested"]
    names = Counter(r["judge"] for r in results if not is_fallback(r) and "empty_output" not in r["flags"])
    return names.most_common(1)[0][0] if names else "offline"


@dataclass
class Experts:
    """Expert grades as arrays: ``scores[rater, item, dim]`` (nan where a rater did not grade an item)."""

    raters: list[str]
    ids: list[str]  # items with at least one grade, in sample order
    keys: list[str]
    scores: np.ndarray
    rounded: bool = False  # some per-rater scores were not integers and were rounded half up for the ceiling

    def mean(self) -> np.ndarray:
        """Mean over the raters who graded each item: ``(n_items, n_dims)``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.nanmean(self.scores, axis=0)


def expert_table(rows: list[dict], rubric: Rubric, sample_ids: Sequence[str]) -> Experts:
    """``load_expert_grades`` rows -> :class:`Experts` (raters in order of first appearance, items in sample order)."""
    raters = list(dict.fromkeys(r["rater"] for r in rows))
    graded = {r["id"] for r in rows}
    ids = [s for s in sample_ids if s in graded]
    ri = {r: i for i, r in enumerate(raters)}
    ii = {s: i for i, s in enumerate(ids)}
    keys = rubric.keys
    arr = np.full((len(raters), len(ids), len(keys)), np.nan)
    for row in rows:
        arr[ri[row["rater"]], ii[row["id"]]] = [row["scores"][k] for k in keys]
    finite = arr[~np.isnan(arr)]
    return Experts(raters, ids, keys, arr, rounded=bool((finite != np.round(finite)).any()))
