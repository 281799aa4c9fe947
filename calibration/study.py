"""Calibration: how far a judge's grades can be trusted, measured against expert graders.

A composition of the pure statistics in ``calibration.stats`` plus the probe runner, the only part that grades:

1. agreement of judge and experts per dimension and overall, next to the experts' agreement with each other
   (the human ceiling);
2. probes (``calibration.probes``): rewrite every sample, grade the rewrite with the same judge and report the paired
   change per dimension (invariance probes must not move the judge, sensitivity probes must lower the target);
3. observational bias: do the judge's residuals against the experts follow length, formality or hedging?
4. power: can the judge tell good from mediocre with 30 samples (15 + 15) and with 30 per group at p < 0.05?
5. cost: tokens, dollars per 1,000 samples at list price, latency and calls.

Everything here is deterministic for a given seed. Input validation raises ``InputError`` (one line, exit 2).
"""
from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
import scipy.stats

from grader.grading import GradeRun
from grader.pricing import cost_usd, count_tokens, price_for
from grader.rubric import Rubric
from grader.types import Sample

from .features import CASUAL_MARKERS, FEATURES, FORMAL_MARKERS, HEDGE_WORDS, formality, hedging, word_count
from .inputs import Experts, expert_table, is_fallback, load_results, read_run_summary, results_judge_name
from .probes import PROBES, apply_probe
from .stats import (CEILING_MARGIN, INTERVAL_METHOD, MIN_N_FOR_INTERVAL, agreement, ceiling_gap, human_ceiling,
                    paired_delta, power_summary, residual_correlation, round_half_up)
from .stats.agreement import quadratic_kappa_weighted, spearman_resampled
from .stats.bootstrap import interval, jackknife_indices, json_float, resample_counts, resample_indices
from .verdicts import ALPHA, INVARIANCE_MIN_EFFECT, judge_invariance, lowers, relative_entry

__all__ = [
    "CASUAL_MARKERS", "FORMAL_MARKERS", "HEDGE_WORDS", "INVARIANCE_MIN_EFFECT", "POWER_PROBES", "Experts",
    "calibrate", "expert_table", "formality", "hedging", "load_results", "make_grader", "plan_probes", "plan_samples",
    "power_needs_probes", "read_run_summary", "results_judge_name", "run_probes", "word_count",
]

PRIMARY_MEASURE = "quadratic kappa against the unrounded expert mean (no rounding of the mean)"

POWER_PROBES = ("drop_fact", "unsupported_number")
"""Damaging probes whose rewrites stand in for "mediocre" outputs when expert groups are too small for power."""

MIN_GROUP = 3  # fewer items than this in a power group: the experts cannot be the source

POWER_SIMULATIONS = 2000  # simulated studies per power estimate (calibration.stats.power)

# ---- 1. agreement ---------------------------------------------------------------------------------------------

_PER_RATER_KEYS = ("n", "kappa", "kappa_linear", "kappa_quadratic", "kappa_quadratic_ci", "spearman", "spearman_ci",
                   "kendall", "exact", "within_one", "mean_bias")


def _overall_agreement(judge_overall: np.ndarray, expert_overall: np.ndarray, labels: list[int], n_boot: int,
                       seed: int) -> dict:
    """Agreement on the overall score: categorical measures on both overalls rounded half up to the scale; the
    primary quadratic kappa, Spearman, Kendall and mean bias on the unrounded values (same bootstrap resamples)."""
    j = np.asarray(judge_overall, dtype=float)
    e = np.asarray(expert_overall, dtype=float)
    out = agreement(round_half_up(np.round(j, 6)), np.round(e, 6), labels, n_boot=n_boot, seed=seed)
    n = j.size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["kendall"] = json_float(scipy.stats.kendalltau(j, e).statistic)
    idx = resample_indices(n, n_boot, seed)
    jk = jackknife_indices(n) if n >= 2 else np.zeros((1, 1), dtype=int)
    diff = j - e
    kq = quadratic_kappa_weighted
    figures = {
        "kappa_quadratic_unrounded": (kq(j, e, np.ones((1, n)))[0], kq(j, e, resample_counts(idx).astype(float)),
                                      kq(j, e, 1.0 - np.eye(n)) if n >= 2 else None),
        "spearman": (_spearman(j, e), spearman_resampled(j, e, idx), spearman_resampled(j, e, jk)),
        "mean_bias": (diff.mean(), diff[idx].mean(axis=1), diff[jk].mean(axis=1)),
    }
    for key, (point, reps, jack) in figures.items():
        iv = interval(float(point), reps, np.array([point]) if jack is None else jack, n)
        out[key], out[key + "_ci"] = json_float(point), iv["ci"]
        out["ci_notes"].pop(key, None)
        if iv["note"]:
            out["ci_notes"][key] = iv["note"]
    out["rounding"] = ("categorical measures on overall rounded half up; the primary quadratic kappa, rank measures "
                       "and bias unrounded")
    return out


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(scipy.stats.spearmanr(a, b).statistic)


def _primary(a: dict) -> dict:
    """The headline agreement figure of one dimension: quadratic kappa against the unrounded expert mean."""
    key = "kappa_quadratic_unrounded"
    return {"measure": PRIMARY_MEASURE, "estimate": a.get(key), "ci": a.get(key + "_ci"),
            "note": (a.get("ci_notes") or {}).get(key)}


def _agreement_section(judge_scores: np.ndarray, judge_overall: np.ndarray, ex: Experts, rubric: Rubric,
                       n_boot: int, seed: int) -> tuple[dict, dict, dict | None]:
    labels = rubric.scale
    mean = ex.mean()
    expert_overall = np.array([rubric.overall(dict(zip(ex.keys, row))) for row in mean])
    dims: dict[str, dict] = {}
    for d, key in enumerate(ex.keys):
        dims[key] = agreement(judge_scores[:, d], mean[:, d], labels, n_boot=n_boot, seed=seed)
    overall = _overall_agreement(judge_overall, expert_overall, labels, n_boot, seed)
    for a in [*dims.values(), overall]:
        a["primary"] = _primary(a)
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
        # the paired test: judge vs each rater minus rater vs rater, on the same resampled items (no rounding)
        for d, key in enumerate(ex.keys):
            dims[key]["ceiling_gap"] = ceiling_gap(judge_scores[:, d], ex.scores[:, :, d], n_boot=n_boot, seed=seed)
        raw_overall = np.full((len(ex.raters), len(ex.ids)), np.nan)
        for r in range(len(ex.raters)):
            for i in range(len(ex.ids)):
                if not np.isnan(ex.scores[r, i, 0]):
                    raw_overall[r, i] = rubric.overall(dict(zip(ex.keys, ex.scores[r, i])))
        overall["ceiling_gap"] = ceiling_gap(judge_overall, raw_overall, n_boot=n_boot, seed=seed)
        if ex.rounded:
            for key in ex.keys:
                ceiling[key]["note"] = "non-integer expert scores were rounded half up before computing the ceiling"
    return dims, overall, ceiling


# ---- 2. probes ------------------------------------------------------------------------------------------------

Grader = Callable[[list[Sample], str], GradeRun]


def make_grader(rubric: Rubric, judge, fallback, concurrency: int = 8, progress: bool = True) -> Grader:
    """``grader(samples, desc) -> GradeRun`` with one judge, through ``grader.grading.grade``."""
    from grader.grading import grade

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
               grader: Grader, n_boot: int = 10_000, seed: int = 0, expert_ref: dict | None = None
               ) -> tuple[dict, dict, dict]:
    """Grade every rewrite of ``plan`` and compare it with the original's result (``originals[id]``).

    Returns ``(probes, probe_meta, graded)``:

    * ``probes[name][dim]`` (and ``["overall"]``) = ``paired_delta(original, rewritten)`` -> ``delta``, ``ci``,
      ``p`` (exact signed-rank), ``n`` plus ``p_value``, ``p_holm``, ``flagged`` and ``verdict``. Invariance probes
      (see :func:`calibration.verdicts.judge_invariance`): with ``expert_ref`` each entry also has
      ``relative_to_experts`` (the judge's change minus the change the experts' grades imply for the feature the
      probe shifts) and ``p_value`` is that comparison's p; without it ``p_value`` is the signed-rank p of the raw
      change. Holm adjusts ``p_value`` across every invariance probe and dimension; flagged when
      ``p_holm < ALPHA`` and the effect is at least ``INVARIANCE_MIN_EFFECT``. Sensitivity probes (target
      dimension from ``rubric.probe_targets``):
      the target entry also has ``share_dropped`` (share of applicable samples whose target score went down)
      and ``mean_change``, and is flagged - a FAILURE of the judge - unless it is shown to go down
      (:func:`calibration.verdicts.lowers`); other dimensions are reported, never flagged.
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
        texts = {o.id: (o.output, n.output) for o, n in todo}
        entry: dict[str, dict] = {}
        for key in [*keys, "overall"]:
            if key == "overall":
                before = np.array([a["overall"] for _, a, _ in rows], dtype=float)
                after = np.array([b["overall"] for _, _, b in rows], dtype=float)
            else:
                before = np.array([a["scores"][key] for _, a, _ in rows], dtype=float)
                after = np.array([b["scores"][key] for _, _, b in rows], dtype=float)
            e = _delta_entry(before, after, n_boot, seed)
            e["p_value"], e["p_holm"] = e["p"], None
            if probe.kind == "invariance" and expert_ref and e["delta"] is not None:
                rel = relative_entry(name, key, rows, texts, e, expert_ref, n_boot, seed)
                if rel["difference"] is not None:
                    e["relative_to_experts"], e["p_value"] = rel, rel["p"]
                else:  # e.g. the feature does not vary across the expert-graded items: report the raw change
                    e["relative_note"] = rel["note"]
            if probe.kind == "sensitivity":
                e["target"] = key == target
                if key == target:
                    e["share_dropped"] = json_float((after < before).mean()) if before.size else None
                    e["mean_change"] = e["delta"]
                    e["flagged"] = not lowers(e)
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
            "fallbacks": sum(1 for b in rewritten if is_fallback(b)),
            "fallback_reasons": dict(Counter(f.split(":", 1)[1] for b in rewritten for f in b.get("flags", [])
                                             if f.startswith("fallback_offline:"))),
            "judged_by": dict(Counter(b["judge"] for b in rewritten)),
            "flagged_dimensions": [k for k, e in entry.items() if e.get("flagged")],
        }
        if probe.kind == "sensitivity":
            meta[name]["failure"] = bool(entry[target]["flagged"]) if target else None
    judge_invariance(probes, meta)
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
    return power_summary(good, mediocre, total=30, target=0.8, n_boot=POWER_SIMULATIONS, seed=seed)


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
    basis = [r for r in results if r["judge"] == judge_name and not is_fallback(r)] or list(results)
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
        "n_boot": n_boot, "interval_method": INTERVAL_METHOD, "min_n_for_interval": MIN_N_FOR_INTERVAL,
        "primary_agreement": PRIMARY_MEASURE, "ceiling_margin": CEILING_MARGIN, "alpha": ALPHA,
        "invariance_min_effect": INVARIANCE_MIN_EFFECT,
        "rubric": {"name": rubric.name, "sha256": rubric.spec_sha256, "keys": rubric.keys, "scale": rubric.scale,
                   "weights": rubric.weights},
        "raters": [], "dimensions": {}, "overall": None, "human_ceiling": None, "probes": {}, "probe_meta": {},
        "bias": {}, "power": None, "cost": None, "warnings": warnings_out,
        "fallbacks": sum(1 for r in results if is_fallback(r)),
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
        expert_ref = None
        if ex is not None:
            mean = ex.mean()
            scores = {k: {i: float(mean[r, d]) for r, i in enumerate(ex.ids)} for d, k in enumerate(ex.keys)}
            scores["overall"] = {i: float(v) for i, v in zip(ex.ids, expert_overall)}
            expert_ref = {"scores": scores, "outputs": {s.id: s.output for s in samples}}
        probes, meta, graded = run_probes(probe_plan, originals, rubric, grader, n_boot=n_boot, seed=seed,
                                          expert_ref=expert_ref)
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
        power = {"p_value": None, "n30_total": {"power": None, "ci": [None, None], "n_per_group": 15},
                 "n30_per_group": {"power": None, "ci": [None, None], "n_per_group": 30}, "n_for_80": None,
                 "good_n": 0, "mediocre_n": 0, "pilot_too_small": True, "note": None, "source": None, **thresholds}
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
