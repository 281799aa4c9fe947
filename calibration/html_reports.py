"""Pages for each kind of run, built from the files the run wrote (so a page can be rebuilt at any time).

Each ``*_page`` function returns the page as a string; the scripts write it with ``write_atomic`` beside their
``report.md``. Figures shown are read from the run's own JSON outputs, never recomputed differently.
"""
from __future__ import annotations

import math

import numpy as np

from .html import Column, Filter, Headline, Plot, Section, Table, render_page
from .stats.bootstrap import percentile_ci, resample_indices

__all__ = ["grading_page", "fmt", "fmt_ci"]

MEAN_CI_BOOT = 2000  # bootstrap resamples for the interval of a mean shown on a grading page
MEAN_CI_SEED = 0


def fmt(x: object, digits: int = 3) -> str:
    """A figure as shown: numbers rounded, None/nan as 'undefined'."""
    if x is None:
        return "undefined"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        return "undefined" if math.isnan(x) else f"{x:.{digits}f}"
    return str(x)


def fmt_ci(ci: object, digits: int = 3) -> str:
    if not isinstance(ci, (list, tuple)) or len(ci) != 2 or any(v is None for v in ci):
        return "no interval"
    if any(isinstance(v, float) and math.isnan(v) for v in ci):
        return "no interval"
    return f"[{fmt(ci[0], digits)}, {fmt(ci[1], digits)}]"


def mean_with_ci(values: list[float], n_boot: int = MEAN_CI_BOOT, seed: int = MEAN_CI_SEED) -> tuple[float, list]:
    """Mean and its 95% percentile bootstrap interval over items (no interval below 2 items)."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return math.nan, [math.nan, math.nan]
    if v.size < 2:
        return float(v.mean()), [math.nan, math.nan]
    idx = resample_indices(v.size, n_boot, seed)
    return float(v.mean()), percentile_ci(v[idx].mean(axis=1))


def _is_fallback(r: dict) -> bool:
    return any(str(f).startswith("fallback_offline") for f in r.get("flags", []))


def grading_page(results: list[dict], summary: dict | None, samples: dict[str, dict] | None = None,
                 experts: dict[str, dict[str, float]] | None = None, title: str = "Grading run",
                 input_field: str = "input_ticket", output_field: str = "model_output") -> str:
    """A plain ``run.py`` run: results.json, its summary, and optionally the samples and mean expert grades."""
    summary = summary or {}
    dims = list(results[0]["scores"]) if results else list((summary.get("mean_scores") or {}).keys())
    n = len(results)
    overall, ci = mean_with_ci([r.get("overall") for r in results])
    judged = ", ".join(f"{v} by {k}" for k, v in (summary.get("judged_by") or {}).items()) or "unknown"
    flags_total = sum((summary.get("flags") or {}).values()) if summary.get("flags") else \
        sum(len(r.get("flags", [])) for r in results)
    fallbacks = summary.get("fallbacks", sum(_is_fallback(r) for r in results))
    heads = [Headline("mean overall", fmt(overall), f"95% bootstrap CI {fmt_ci(ci)}, n={n}, seed {MEAN_CI_SEED}")]
    for d in dims:
        m, c = mean_with_ci([r["scores"].get(d) for r in results])
        heads.append(Headline(f"mean {d}", fmt(m), f"95% CI {fmt_ci(c)}, n={n}"))
    heads.append(Headline("judge", judged, f"requested: {summary.get('judge_requested', 'unknown')}"))
    heads.append(Headline("fallbacks", str(fallbacks), f"of n={n}; flags raised: {flags_total}",
                          verdict="check" if fallbacks else ""))
    api = summary.get("api")
    if api:
        heads.append(Headline("cost", f"${api.get('spent_usd', 0):.4f}",
                              f"{api.get('calls', 0)} call(s), {api.get('cache_hits', 0)} cache hit(s)"))
    pairs = [("rubric", f"{summary.get('rubric', '?')} (sha256 {str(summary.get('rubric_sha256', ''))[:12]})"),
             ("samples", str(n)), ("tokens used", fmt(summary.get("tokens_used")))]
    if summary.get("response_format_mode") or (api or {}).get("response_format_mode"):
        pairs.append(("response format", str(summary.get("response_format_mode") or api.get("response_format_mode"))))
    for k, v in sorted((summary.get("flags") or {}).items()):
        pairs.append((f"flag {k}", str(v)))
    sections = [Section("Run", pairs=tuple(pairs))]
    columns = [Column("id", "id"), Column("overall", "overall", True)] + \
              [Column(d, d, True) for d in dims] + [Column("judge", "judge"), Column("flags", "flags")]
    filters = [Filter("flagged", "flagged only"), Filter("fallback", "fallbacks only")]
    if experts:
        columns.insert(2, Column("expert", "expert mean", True))
        columns.insert(3, Column("gap", "largest judge - expert gap", True))
        filters.append(Filter("disagree", "judge vs expert differ by 2+"))
    filters.append(Filter("judge", "judge", kind="choice"))
    rows = []
    for r in results:
        sid = r.get("id")
        cells = {"id": sid, "overall": r.get("overall"), "judge": r.get("judge"),
                 "flags": ", ".join(r.get("flags", []))}
        cells.update({d: r["scores"].get(d) for d in dims})
        tags = []
        if r.get("flags"):
            tags.append("flagged")
        if _is_fallback(r):
            tags.append("fallback")
        detail = []
        if samples and sid in samples:
            detail += [("input", samples[sid].get(input_field, "")), ("output", samples[sid].get(output_field, ""))]
        detail += [("scores", ", ".join(f"{d} {r['scores'].get(d)}" for d in dims)), ("rationale", r.get("rationale")),
                   ("judge", r.get("judge")), ("flags", ", ".join(r.get("flags", [])) or "none")]
        if experts and sid in experts:
            ex = experts[sid]
            cells["expert"] = round(float(np.mean(list(ex.values()))), 3) if ex else None
            gaps = [r["scores"][d] - ex[d] for d in dims if d in ex and r["scores"].get(d) is not None]
            cells["gap"] = round(max(gaps, key=abs), 3) if gaps else None  # signed, the dimension furthest apart
            if gaps and max(abs(g) for g in gaps) >= 2:
                tags.append("disagree")
            detail.append(("expert grades (mean of raters)", ", ".join(f"{d} {v:.2f}" for d, v in ex.items())))
        rows.append({"cells": cells, "tags": tags, "detail": detail})
    subtitle = f"{n} sample(s); judge {judged}"
    return render_page(title, subtitle, heads, sections, Table(columns, rows, filters, "Samples"), [])


def plots_from_files(paths) -> list[Plot]:
    """PNG files a run wrote, inlined (missing files are skipped: a run may not have made every plot)."""
    out = []
    for p in paths:
        try:
            out.append(Plot(p.name, p.read_bytes()))
        except OSError:
            continue
    return out


def _detail_json(obj: object) -> str:
    import json
    return json.dumps(obj, indent=1, ensure_ascii=False, default=str)


def audit_page(audit: dict, memo_md: str = "", plots: list[Plot] | None = None) -> str:
    """audit.py's audit.json: the largest regression and the max-drop rule first, then one row per task."""
    base, cand = audit.get("base"), audit.get("candidate")
    method = audit.get("method", {})
    lr = audit.get("largest_regression") or {}
    tasks = audit.get("tasks", {})
    verdicts = [t.get("max_drop_verdict") for t in tasks.values()]
    heads = []
    if lr:
        heads.append(Headline("largest regression", f"{lr.get('task')}: {fmt(lr.get('delta'), 1)} points",
                              f"95% CI {fmt_ci(lr.get('ci'), 1)}; largest in {fmt(lr.get('p_largest'), 2)} of "
                              f"bootstrap replays; n={tasks.get(lr.get('task'), {}).get('n_items', '?')} items"))
    heads.append(Headline(f"max-drop rule ({fmt(method.get('max_drop'), 1)} points)",
                          f"{verdicts.count('exceeds')} exceed", f"{verdicts.count('within')} within, "
                          f"{verdicts.count('inconclusive')} inconclusive, of {len(tasks)} task(s)",
                          verdict="broken" if "exceeds" in verdicts else ""))
    heads.append(Headline("skipped", str(len(audit.get("skipped_tasks", []))), "tasks not compared (see below)"))
    sections = [Section("Memo", paragraphs=(memo_md,), preformatted=True),
                Section("Method", pairs=tuple((k, str(v)) for k, v in method.items()))]
    if audit.get("skipped_tasks"):
        sections.append(Section("Skipped tasks", paragraphs=tuple(_detail_json(s) for s in audit["skipped_tasks"])))
    mits = audit.get("mitigations", [])
    columns = [Column("task", "task"), Column("metric", "metric"), Column("n", "items", True),
               Column("base", f"{base} mean", True), Column("cand", f"{cand} mean", True),
               Column("delta", "delta (points)", True), Column("ci", "95% CI"), Column("p", "p", True),
               Column("p_holm", "Holm p", True), Column("verdict", "max-drop verdict")]
    columns += [Column(f"gap_{m}", f"{m}: gap closed", True) for m in mits]
    rows = []
    for name, t in tasks.items():
        models = t.get("models", {})
        cells = {"task": name, "metric": t.get("metric"), "n": t.get("n_items"),
                 "base": round(models.get(base, {}).get("mean", math.nan), 2),
                 "cand": round(models.get(cand, {}).get("mean", math.nan), 2),
                 "delta": round(t.get("delta", math.nan), 2), "ci": fmt_ci(t.get("ci"), 1),
                 "p": round(t["p_value"], 4) if t.get("p_value") is not None else None,
                 "p_holm": round(t["p_holm"], 4) if t.get("p_holm") is not None else None,
                 "verdict": t.get("max_drop_verdict")}
        for m in mits:
            g = (t.get("mitigations") or {}).get(m, {}).get("gap_closed")
            cells[f"gap_{m}"] = round(g, 3) if isinstance(g, (int, float)) else None
        tags = ["regressed"] if t.get("ci") and t["ci"][1] is not None and t["ci"][1] < 0 else []
        rows.append({"cells": cells, "tags": tags, "detail": [("figures", _detail_json(t))]})
    table = Table(columns, rows, [Filter("regressed", "interval below 0 only"), Filter("verdict", "verdict", "choice")],
                  "Tasks")
    return render_page(f"Capability audit: {cand} vs {base}", f"{len(tasks)} task(s); seed {method.get('seed')}, "
                       f"{method.get('bootstrap')} bootstrap resamples", heads, sections, table, plots)


def _rate_text(r: dict | None) -> tuple[str, str]:
    if not r or r.get("rate") is None:
        return "undefined", "no labelled items"
    return f"{100 * r['rate']:.0f}%", f"95% CI {fmt_ci([100 * v for v in r['ci95']], 0) if r.get('ci95') else 'none'}" \
                                      f" (%), n={r.get('n')} over {r.get('n_tasks')} task(s)"


def refusal_page(summary: dict, rows: list[dict], report_md: str = "", plots: list[Plot] | None = None) -> str:
    """refusal.py's outputs: refusal and pass rates per (model, bucket) first, then every labelled completion."""
    rates = summary.get("rates", {})
    heads = []
    for model, buckets in rates.get("models", {}).items():
        for bucket, b in buckets.items():
            value, detail = _rate_text(b.get("refusal_rate"))
            extra = ""
            if b.get("pass_rate") and b["pass_rate"].get("rate") is not None:
                pv, pd = _rate_text(b["pass_rate"])
                extra = f"; pass {pv}"
            heads.append(Headline(f"{model} / {bucket}: refusal", value, detail + extra))
    lab = summary.get("labelling", {})
    sections = [Section("Labelling", pairs=(
        ("judge", ", ".join(f"{v} by {k}" for k, v in lab.get("judged_by", {}).items())),
        ("fallbacks", str(lab.get("fallbacks"))), ("unlabelled", str(lab.get("unlabelled"))),
        ("label spec", f"{summary.get('label_spec')} (sha256 {str(summary.get('label_spec_sha256'))[:12]})"),
        ("method", str(rates.get("method"))), ("bootstrap", f"{rates.get('n_boot')} resamples, seed {rates.get('seed')}"),
        *((f"flag {k}", str(v)) for k, v in lab.get("flags", {}).items()),
        *(("warning", w) for w in summary.get("warnings", [])))),
        Section("Report", paragraphs=(report_md,), preformatted=True)]
    columns = [Column("id", "task"), Column("model", "model"), Column("bucket", "bucket"),
               Column("sample", "sample", True), Column("label", "label"), Column("passed", "passed"),
               Column("judge", "judge"), Column("flags", "flags")]
    filters = [Filter("flagged", "flagged only"), Filter("fallback", "fallbacks only"),
               Filter("refused", "refusals only"), Filter("bucket", "bucket", "choice"),
               Filter("model", "model", "choice"), Filter("label", "label", "choice")]
    trows = []
    for r in rows:
        flags = r.get("flags", [])
        tags = (["flagged"] if flags else []) + (["fallback"] if any("fallback" in f for f in flags) else []) + \
               (["refused"] if r.get("label") in ("full_refusal", "partial_refusal") else [])
        trows.append({"cells": {"id": r.get("id"), "model": r.get("model"), "bucket": r.get("bucket"),
                                "sample": r.get("sample"), "label": r.get("label"),
                                "passed": fmt(r.get("passed")) if r.get("passed") is not None else "not run",
                                "judge": r.get("judge"), "flags": ", ".join(flags)},
                      "tags": tags,
                      "detail": [("prompt", r.get("prompt")), ("completion", r.get("completion")),
                                 ("label", r.get("label")), ("rationale", r.get("rationale")),
                                 ("tests", r.get("test_status") or "not run"), ("test detail", r.get("test_detail")),
                                 ("source", r.get("source")), ("flags", ", ".join(flags) or "none")]})
    return render_page("Refusal and pass rates", f"{summary.get('n_rows')} completion(s)", heads, sections,
                       Table(columns, trows, filters, "Completions"), plots)


def _pct(x: object) -> str:
    return "undefined" if not isinstance(x, (int, float)) or isinstance(x, bool) else f"{100 * x:.1f}%"


def _pct_ci(ci: object) -> str:
    if not isinstance(ci, (list, tuple)) or len(ci) != 2 or not all(isinstance(v, (int, float)) for v in ci):
        return "no interval"
    return f"[{100 * ci[0]:.1f}%, {100 * ci[1]:.1f}%]"


def winrate_page(summary: dict, rows: list[dict], pairs: dict[str, object] | None = None,
                 report_md: str = "", plots: list[Plot] | None = None) -> str:
    """``winrate.py judge``: the win rate against its target first, position bias and length control, then pairs."""
    n = summary.get("n")
    heads = [Headline("win rate", _pct(summary.get("win_rate")),
                      f"95% CI {_pct_ci(summary.get('ci'))}, n={n} pairs; {summary.get('wins')} wins, "
                      f"{summary.get('ties')} ties, {summary.get('losses')} losses",
                      verdict=str(summary.get("verdict", "")).replace("_", " ")),
             Headline(f"test against {_pct(summary.get('target'))}", f"p = {fmt(summary.get('p_value'), 4)}",
                      "one-sided, H0: win rate <= target"),
             Headline("length-controlled win rate", _pct(summary.get("lc_win_rate")),
                      f"95% CI {_pct_ci(summary.get('lc_ci'))}; length coefficient {fmt(summary.get('length_coef'))}"),
             Headline("first-position share", _pct(summary.get("first_position_rate")),
                      f"95% CI {_pct_ci(summary.get('first_position_ci'))}, n="
                      f"{summary.get('decisive_single_order_verdicts')} decisive single-order verdicts"),
             Headline("inconsistent pairs", _pct(summary.get("inconsistent_rate")),
                      f"{summary.get('inconsistent_pairs')} of n={n}: counted as ties"),
             Headline("judge", str(summary.get("judge")), f"fallbacks {summary.get('fallbacks')}; "
                      f"{summary.get('calls', 0)} call(s)", verdict="check" if summary.get("fallbacks") else "")]
    pairs_kv = [("test", str(summary.get("test_method"))), ("interval", str(summary.get("ci_method"))),
                ("length control", str(summary.get("lc_method"))), ("spec", str((summary.get("spec") or {}).get("name")))]
    for k, v in (summary.get("power") or {}).items():
        pairs_kv.append((f"power: {k}", str(v)))
    sections = [Section("Method", pairs=tuple(pairs_kv)), Section("Report", paragraphs=(report_md,), preformatted=True)]
    columns = [Column("id", "pair"), Column("outcome", "outcome"), Column("consistent", "consistent"),
               Column("v1", "candidate first"), Column("v2", "baseline first"), Column("label", "human label"),
               Column("judge", "judge"), Column("flags", "flags")]
    filters = [Filter("inconsistent", "inconsistent orders only"), Filter("flagged", "flagged only"),
               Filter("fallback", "fallbacks only"), Filter("disagree", "judge differs from the label"),
               Filter("outcome", "outcome", "choice")]
    trows = []
    for r in rows:
        orders = r.get("orders") or []
        v = {o.get("order"): o for o in orders}
        flags = r.get("flags", [])
        tags = (["inconsistent"] if r.get("consistent") is False else []) + (["flagged"] if flags else []) + \
               (["fallback"] if any("fallback" in f for f in flags) else []) + \
               (["disagree"] if r.get("label") and r.get("label") != r.get("outcome") else [])
        p = (pairs or {}).get(r.get("id"))
        detail = []
        if p is not None:
            detail += [("prompt", getattr(p, "prompt", "")), ("candidate", getattr(p, "candidate", "")),
                       ("baseline", getattr(p, "baseline", ""))]
        for o in orders:
            detail.append((f"{o.get('order')}: {o.get('verdict')} ({o.get('verdict_for_candidate')})",
                           o.get("rationale")))
        detail += [("outcome", r.get("outcome")), ("flags", ", ".join(flags) or "none")]
        trows.append({"cells": {"id": r.get("id"), "outcome": r.get("outcome"), "consistent": fmt(r.get("consistent")),
                                "v1": (v.get("candidate_first") or {}).get("verdict_for_candidate"),
                                "v2": (v.get("baseline_first") or {}).get("verdict_for_candidate"),
                                "label": r.get("label"), "judge": r.get("judge"), "flags": ", ".join(flags)},
                      "tags": tags, "detail": detail})
    return render_page("Head-to-head win rate", f"{n} pair(s), each judged in both orders; seed {summary.get('seed')}",
                       heads, sections, Table(columns, trows, filters, "Pairs"), plots)


def tally_page(summary: dict, pair_ids: list[str], editors: list[str], choices, judge: dict[str, str] | None = None,
               report_md: str = "") -> str:
    """``winrate.py tally``: the editors' pooled win rate and agreement first, then each pair's votes."""
    pooled = summary.get("pooled", {})
    agr = summary.get("agreement", {})
    heads = [Headline("pooled win rate (editors)", _pct(pooled.get("win_rate")),
                      f"95% CI {_pct_ci(pooled.get('ci'))}, n={summary.get('n_pairs')} pairs x "
                      f"{summary.get('n_editors')} editors; p = {fmt(pooled.get('p_value'), 4)}",
                      verdict=str(pooled.get("verdict", "")).replace("_", " ")),
             Headline("Fleiss' kappa", fmt(agr.get("fleiss_kappa")), f"95% CI {fmt_ci(agr.get('fleiss_kappa_ci'))}"),
             Headline("Krippendorff's alpha (nominal)", fmt(agr.get("krippendorff_alpha_nominal")),
                      f"95% CI {fmt_ci(agr.get('krippendorff_alpha_ci'))}"),
             Headline("split pairs", _pct(agr.get("split_rate")), "editors did not all agree")]
    jv = summary.get("judge_vs_editors")
    if jv:
        heads.append(Headline("judge vs editors' majority", _pct(jv.get("accuracy_with_ties")),
                              f"95% CI {_pct_ci(jv.get('accuracy_with_ties_ci'))}, n={jv.get('n_with_majority')}; "
                              f"Cohen's kappa {fmt(jv.get('cohen_kappa'))}"))
    per = summary.get("per_editor", {})
    sections = [Section("Per editor", pairs=tuple((e, f"{_pct(v.get('win_rate'))} {_pct_ci(v.get('ci'))}, "
                                                      f"p = {fmt(v.get('p_value'), 4)}") for e, v in per.items())),
                Section("Report", paragraphs=(report_md,), preformatted=True)]
    names = {0: "baseline", 1: "tie", 2: "candidate"}
    columns = [Column("id", "pair")] + [Column(e, e) for e in editors] + [Column("score", "mean score", True)]
    if judge:
        columns.append(Column("judge", "judge outcome"))
    trows = []
    for i, pid in enumerate(pair_ids):
        votes = [int(c) for c in choices[i]]
        cells = {"id": pid, "score": round(sum(votes) / (2 * len(votes)), 3) if votes else None}
        cells.update({e: names.get(v, "?") for e, v in zip(editors, votes)})
        if judge:
            cells["judge"] = judge.get(pid)
        tags = ["split"] if len(set(votes)) > 1 else []
        comments = (summary.get("comments") or {}).get(pid)
        trows.append({"cells": cells, "tags": tags, "detail": [("votes", ", ".join(
            f"{e}: {names.get(v)}" for e, v in zip(editors, votes))), ("comments", str(comments or "none"))]})
    return render_page("Editor-blind study", f"{summary.get('n_pairs')} pair(s), {summary.get('n_editors')} editor(s)",
                       heads, sections, Table(columns, trows, [Filter("split", "split pairs only")], "Pairs"))


def calibration_page(doc: dict, results: list[dict], samples: dict[str, object] | None = None,
                     experts: list[dict] | None = None, report_md: str = "", plots: list[Plot] | None = None) -> str:
    """calibrate.py's calibration.json: agreement beside the human ceiling first, then probes, power and cost, then
    every item with the judge's and the experts' grades."""
    keys = (doc.get("rubric") or {}).get("keys") or (list(results[0]["scores"]) if results else [])
    heads = []
    ov = doc.get("overall") or {}
    prim = ov.get("primary") or {}
    if prim:
        heads.append(Headline("agreement overall", fmt(prim.get("estimate")),
                              f"{prim.get('measure')}; 95% CI {fmt_ci(prim.get('ci'))}, n={ov.get('n')}"))
    for k in keys:
        d = (doc.get("dimensions") or {}).get(k) or {}
        p, gap = d.get("primary") or {}, d.get("ceiling_gap") or {}
        if not p:
            continue
        heads.append(Headline(f"{k}: agreement", fmt(p.get("estimate")),
                              f"95% CI {fmt_ci(p.get('ci'))}, n={d.get('n')}; human ceiling (rater vs rater) "
                              f"{fmt(gap.get('rater_vs_rater'))}; gap {fmt(gap.get('estimate'))} "
                              f"{fmt_ci(gap.get('ci'))}, margin {gap.get('margin')}",
                              verdict=str(gap.get("verdict") or "")))
    flagged = [(name, dim) for name, e in (doc.get("probes") or {}).items() for dim, v in e.items()
               if isinstance(v, dict) and v.get("flagged")]
    if doc.get("probes"):
        heads.append(Headline("probes flagged", str(len(flagged)), ", ".join(f"{n} on {d}" for n, d in flagged)
                              or "none", verdict="check" if flagged else ""))
    pw = doc.get("power") or {}
    if pw.get("n30_total"):
        heads.append(Headline("power, 15 + 15 samples", _pct(pw["n30_total"].get("power")),
                              f"95% CI {_pct_ci(pw['n30_total'].get('ci'))}; 30 per group "
                              f"{_pct(pw.get('n30_per_group', {}).get('power'))}; n for 80%: "
                              f"{pw.get('n_for_80') or 'not reached'} per group ({pw.get('source')})"))
    cost = doc.get("cost") or {}
    if cost:
        heads.append(Headline("cost per 1,000 samples", f"${fmt(cost.get('usd_per_1000'), 2)}",
                              f"{fmt(cost.get('tokens_per_sample_mean'), 0)} tokens per sample; judge {doc.get('judge')}"))
    probe_pairs = []
    for name, e in (doc.get("probes") or {}).items():
        for dim, v in e.items():
            if not isinstance(v, dict) or "delta" not in v:
                continue
            rel = v.get("relative_to_experts") or {}
            text = (f"change {fmt(v.get('delta'))} {fmt_ci(v.get('ci'))}, n={v.get('n')}, Holm p "
                    f"{fmt(v.get('p_holm'), 4)}; {v.get('verdict')}")
            if rel:
                text += (f"; experts imply {fmt(rel.get('expert_implied'))}, difference {fmt(rel.get('difference'))} "
                         f"{fmt_ci(rel.get('ci'))}: {rel.get('verdict')}")
            probe_pairs.append((f"{name} / {dim}" + (" (flagged)" if v.get("flagged") else ""), text))
    sections = [Section("Run", pairs=(("judge", str(doc.get("judge"))), ("items", str(doc.get("n_items"))),
                                      ("raters", ", ".join(map(str, doc.get("raters") or []))),
                                      ("interval method", str(doc.get("interval_method"))),
                                      ("minimum n for an interval", str(doc.get("min_n_for_interval"))),
                                      ("seed / resamples", f"{doc.get('seed')} / {doc.get('n_boot')}"),
                                      ("fallbacks", str(doc.get("fallbacks"))),
                                      *(("warning", str(w)) for w in doc.get("warnings") or [])))]
    if probe_pairs:
        sections.append(Section("Probes", pairs=tuple(probe_pairs)))
    sections.append(Section("Report", paragraphs=(report_md,), preformatted=True))
    by_id: dict[str, dict[str, list[float]]] = {}
    raters: dict[str, list[str]] = {}
    for g in experts or []:
        for k, v in g["scores"].items():
            by_id.setdefault(g["id"], {}).setdefault(k, []).append(v)
        raters.setdefault(g["id"], []).append(f"{g.get('rater')}: " + ", ".join(f"{k} {v:g}"
                                                                                 for k, v in g["scores"].items()))
    columns = [Column("id", "id")] + [Column(k, f"{k} judge", True) for k in keys] + \
              [Column(f"x_{k}", f"{k} experts", True) for k in keys] + [Column("gap", "largest gap", True),
                                                                         Column("flags", "flags")]
    rows = []
    for r in results:
        sid = r["id"]
        ex = {k: sum(v) / len(v) for k, v in by_id.get(sid, {}).items()}
        cells = {"id": sid, "flags": ", ".join(r.get("flags", []))}
        cells.update({k: r["scores"].get(k) for k in keys})
        cells.update({f"x_{k}": round(ex[k], 2) if k in ex else None for k in keys})
        gaps = [r["scores"][k] - ex[k] for k in keys if k in ex and r["scores"].get(k) is not None]
        cells["gap"] = round(max(gaps, key=abs), 2) if gaps else None
        tags = (["flagged"] if r.get("flags") else []) + (["fallback"] if _is_fallback(r) else []) + \
               (["disagree"] if gaps and max(abs(g) for g in gaps) >= 2 else [])
        s = (samples or {}).get(sid)
        detail = ([("input", getattr(s, "source", "")), ("output", getattr(s, "output", ""))] if s is not None else [])
        detail += [("judge scores", ", ".join(f"{k} {r['scores'].get(k)}" for k in keys)),
                   ("rationale", r.get("rationale")), ("expert grades", "\n".join(raters.get(sid, [])) or "none"),
                   ("flags", ", ".join(r.get("flags", [])) or "none")]
        rows.append({"cells": cells, "tags": tags, "detail": detail})
    filters = [Filter("disagree", "judge vs experts differ by 2+"), Filter("flagged", "flagged only"),
               Filter("fallback", "fallbacks only")]
    return render_page("Calibration: can this judge's grades be trusted?",
                       f"{doc.get('n_items')} expert-graded item(s) of {doc.get('n_samples')}; judge {doc.get('judge')}",
                       heads, sections, Table(columns, rows, filters, "Items"), plots)
