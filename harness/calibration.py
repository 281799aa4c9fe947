"""Calibration: how far a judge's grades can be trusted, measured against expert graders.

A composition of the pure statistics in ``harness.stats`` plus the probe runner, the only part that grades:

1. agreement of judge and experts per dimension and overall, next to the experts' agreement with each other
   (the human ceiling);
2. probes (``harness.probes``): rewrite every sample, grade the rewrite with the same judge and report the paired
   change per dimension (invariance probes must not move the judge, sensitivity probes must lower the target);
3. observational bias: do the judge's residuals against the experts follow length, formality or hedging?
4. power: can the judge tell good from mediocre with 30 samples per group at p < 0.05?
5. cost: tokens, dollars per 1,000 samples at list price, latency and calls.

Everything here is deterministic for a given seed. Input validation raises ``InputError`` (one line, exit 2).
"""
from __future__ import annotations

import math
import re
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.stats

from .grading import GradeRun
from .io import read_json
from .pricing import cost_usd, count_tokens, price_for
from .probes import PROBES, apply_probe
from .rubric import Rubric
from .stats import agreement, human_ceiling, paired_delta, power_summary, residual_correlation, round_half_up
from .stats.agreement import spearman_resampled
from .stats.bootstrap import json_float, percentile_ci, resample_indices
from .types import InputError, Sample

__all__ = [
    "CASUAL_MARKERS", "FORMAL_MARKERS", "HEDGE_WORDS", "INVARIANCE_MIN_EFFECT", "POWER_PROBES", "Experts",
    "calibrate", "expert_table", "formality", "hedging", "load_results", "make_grader", "plan_probes", "plan_samples",
    "power_needs_probes", "read_run_summary", "results_judge_name", "run_probes", "word_count",
]

INVARIANCE_MIN_EFFECT = 0.25
"""An invariance probe is flagged when its delta's interval excludes 0 AND |delta| is at least this many points."""

POWER_PROBES = ("drop_fact", "unsupported_number")
"""Damaging probes whose rewrites stand in for "mediocre" outputs when expert groups are too small for power."""

MIN_GROUP = 3  # fewer items than this in a power group: the experts cannot be the source

POWER_SIMULATIONS = 2000  # simulated studies per power estimate (harness.stats.power)

# ---- surface features -----------------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’.\-][A-Za-z0-9]+)*")

HEDGE_WORDS: tuple[str, ...] = (
    "may", "might", "could", "should", "possibly", "perhaps", "maybe", "probably", "likely", "unlikely",
    "apparently", "seems", "seem", "appears", "appear", "suggests", "suggest", "generally", "typically", "usually",
    "somewhat", "roughly", "approximately", "in most cases", "in some cases", "as far as we can tell",
    "we believe", "we think", "i think", "we expect", "to some extent", "tend to", "tends to", "not necessarily",
)
"""Hedge words and phrases counted by :func:`hedging` (whole words, case-insensitive)."""

CASUAL_MARKERS: tuple[str, ...] = (
    "gonna", "wanna", "kinda", "folks", "awesome", "cool", "super", "totally", "stuff", "hey", "heads up",
    "heads-up", "fyi", "asap", "btw", "yay", "oops", "whoops", "a bunch of", "a lot of", "tons of", "check out",
    "grab", "huge", "okay", "ok", "info", "docs", "just", "pretty", "really", "get", "got", "thanks",
)
"""Casual words and phrases counted by :func:`formality`; contractions, "!" and emoji count as casual too."""

FORMAL_MARKERS: tuple[str, ...] = (
    "please note", "therefore", "furthermore", "moreover", "however", "consequently", "accordingly",
    "additionally", "thus", "hence", "regarding", "prior to", "subsequently", "approximately", "in accordance with",
    "ensure", "receive", "utilize", "require", "requires", "required", "previously", "will not", "cannot",
    "do not", "does not", "did not", "is not", "are not", "we are pleased", "thank you",
)
"""Formal words and phrases counted by :func:`formality` (uncontracted negations are the formal forms)."""

_CONTRACTION = re.compile(r"\b(?:[A-Za-z]+(?:n['’]t|['’](?:re|ve|ll|d|m))|(?:it|that|there|here|what|who|he|she|let)"
                          r"['’]s)\b", re.IGNORECASE)  # "'s" only after pronouns: "device's" is a possessive
_CAPS_CASUAL = frozenset({"FYI", "ASAP", "BTW", "OK"})  # other ALL-CAPS matches are codes or methods (GET), not words
_EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF]")
_EXCLAIM = re.compile(r"!")


def _phrase_rx(phrases: Sequence[str]) -> re.Pattern:
    alts = sorted((re.escape(p).replace(r"\ ", r"\s+") for p in phrases), key=len, reverse=True)
    return re.compile(r"(?<![\w'’-])(?:" + "|".join(alts) + r")(?![\w'’-])", re.IGNORECASE)


_HEDGE_RX = _phrase_rx(HEDGE_WORDS)
_CASUAL_RX = _phrase_rx(CASUAL_MARKERS)
_FORMAL_RX = _phrase_rx(FORMAL_MARKERS)


def word_count(text: str) -> int:
    """Number of word tokens (letters/digits with inner apostrophes, dots or hyphens)."""
    return len(_WORD.findall(text))


def hedging(text: str) -> float:
    """Hedges per 100 words: occurrences of :data:`HEDGE_WORDS` (longest phrase first, no overlaps). 0 if empty."""
    n = word_count(text)
    return 100.0 * len(_HEDGE_RX.findall(text)) / n if n else 0.0


def formality(text: str) -> float:
    """Net formal markers per 100 words: ``100 * (formal - casual) / words``; positive = formal, 0 if empty.

    ``formal`` counts :data:`FORMAL_MARKERS` (e.g. "therefore", "ensure", "do not"); ``casual`` counts
    :data:`CASUAL_MARKERS` (e.g. "a lot of", "get", "awesome"; ALL-CAPS matches such as the HTTP method GET are
    not words and are skipped, except FYI/ASAP/BTW/OK), contractions ("we've", "don't", "it's"; not possessives),
    exclamation marks and emoji. A crude, transparent register measure: good enough to ask whether a judge's errors follow
    register, not a linguistic analysis.
    """
    n = word_count(text)
    if not n:
        return 0.0
    casual_words = [m for m in _CASUAL_RX.findall(text) if not (m.isupper() and len(m) > 1) or m in _CAPS_CASUAL]
    casual = (len(casual_words) + len(_CONTRACTION.findall(text)) + len(_EXCLAIM.findall(text))
              + len(_EMOJI.findall(text)))
    formal = len(_FORMAL_RX.findall(text))
    return 100.0 * (formal - casual) / n


FEATURES: dict[str, Callable[[str], float]] = {
    "length": lambda t: float(word_count(t)),
    "formality": formality,
    "hedging": hedging,
}

# ---- inputs ---------------------------------------------------------------------------------------------------


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


def _is_fallback(r: dict) -> bool:
    return any(f.startswith("fallback_offline:") for f in r.get("flags", []))


def results_judge_name(results: list[dict], summary: dict | None = None) -> str:
    """The judge that produced the results: the summary's ``judge_requested``, else the most common judge among
    results that are neither fallbacks nor empty outputs (graded by rule), else ``"offline"``."""
    if summary and isinstance(summary.get("judge_requested"), str):
        return summary["judge_requested"]
    names = Counter(r["judge"] for r in results if not _is_fallback(r) and "empty_output" not in r["flags"])
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


# ---- 1. agreement ---------------------------------------------------------------------------------------------

_PER_RATER_KEYS = ("n", "kappa", "kappa_linear", "kappa_quadratic", "kappa_quadratic_ci", "spearman", "spearman_ci",
                   "kendall", "exact", "within_one", "mean_bias")


def _overall_agreement(judge_overall: np.ndarray, expert_overall: np.ndarray, labels: list[int], n_boot: int,
                       seed: int) -> dict:
    """Agreement on the overall score: categorical measures on both overalls rounded half up to the scale,
    Spearman, Kendall and mean bias on the unrounded values (same bootstrap resamples)."""
    j = np.asarray(judge_overall, dtype=float)
    e = np.asarray(expert_overall, dtype=float)
    out = agreement(round_half_up(np.round(j, 6)), np.round(e, 6), labels, n_boot=n_boot, seed=seed)
    idx = resample_indices(j.size, n_boot, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["spearman"] = json_float(scipy.stats.spearmanr(j, e).statistic)
        out["kendall"] = json_float(scipy.stats.kendalltau(j, e).statistic)
    out["spearman_ci"] = [json_float(x) for x in percentile_ci(spearman_resampled(j, e, idx))]
    diff = j - e
    out["mean_bias"] = json_float(diff.mean())
    out["mean_bias_ci"] = [json_float(x) for x in percentile_ci(diff[idx].mean(axis=1))]
    out["rounding"] = "categorical measures on overall rounded half up; rank measures and bias unrounded"
    return out


def _agreement_section(judge_scores: np.ndarray, judge_overall: np.ndarray, ex: Experts, rubric: Rubric,
                       n_boot: int, seed: int) -> tuple[dict, dict, dict | None]:
    labels = rubric.scale
    mean = ex.mean()
    expert_overall = np.array([rubric.overall(dict(zip(ex.keys, row))) for row in mean])
    dims: dict[str, dict] = {}
    for d, key in enumerate(ex.keys):
        dims[key] = agreement(judge_scores[:, d], mean[:, d], labels, n_boot=n_boot, seed=seed)
    overall = _overall_agreement(judge_overall, expert_overall, labels, n_boot, seed)
    ceiling = None
    if len(ex.raters) >= 2:
        # per-rater agreement: the judge against each expert on the items that expert graded
        for d, key in enumerate(ex.keys):
            dims[key]["per_rater"] = {}
        overall["per_rater"] = {}
        for r, name in enumerate(ex.raters):
            has = ~np.isnan(ex.scores[r, :, 0])
            if has.sum() < 2:
                continue
            for d, key in enumerate(ex.keys):
                a = agreement(judge_scores[has, d], ex.scores[r, has, d], labels, n_boot=n_boot, seed=seed)
                dims[key]["per_rater"][name] = {k: a[k] for k in _PER_RATER_KEYS}
            r_overall = np.array([rubric.overall(dict(zip(ex.keys, row))) for row in ex.scores[r, has]])
            a = _overall_agreement(judge_overall[has], r_overall, labels, n_boot, seed)
            overall["per_rater"][name] = {k: a[k] for k in _PER_RATER_KEYS}
        # the human ceiling: experts against each other (raters x items), ratings rounded to the scale if needed
        ceiling = {}
        for d, key in enumerate(ex.keys):
            ratings = ex.scores[:, :, d]
            ratings = np.where(np.isnan(ratings), np.nan, round_half_up(ratings)) if ex.rounded else ratings
            ceiling[key] = human_ceiling(ratings, labels)
        per_rater_overall = np.full((len(ex.raters), len(ex.ids)), np.nan)
        for r in range(len(ex.raters)):
            for i in range(len(ex.ids)):
                if not np.isnan(ex.scores[r, i, 0]):
                    per_rater_overall[r, i] = round_half_up(round(rubric.overall(dict(zip(ex.keys, ex.scores[r, i]))),
                                                                  6))
        ceiling["overall"] = human_ceiling(per_rater_overall, labels)
        ceiling["overall"]["note"] = "each expert's overall rounded half up to the scale"
        if ex.rounded:
            for key in ex.keys:
                ceiling[key]["note"] = "non-integer expert scores were rounded half up before computing the ceiling"
    return dims, overall, ceiling


# ---- 2. probes ------------------------------------------------------------------------------------------------

Grader = Callable[[list[Sample], str], GradeRun]


def make_grader(rubric: Rubric, judge, fallback, concurrency: int = 8, progress: bool = True) -> Grader:
    """``grader(samples, desc) -> GradeRun`` with one judge, through ``harness.grading.grade``."""
    from .grading import grade

    def grader(samples: list[Sample], desc: str) -> GradeRun:
        return grade(samples, rubric, judge, fallback, concurrency=concurrency, progress=progress, desc=desc)

    return grader


def probe_names_for(rubric: Rubric) -> list[str]:
    """Every invariance probe, plus the sensitivity probes the rubric names a target dimension for."""
    return [n for n, p in PROBES.items() if p.kind == "invariance" or n in rubric.probe_targets]


def plan_probes(samples: list[Sample], rubric: Rubric, seed: int, names: Sequence[str] | None = None
                ) -> dict[str, list[tuple[Sample, Sample | None]]]:
    """``apply_probe`` for each probe (default: :func:`probe_names_for`): ``{name: [(original, rewritten|None)]}``."""
    names = list(names) if names is not None else probe_names_for(rubric)
    return {n: apply_probe(n, samples, seed) for n in names}


def plan_samples(plan: dict[str, list[tuple[Sample, Sample | None]]]) -> list[Sample]:
    """Every rewritten sample of a plan (what the probes will grade)."""
    return [new for pairs in plan.values() for _, new in pairs if new is not None]


def _delta_entry(before: np.ndarray, after: np.ndarray, n_boot: int, seed: int) -> dict:
    if before.size == 0:
        return {"delta": None, "ci": [None, None], "p": None, "n": 0, "flagged": None}
    return {**paired_delta(before, after, n_boot=n_boot, seed=seed), "flagged": False}


def run_probes(plan: dict[str, list[tuple[Sample, Sample | None]]], originals: dict[str, dict], rubric: Rubric,
               grader: Grader, n_boot: int = 10_000, seed: int = 0) -> tuple[dict, dict, dict]:
    """Grade every rewrite of ``plan`` and compare it with the original's result (``originals[id]``).

    Returns ``(probes, probe_meta, graded)``:

    * ``probes[name][dim]`` (and ``["overall"]``) = ``paired_delta(original, rewritten)`` -> ``delta``, ``ci``,
      ``p``, ``n`` plus ``flagged``. Invariance probes: flagged when the interval excludes 0 and
      ``|delta| >= INVARIANCE_MIN_EFFECT``. Sensitivity probes (target dimension from ``rubric.probe_targets``):
      the target entry also has ``share_dropped`` (share of applicable samples whose target score went down)
      and ``mean_change``, and is flagged - a FAILURE of the judge - when its interval does not lie entirely
      below 0; other dimensions are reported, never flagged.
    * ``probe_meta[name]``: kind, description, target, n_applicable, n_skipped (rewrite not applicable, or a
      sensitivity rewrite of an empty original: ``n_skipped_empty_original``), fallbacks among the rewritten
      results, judged_by.
    * ``graded[name]``: ``[(id, original_result, rewritten_result)]`` for other analyses (power).
    """
    probes: dict[str, dict] = {}
    meta: dict[str, dict] = {}
    graded: dict[str, list[tuple[str, dict, dict]]] = {}
    keys = rubric.keys
    for name, pairs in plan.items():
        probe = PROBES[name]
        target = rubric.probe_targets.get(name) if probe.kind == "sensitivity" else None
        # Damaging an empty output only adds text to it: not a sensitivity test, so such rewrites are skipped
        # (and counted as n_skipped_empty_original), like rewrites the probe itself declares not applicable.
        empty = [o for o, n in pairs if n is not None and probe.kind == "sensitivity" and not o.output.strip()]
        todo = [(o, n) for o, n in pairs if n is not None and not (probe.kind == "sensitivity"
                                                                    and not o.output.strip())]
        run = grader([n for _, n in todo], f"probe {name}") if todo else None
        rows = [(o.id, originals[o.id], r) for (o, _), r in zip(todo, run.results if run else [])]
        graded[name] = rows
        entry: dict[str, dict] = {}
        for key in [*keys, "overall"]:
            if key == "overall":
                before = np.array([a["overall"] for _, a, _ in rows], dtype=float)
                after = np.array([b["overall"] for _, _, b in rows], dtype=float)
            else:
                before = np.array([a["scores"][key] for _, a, _ in rows], dtype=float)
                after = np.array([b["scores"][key] for _, _, b in rows], dtype=float)
            e = _delta_entry(before, after, n_boot, seed)
            ci = e["ci"]
            if probe.kind == "invariance" and e["delta"] is not None and None not in ci:
                e["flagged"] = bool((ci[0] > 0 or ci[1] < 0) and abs(e["delta"]) >= INVARIANCE_MIN_EFFECT)
            if probe.kind == "sensitivity":
                e["target"] = key == target
                if key == target:
                    e["share_dropped"] = json_float((after < before).mean()) if before.size else None
                    e["mean_change"] = e["delta"]
                    # a failure unless the whole interval is below zero (no rewrites: not shown to be sensitive)
                    e["flagged"] = True if e["delta"] is None or None in ci else bool(not ci[1] < 0)
                else:
                    e["flagged"] = False if e["delta"] is not None else None
            entry[key] = e
        probes[name] = entry
        rewritten = [b for _, _, b in rows]
        meta[name] = {
            "kind": probe.kind,
            "description": probe.description,
            "target": target,
            "n_total": len(pairs),
            "n_applicable": len(todo),
            "n_skipped": len(pairs) - len(todo),
            "n_skipped_empty_original": len(empty),
            "fallbacks": sum(1 for b in rewritten if _is_fallback(b)),
            "judged_by": dict(Counter(b["judge"] for b in rewritten)),
            "flagged_dimensions": [k for k, e in entry.items() if e.get("flagged")],
        }
        if probe.kind == "sensitivity":
            meta[name]["failure"] = bool(entry[target]["flagged"]) if target else None
    return probes, meta, graded


# ---- 3. bias --------------------------------------------------------------------------------------------------


def bias_section(outputs: list[str], judge_overall: np.ndarray, expert_overall: np.ndarray, n_boot: int,
                 seed: int) -> dict:
    """Spearman of the judge's residual (judge overall - expert overall) with each surface feature."""
    resid = np.asarray(judge_overall, dtype=float) - np.asarray(expert_overall, dtype=float)
    out: dict[str, dict] = {}
    for name, fn in FEATURES.items():
        feat = np.array([fn(t) for t in outputs], dtype=float)
        if resid.size < 3:
            out[name] = {"spearman": None, "ci": [None, None], "p": None}
        else:
            out[name] = residual_correlation(resid, feat, n_boot=n_boot, seed=seed)
        out[name]["n"] = int(resid.size)
        out[name]["feature_mean"] = json_float(feat.mean()) if feat.size else None
    return out


# ---- 4. power -------------------------------------------------------------------------------------------------


def expert_groups(expert_overall: np.ndarray, good_min: float, mediocre_max: float) -> tuple[np.ndarray, np.ndarray]:
    e = np.asarray(expert_overall, dtype=float)
    return e >= good_min - 1e-9, e <= mediocre_max + 1e-9


def power_needs_probes(expert_overall: np.ndarray | None, good_min: float, mediocre_max: float) -> bool:
    """True when the experts cannot supply both power groups (no experts, or a group under 3 items)."""
    if expert_overall is None:
        return True
    good, med = expert_groups(expert_overall, good_min, mediocre_max)
    return good.sum() < MIN_GROUP or med.sum() < MIN_GROUP


def _power_from(good: np.ndarray, mediocre: np.ndarray, seed: int) -> dict:
    return power_summary(good, mediocre, n=30, target=0.8, n_boot=POWER_SIMULATIONS, seed=seed)


# ---- 5. cost --------------------------------------------------------------------------------------------------


def _completion_estimate(r: dict) -> int:
    """Tokens of the judgment a model would have written: the rationale and scores as the judge's JSON."""
    import json

    return count_tokens(json.dumps({"rationale": r.get("rationale", ""), "scores": r["scores"],
                                    "injection_attempt": False}))


def cost_section(results: list[dict], summary: dict | None, judge_name: str) -> dict:
    """Tokens per sample, dollars per 1,000 samples at the model's list price, latency, calls.

    Basis: the results graded by ``judge_name`` (fallbacks and empty outputs excluded; all results when none).
    Dollars: list price (no prompt-cache or batch discount) of the mean prompt and completion tokens; the split
    comes from the run summary's token totals when available, else the completion is estimated as the tokens
    of the judgment JSON (rationale + scores). 0 for the offline judge. Latency: results with latency > 0 for an
    LLM judge (cache hits take 0 ms). Calls: the run summary's API calls, else the number of LLM-judged results.
    """
    llm = judge_name.startswith("llm:")
    basis = [r for r in results if r["judge"] == judge_name and not _is_fallback(r)] or list(results)
    tokens = np.array([r["tokens_used"] for r in basis], dtype=float)
    lat = np.array([r["latency_ms"] for r in basis if not llm or r["latency_ms"] > 0], dtype=float)
    api = (summary or {}).get("api") if isinstance(summary, dict) else None
    out: dict = {
        "judge": judge_name,
        "n_basis": len(basis),
        "tokens_per_sample_mean": json_float(tokens.mean()) if tokens.size else None,
        "tokens_per_sample_p95": json_float(np.percentile(tokens, 95)) if tokens.size else None,
        "usd_per_1000": 0.0,
        "latency_ms_p50": json_float(np.percentile(lat, 50)) if lat.size else None,
        "latency_ms_p95": json_float(np.percentile(lat, 95)) if lat.size else None,
        "calls": None,
    }
    if isinstance(api, dict) and isinstance(api.get("calls"), int):
        out["calls"], out["calls_source"] = api["calls"], "run summary"
    else:
        out["calls"] = sum(1 for r in results if r["judge"].startswith("llm:"))
        out["calls_source"] = "count of LLM-judged results"
    if llm and tokens.size:
        model = judge_name.split(":", 1)[1]
        _, known = price_for(model)
        p_tok, c_tok = (api or {}).get("prompt_tokens"), (api or {}).get("completion_tokens")
        if isinstance(p_tok, int) and isinstance(c_tok, int) and p_tok + c_tok > 0:
            share = c_tok / (p_tok + c_tok)
            out["usd_method"] = "list price; prompt/completion split from the run summary"
        else:
            comp = np.array([_completion_estimate(r) for r in basis], dtype=float)
            share = float(min(1.0, comp.sum() / tokens.sum())) if tokens.sum() else 0.0
            out["usd_method"] = "list price; completion tokens estimated from the judgment JSON"
        mean = float(tokens.mean())
        out["usd_per_1000"] = round(1000 * cost_usd(model, mean * (1 - share), mean * share), 4)
        out["model"], out["price_known"] = model, known
    else:
        out["usd_method"] = "offline judge: no API cost"
    return out


# ---- composition ----------------------------------------------------------------------------------------------


def calibrate(samples: list[Sample], rubric: Rubric, results: list[dict], *, experts: list[dict] | None = None,
              results_summary: dict | None = None, grader: Grader | None = None, probe_judge: str | None = None,
              probe_plan: dict | None = None, report_probes: bool = False, seed: int = 0, n_boot: int = 10_000,
              good_min: float = 4.0, mediocre_max: float = 3.0, warn: Callable[[str], None] | None = None) -> dict:
    """The calibration.json document (see the module docstring and calibrate.py).

    ``results`` are validated results in sample order (:func:`load_results` or ``grade(...).results``);
    ``experts`` are ``load_expert_grades`` rows. ``grader``/``probe_judge`` grade rewrites (needed for probes,
    or for power when the experts cannot supply both groups); ``probe_plan`` is :func:`plan_probes`' output.
    With ``report_probes`` the plan's probes are reported; otherwise the plan only feeds the power estimate.
    """
    warnings_out: list[str] = []

    def note(msg: str) -> None:
        warnings_out.append(msg)
        if warn:
            warn(msg)

    judge_name = results_judge_name(results, results_summary)
    by_id = {r["id"]: r for r in results}
    doc: dict = {
        "n_items": 0, "n_samples": len(samples), "judge": judge_name, "probe_judge": None, "seed": seed,
        "n_boot": n_boot, "rubric": {"name": rubric.name, "sha256": rubric.spec_sha256, "keys": rubric.keys,
                                      "scale": rubric.scale, "weights": rubric.weights},
        "raters": [], "dimensions": {}, "overall": None, "human_ceiling": None, "probes": {}, "probe_meta": {},
        "bias": {}, "power": None, "cost": None, "warnings": warnings_out,
        "fallbacks": sum(1 for r in results if _is_fallback(r)),
    }
    if results_summary and results_summary.get("rubric_sha256") not in (None, rubric.spec_sha256):
        note("the results' run summary names another rubric spec (sha256 differs from --rubric-spec)")
    if doc["fallbacks"]:
        note(f"{doc['fallbacks']} result(s) were graded by the offline fallback, not by {judge_name}; they are "
             "included in every figure")

    # 1. agreement
    expert_overall = judge_overall_ex = None
    ex = None
    if experts:
        ex = expert_table(experts, rubric, [s.id for s in samples])
        doc["raters"] = ex.raters
        doc["n_items"] = len(ex.ids)
        jscores = np.array([[by_id[i]["scores"][k] for k in rubric.keys] for i in ex.ids], dtype=float)
        judge_overall_ex = np.array([by_id[i]["overall"] for i in ex.ids], dtype=float)
        expert_overall = np.array([rubric.overall(dict(zip(ex.keys, row))) for row in ex.mean()])
        dims, overall, ceiling = _agreement_section(jscores, judge_overall_ex, ex, rubric, n_boot, seed)
        doc["dimensions"], doc["overall"], doc["human_ceiling"] = dims, overall, ceiling
        if len(ex.raters) < 2:
            note("one expert rater: no human ceiling to compare with")
        # 3. bias (observational, on the expert-graded set)
        outputs = [s.output for s in samples if s.id in set(ex.ids)]
        doc["bias"] = bias_section(outputs, judge_overall_ex, expert_overall, n_boot, seed)
    else:
        note("no expert grades: agreement, human ceiling and observational bias are not measured")

    # 2. probes
    graded: dict = {}
    if probe_plan:
        if grader is None:
            raise ValueError("probes need a grader")
        doc["probe_judge"] = probe_judge
        originals = by_id
        if probe_judge is not None and probe_judge != judge_name:
            note(f"the results were graded by {judge_name} but the probes use {probe_judge}; the originals were "
                 f"regraded with {probe_judge} so each probe compares one judge with itself")
            doc["probe_originals"] = "regraded with the probe judge"
            needed = {o.id for pairs in probe_plan.values() for o, n in pairs if n is not None}
            run = grader([s for s in samples if s.id in needed], "originals")
            originals = {r["id"]: r for r in run.results}
        else:
            doc["probe_originals"] = "from the results"
        probes, meta, graded = run_probes(probe_plan, originals, rubric, grader, n_boot=n_boot, seed=seed)
        for name, m in meta.items():
            if m["fallbacks"]:
                note(f"probe {name}: {m['fallbacks']} of {m['n_applicable']} rewrite(s) were graded by the offline "
                     "fallback, so its deltas partly compare two judges")
        if report_probes:
            doc["probes"], doc["probe_meta"] = probes, meta
        skipped = [n for n in PROBES if report_probes and n not in probe_plan and PROBES[n].kind == "sensitivity"
                   and n not in rubric.probe_targets]
        for n in skipped:
            doc["probe_meta"][n] = {"kind": PROBES[n].kind, "description": PROBES[n].description, "target": None,
                                    "not_run": f"the rubric {rubric.name!r} names no target dimension for it"}

    # 4. power
    power: dict | None = None
    thresholds = {"good_min": good_min, "mediocre_max": mediocre_max}
    if expert_overall is not None and not power_needs_probes(expert_overall, good_min, mediocre_max):
        good, med = expert_groups(expert_overall, good_min, mediocre_max)
        power = {**_power_from(judge_overall_ex[good], judge_overall_ex[med], seed), "source": "experts",
                 **thresholds}
    else:
        pairs = [(i, a, b) for n in POWER_PROBES for i, a, b in graded.get(n, [])]
        good_ids = list(dict.fromkeys(i for i, _, _ in pairs))
        good_scores = np.array([_original_overall(graded, i, by_id) for i in good_ids], dtype=float)
        damaged = np.array([b["overall"] for _, _, b in pairs], dtype=float)
        if good_scores.size >= MIN_GROUP and damaged.size >= MIN_GROUP:
            power = {**_power_from(good_scores, damaged, seed), "source": "probes",
                     "probes": [n for n in POWER_PROBES if graded.get(n)], **thresholds}
            note("power compares originals with their drop_fact/unsupported_number rewrites (the expert groups "
                 f"have fewer than {MIN_GROUP} items or there are no experts)")
        else:
            note("power not estimated: fewer than 3 items in a group")
    if power is None:
        power = {"p_value": None, "power_at_30": None, "n_for_80": None, "good_n": 0, "mediocre_n": 0,
                 "source": None, **thresholds}
    power["n_simulations"] = POWER_SIMULATIONS
    doc["power"] = power

    # 5. cost
    doc["cost"] = cost_section(results, results_summary, judge_name)
    return _json_safe(doc)


def _json_safe(obj):
    """nan/inf -> None and numpy scalars -> Python numbers, recursively: the document is strict JSON."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def _original_overall(graded: dict, sid: str, by_id: dict) -> float:
    """The original overall used in the probe pairs for ``sid`` (the regraded one when originals were regraded)."""
    for n in POWER_PROBES:
        for i, a, _ in graded.get(n, []):
            if i == sid:
                return a["overall"]
    return by_id[sid]["overall"]
