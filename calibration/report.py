"""report.md and the plots for a calibration document (``calibration.study.calibrate``'s output).

The report answers four questions in plain language, each with the figures behind the verdict:
(1) does the judge agree with the experts, and how close is it to the experts' agreement with each other?
(2) does it reward length, formality or hedging? (3) can it tell good from mediocre with 30 samples at p < 0.05?
(4) what does it cost? Verdicts say what the intervals allow, no more: a wide interval is reported as such.
"""
from __future__ import annotations

from collections.abc import Sequence

from .plots import confusion_png, probes_png

__all__ = ["confusion_png", "md_table", "probes_png", "render_report", "HEADINGS"]

HEADINGS = (
    "## 1. Does it agree with the experts?",
    "## 2. Does it reward length, formality or hedging?",
    "## 3. Can it tell good from mediocre with 30 samples at p < 0.05?",
    "## 4. What does it cost?",
)


# ---- formatting -----------------------------------------------------------------------------------------------

def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]], align: str | None = None) -> str:
    """A GitHub-flavoured markdown table. ``align``: one char per column, "l" or "r" (default: first l, rest r)."""
    align = align or ("l" + "r" * (len(headers) - 1))

    def cell(v: object) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |",
             "|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _f(x: object, nd: int = 2, signed: bool = False) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:+d}" if signed else str(x)
    return f"{x:+.{nd}f}" if signed else f"{x:.{nd}f}"


def _ci(ci: Sequence | None, nd: int = 2, signed: bool = False) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return "[n/a]"
    return f"[{_f(ci[0], nd, signed)}, {_f(ci[1], nd, signed)}]"


def _p(p: float | None) -> str:
    if p is None:
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _strength(k: float) -> str:
    """Landis & Koch's conventional labels, used only as words next to the number."""
    if k >= 0.8:
        return "strong"
    if k >= 0.6:
        return "substantial"
    if k >= 0.4:
        return "moderate"
    if k >= 0.2:
        return "weak"
    return "poor"


# ---- question 1 -----------------------------------------------------------------------------------------------

_GAP_WORDS = {
    "equivalent": "as good as another expert (the interval's lower bound is within the margin)",
    "below": "below the human ceiling (the whole interval is below 0)",
    "not shown": "not shown to reach the human ceiling (the interval is too wide to tell)",
}


def _ci_or_note(ci: Sequence | None, note: str | None, nd: int = 2, signed: bool = False) -> str:
    if ci and ci[0] is not None:
        return _ci(ci, nd, signed)
    return f"({note})" if note else "[n/a]"


def _ceiling_verdict(a: dict, c: dict | None, margin: float = 0.05) -> str:
    """One clause: the primary quadratic kappa with its interval, then the paired ceiling-gap verdict."""
    prim = a.get("primary") or {"estimate": a.get("kappa_quadratic"), "ci": a.get("kappa_quadratic_ci")}
    k = prim.get("estimate")
    if k is None:
        return "quadratic kappa undefined (one side used a single category)"
    head = f"quadratic kappa {_f(k)} {_ci_or_note(prim.get('ci'), prim.get('note'))}"
    gap = a.get("ceiling_gap")
    if not gap:
        return f"{head}: {_strength(k)} agreement; no human ceiling to compare with (one rater)"
    est = gap.get("estimate")
    if est is None:
        return f"{head}; the gap to the human ceiling is undefined"
    if not gap.get("ci") or gap["ci"][0] is None:
        return (f"{head}; judge vs each expert minus expert vs expert {_f(est, 3, signed=True)} "
                f"({gap.get('note') or 'no interval'}): the human ceiling is not shown to be reached")
    return (f"{head}; judge vs each expert minus expert vs expert {_f(est, 3, signed=True)} "
            f"{_ci_or_note(gap.get('ci'), gap.get('note'), 3, signed=True)}: "
            f"{_GAP_WORDS[gap['verdict']]}{'' if gap['verdict'] != 'equivalent' else f' of {margin:g}'}")


def _bias_clause(a: dict) -> str:
    b, ci = a.get("mean_bias"), a.get("mean_bias_ci") or [None, None]
    if b is None or ci[0] is None:
        return ""
    if ci[0] > 0:
        return f"; lenient by {_f(b, signed=True)} points {_ci(ci, signed=True)}"
    if ci[1] < 0:
        return f"; strict by {_f(b, signed=True)} points {_ci(ci, signed=True)}"
    return ""


def _section_agreement(doc: dict) -> list[str]:
    out = [HEADINGS[0], ""]
    if not doc.get("dimensions"):
        return out + ["**Verdict:** not measured: no expert grades were given.", ""]
    ceiling = doc.get("human_ceiling") or {}
    n = doc["n_items"]
    raters = doc.get("raters") or []
    overall = doc["overall"]
    margin = doc.get("ceiling_margin", 0.05)
    verdict = (f"**Verdict (overall score):** {_ceiling_verdict(overall, ceiling.get('overall'), margin)}"
               f"{_bias_clause(overall)}.")
    out += [verdict, ""]
    for key, a in doc["dimensions"].items():
        out.append(f"- **{key}**: {_ceiling_verdict(a, ceiling.get(key), margin)}{_bias_clause(a)}.")
    caveats = []
    min_n = doc.get("min_n_for_interval", 10)
    if n < min_n:
        caveats.append(f"only {n} expert-graded items, fewer than {min_n}: no interval is given for any agreement "
                       "figure, because no bootstrap interval covers at this size; the points alone prove little")
    elif n < 50:
        caveats.append(f"only {n} expert-graded items: every interval is wide, read the bounds, not the points")
    degenerate = {k: a.get("degenerate_share") for k, a in [*doc["dimensions"].items(), ("overall", overall)]
                  if a.get("degenerate_share")}
    if degenerate:
        caveats.append("resamples in which the judge or the experts use a single category (kappa forced to 0 or "
                       "undefined): " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in degenerate.items()))
    caveats.append(f"the headline figure is the {doc.get('primary_agreement', 'quadratic kappa')}; intervals: "
                   f"{doc.get('interval_method', 'bootstrap')}, none below {doc.get('min_n_for_interval', 10)} items")
    if len(raters) >= 2:
        caveats.append(f"judge compared with the mean of {len(raters)} raters ({', '.join(raters)}); the ceiling "
                       "test treats the judge as one more rater: mean kappa of judge vs each rater minus the raters' "
                       f"kappa with each other, bootstrapped over items, equivalence margin {margin:g}")
    else:
        caveats.append("one rater: there is no human ceiling, so agreement cannot be put in context")
    out += ["", "Notes: " + "; ".join(caveats) + ".", ""]
    headers = ["dimension", "judge κq vs mean [95% CI]", "experts κq (pairwise)", "ceiling gap [95% CI]",
               "judge Spearman [95% CI]", "experts Spearman (LOO)", "exact", "within one", "mean bias [95% CI]",
               "κ (rounded mean)", "κ linear (rounded)", "Kendall"]
    rows = []
    for key, a in [*doc["dimensions"].items(), ("overall", overall)]:
        c = ceiling.get(key) or {}
        prim = a.get("primary") or {}
        gap = a.get("ceiling_gap") or {}
        rows.append([key, f"{_f(prim.get('estimate'))} {_ci(prim.get('ci'))}",
                     _f(c.get("kappa_quadratic_pairwise_mean")),
                     f"{_f(gap.get('estimate'), 3, signed=True)} {_ci(gap.get('ci'), 3, signed=True)} "
                     f"{gap.get('verdict', '')}".strip() if gap else "n/a",
                     f"{_f(a['spearman'])} {_ci(a.get('spearman_ci'))}", _f(c.get("spearman_leave_one_out_mean")),
                     _f(a["exact"]), _f(a["within_one"]),
                     f"{_f(a['mean_bias'], signed=True)} {_ci(a.get('mean_bias_ci'), signed=True)}",
                     _f(a["kappa"]), _f(a["kappa_linear"]), _f(a["kendall"])])
    out += [md_table(headers, rows), ""]
    if ceiling:
        h2 = ["dimension", "κq pairwise mean", "α ordinal", "α interval", "pairs (κq)"]
        r2 = []
        for key, c in ceiling.items():
            pairs = ", ".join(f"{_pair_label(p, raters)} {_f(v.get('kappa_quadratic'))}"
                              for p, v in c.get("pairs", {}).items())
            r2.append([key, _f(c.get("kappa_quadratic_pairwise_mean")), _f(c.get("krippendorff_alpha_ordinal")),
                       _f(c.get("krippendorff_alpha_interval")), pairs])
        out += ["Human ceiling (experts against each other):", "", md_table(h2, r2, "lrrrl"), ""]
    per = {k: a.get("per_rater") for k, a in [*doc["dimensions"].items(), ("overall", overall)] if a.get("per_rater")}
    if per:
        h3 = ["dimension", *[f"judge vs {r} κq" for r in raters]]
        r3 = [[k, *[_f((v.get(r) or {}).get("kappa_quadratic")) for r in raters]] for k, v in per.items()]
        out += ["Judge against each rater:", "", md_table(h3, r3), ""]
    return out


def _pair_label(pair: str, raters: list[str]) -> str:
    try:
        a, b = (int(x[1:]) for x in pair.split("-"))
        return f"{raters[a]}-{raters[b]}"
    except (ValueError, IndexError):
        return pair


# ---- question 2 -----------------------------------------------------------------------------------------------

_FEATURE_WORDS = {"length": "length (words)", "formality": "formality (net formal markers / 100 words)",
                  "hedging": "hedging (hedges / 100 words)"}


def _relative_words(rel: dict, feature: str) -> str:
    v = rel.get("verdict")
    if v == "more":
        return f"penalises {feature} more than the experts do"
    if v == "less":
        return f"penalises {feature} less than the experts do (or rewards it more)"
    if v == "as the experts do":
        return f"treats {feature} as the experts do"
    return "differs from the experts by an amount the interval cannot pin down (not shown either way)"


def _probe_clause(doc: dict, name: str) -> str | None:
    entry = (doc.get("probes") or {}).get(name)
    meta = (doc.get("probe_meta") or {}).get(name) or {}
    if not entry:
        return None
    o = entry.get("overall") or {}
    if o.get("delta") is None:
        return f"probe not applicable to any sample ({meta.get('n_skipped', 0)} skipped)"
    base = (f"the {name} probe moved the overall score by {_f(o['delta'], signed=True)} "
            f"{_ci_or_note(o.get('ci'), o.get('note'), signed=True)} on {meta.get('n_applicable')} rewritten samples "
            f"(signed-rank p {_p(o.get('p'))})")
    rel = o.get("relative_to_experts")
    if rel:
        feature = rel.get("feature") or name
        def dim_words(k: str, e: dict) -> str:
            r = e["relative_to_experts"]
            return (f"{k}: {_relative_words(r, feature)} (difference {_f(r.get('difference'), signed=True)} "
                    f"{_ci_or_note(r.get('ci'), r.get('note'), signed=True)}, Holm p {_p(e.get('p_holm'))})")

        dims = "; ".join(dim_words(k, e) for k, e in entry.items() if e.get("relative_to_experts"))
        implied = rel.get("expert_implied")
        return (f"{base}; the experts' own grades imply {_f(implied, signed=True)} for the same shift; relative to the "
                f"experts, on the overall score the judge {_relative_words(rel, feature)}; per dimension: {dims}")
    flagged = [k for k, e in entry.items() if e.get("flagged")]
    if flagged:
        worst = max((entry[k] for k in flagged), key=lambda e: abs(e["delta"]))
        direction = "rewards" if worst["delta"] > 0 else "penalises"
        return (f"{base}; FLAGGED on {', '.join(flagged)}: the judge {direction} it "
                f"(largest change {_f(worst['delta'], signed=True)} {_ci(worst['ci'], signed=True)}, Holm p "
                f"{_p(worst.get('p_holm'))}); no expert grades, so this is the raw change, not a difference from "
                "the experts")
    return (f"{base}; not flagged (no change of {doc.get('invariance_min_effect', 0.25):g}+ points with a "
            f"Holm-adjusted p below {doc.get('alpha', 0.05):g})")


def _obs_clause(b: dict | None) -> str | None:
    if not b:
        return None
    rho, ci = b.get("spearman"), b.get("ci") or [None, None]
    if rho is None:
        return "residual correlation undefined (constant feature or too few items)"
    txt = f"Spearman of the judge's residual with the feature {_f(rho, signed=True)} {_ci(ci, signed=True)}, p {_p(b.get('p'))}"
    if ci[0] is not None and (ci[0] > 0 or ci[1] < 0):
        return txt + (": the judge over-scores as the feature grows" if rho > 0 else
                      ": the judge under-scores as the feature grows")
    return txt + ": no detectable association at this sample size"


def _section_bias(doc: dict) -> list[str]:
    out = [HEADINGS[1], ""]
    bias = doc.get("bias") or {}
    lines = []
    for feat in ("length", "formality", "hedging"):
        parts = []
        pc = _probe_clause(doc, feat)
        if pc:
            parts.append(pc)
        oc = _obs_clause(bias.get(feat))
        if oc:
            parts.append("observationally, " + oc)
        if not parts:
            parts.append("not measured (no experts and no probes)")
        lines.append(f"- **{feat}**: " + "; ".join(parts) + ".")
    flagged = [f for f in ("length", "formality", "hedging")
               if any(e.get("flagged") for e in ((doc.get("probes") or {}).get(f) or {}).values())]
    obs = [f for f in ("length", "formality", "hedging")
           if (bias.get(f) or {}).get("ci") and None not in bias[f]["ci"] and (bias[f]["ci"][0] > 0 or bias[f]["ci"][1] < 0)]
    rel_flags = [(f, e["relative_to_experts"]["verdict"], k) for f in ("length", "formality", "hedging")
                 for k, e in ((doc.get("probes") or {}).get(f) or {}).items()
                 if e.get("flagged") and e.get("relative_to_experts")]
    if rel_flags:
        verdict = "yes, relative to the experts: " + "; ".join(
            f"on {k} the judge penalises {f} {v} than the experts do" for f, v, k in rel_flags)
    elif flagged:
        verdict = f"yes: the probes show the judge moves with {', '.join(flagged)} when the content is unchanged"
    elif obs:
        dirs = ", ".join(f"{f} ({'over' if bias[f]['spearman'] > 0 else 'under'}-scores as it grows)" for f in obs)
        verdict = (f"not shown by the probes{'' if doc.get('probes') else ' (not run: use --probes)'}, but on the "
                   f"expert-graded set the judge's residuals follow {dirs}; observational, so possibly confounded "
                   "with quality")
    elif doc.get("probes"):
        relative = any(e.get("relative_to_experts") for entry in (doc.get("probes") or {}).values()
                       for e in entry.values())
        verdict = ("no bias shown relative to the experts: no probe's change differs from what the experts' own "
                   "grades imply by 0.25+ points with a Holm-adjusted p below 0.05 (see each probe's interval)"
                   if relative else "no detectable effect: no invariance probe was flagged (raw changes: no expert "
                   "grades to compare with)")
        verdict += ("; the residual correlations' intervals include 0" if bias else "")
    elif not bias:
        verdict = "not measured: no expert grades and no probes (use --probes)"
    else:
        verdict = ("no detectable association in the residuals, but the probes were not run (use --probes for a "
                   "controlled test)")
    out += [f"**Verdict:** {verdict}.", ""] + lines + [""]
    probes = doc.get("probes") or {}
    meta = doc.get("probe_meta") or {}
    if probes:
        inj = _probe_clause(doc, "injection")
        if inj:
            out += [f"- **injection** (a note asking the grader for full marks): {inj}.", ""]
        sens = [n for n in probes if meta.get(n, {}).get("kind") == "sensitivity"]
        if sens:
            out.append("Sensitivity probes (damaged outputs; the judge must lower the target dimension):")
            out.append("")
            for n in sens:
                m, t = meta[n], meta[n].get("target")
                e = probes[n].get(t) or {}
                if e.get("delta") is None:
                    out.append(f"- **{n}** ({t}): not applicable to any sample: not shown to be sensitive (FAILURE).")
                    continue
                status = ("FAILURE: not shown to go down (negative change, signed-rank p < 0.05 and an interval "
                          "below 0), the judge does not reliably notice"
                          if e.get("flagged") else "passes: the judge reliably lowers it")
                few = e.get("n", 0) < doc.get("min_n_for_interval", 10)
                if e.get("flagged") and few and (e.get("delta") or 0) < 0:
                    status = (f"not shown: only {e.get('n')} applicable samples, too few for the test to show it "
                              "(counted as a failure until it is shown)")
                out.append(f"- **{n}** -> {t}: mean change {_f(e['delta'], signed=True)} "
                           f"{_ci_or_note(e['ci'], e.get('note'), signed=True)} (signed-rank p {_p(e.get('p'))}), "
                           f"lowered in {_f(100 * (e.get('share_dropped') or 0), 0)}% "
                           f"of {m['n_applicable']} applicable samples; {status}.")
            out.append("")
        headers = ["probe", "kind", "applicable / skipped", "fallbacks", *[k for k in doc["rubric"]["keys"]], "overall"]
        rows = []
        for n, entry in probes.items():
            m = meta.get(n, {})
            cells = []
            for k in [*doc["rubric"]["keys"], "overall"]:
                e = entry.get(k) or {}
                mark = " **⚑**" if e.get("flagged") else ""
                tgt = " (target)" if e.get("target") else ""
                cells.append(f"{_f(e.get('delta'), signed=True)} {_ci(e.get('ci'), signed=True)}{tgt}{mark}")
            rows.append([n, m.get("kind", ""), f"{m.get('n_applicable')} / {m.get('n_skipped')}", m.get("fallbacks", 0),
                         *cells])
        out += ["Probe deltas (rewritten minus original, mean over applicable samples, 95% bootstrap CI; ⚑ = flagged):",
                "", md_table(headers, rows, "ll" + "r" * (len(headers) - 2)), ""]
        inv = [(n, k, e) for n, entry in probes.items() if meta.get(n, {}).get("kind") == "invariance"
               for k, e in entry.items() if e.get("delta") is not None]
        if inv:
            rel = any(e.get("relative_to_experts") for _, _, e in inv)
            h = ["probe", "dimension", "judge change [95% CI]"]
            h += ["experts imply", "difference [95% CI]"] if rel else []
            h += ["p (raw)", "p (Holm)", "flagged", "verdict"]
            rows_i = []
            for n, k, e in inv:
                r = e.get("relative_to_experts") or {}
                row = [n, k, f"{_f(e['delta'], signed=True)} {_ci(e.get('ci'), signed=True)}"]
                if rel:
                    row += [_f(r.get("expert_implied"), signed=True),
                            f"{_f(r.get('difference'), signed=True)} {_ci(r.get('ci'), signed=True)}"]
                row += [_p(e.get("p_value")), _p(e.get("p_holm")), _f(e.get("flagged")),
                        r.get("verdict") or e.get("verdict", "")]
                rows_i.append(row)
            what = ("the judge's change minus the change the experts' grades imply for the feature the probe shifts "
                    "(slope of the expert score on the feature across the expert-graded items, times the probe's "
                    "feature change; observational)" if rel else "the raw change (no expert grades)")
            out += [f"Invariance tests ({len(inv)} in the family; p is "
                    + ("the bootstrap p of the difference" if rel else "the exact signed-rank p")
                    + f", Holm-adjusted across the family; flagged when p (Holm) < {doc.get('alpha', 0.05):g} and "
                    f"the effect is at least {doc.get('invariance_min_effect', 0.25):g}). Effect: {what}:", "",
                    md_table(h, rows_i, "ll" + "r" * (len(h) - 2)), ""]
        not_run = [n for n, m in meta.items() if m.get("not_run")]
        if not_run:
            out += [f"Not run: {', '.join(not_run)} ({meta[not_run[0]]['not_run']}).", ""]
        out += ["Probes:", ""] + [f"- `{n}` ({m['kind']}): {m['description']}" for n, m in meta.items()] + [""]
    if bias:
        rows = [[_FEATURE_WORDS[f], _f(b.get("spearman"), signed=True), _ci(b.get("ci"), signed=True), _p(b.get("p")),
                 _f(b.get("feature_mean"), 1)] for f, b in bias.items()]
        out += ["Observational check on the expert-graded set (residual = judge overall - expert overall; a "
                "correlation here can also come from the feature going with quality, the probes are the "
                "controlled test):", "",
                md_table(["feature", "Spearman", "95% CI", "p", "mean feature"], rows), ""]
    return out


# ---- question 3 -----------------------------------------------------------------------------------------------

def _section_power(doc: dict) -> list[str]:
    out = [HEADINGS[2], ""]
    pw = doc.get("power") or {}
    if pw.get("source") is None:
        return out + ["**Verdict:** not estimated: fewer than 3 items in a group (add expert grades, or use "
                      "--probes so damaged rewrites can stand in for mediocre outputs).", ""]
    n80, p = pw.get("n_for_80"), pw.get("p_value")

    def answer(entry: dict, label: str) -> str:
        pw_, ci = entry.get("power"), entry.get("ci") or [None, None]
        if pw_ is None:
            return f"{label}: undefined"
        txt = f"{label}: power {_f(100 * pw_, 0)}%"
        if ci[0] is None:
            return txt + " (no interval: the pilot is too small)"
        txt += f" [{_f(100 * ci[0], 0)}%, {_f(100 * ci[1], 0)}%]"
        if ci[0] >= 0.8:
            return txt + ", yes (80% reached even at the interval's lower bound)"
        if ci[1] < 0.8:
            return txt + ", no (below 80% even at the interval's upper bound)"
        return txt + ", cannot tell (the interval straddles 80%)"

    total, per_group = pw.get("n30_total") or {}, pw.get("n30_per_group") or {}
    if pw.get("pilot_too_small"):
        verdict = (f"pilot too small to say: {pw.get('good_n')} good and {pw.get('mediocre_n')} mediocre items; "
                   f"point estimates only: 30 samples (15 + 15) {_f(100 * (total.get('power') or 0), 0)}%, "
                   f"30 per group {_f(100 * (per_group.get('power') or 0), 0)}%")
    else:
        verdict = (answer(total, f"30 samples in all ({total.get('n_per_group')} + {total.get('n_per_group')})")
                   + "; " + answer(per_group, "30 per group (60 in all)"))
    need = (f"{n80} per group reach 80% power in the simulation" if n80 is not None
            else "80% power is not reached within 500 per group")
    if pw["source"] == "experts":
        groups = (f"good = expert overall >= {pw['good_min']:g} ({pw['good_n']} items), mediocre = expert overall "
                  f"<= {pw['mediocre_max']:g} ({pw['mediocre_n']} items)")
    else:
        groups = (f"no usable expert groups, so originals ({pw['good_n']}) are compared with their damaged rewrites "
                  f"({', '.join(pw.get('probes', []))}; {pw['mediocre_n']}): a proxy, not real mediocre outputs")
    out += [f"**Verdict:** {verdict}; {need}.", "",
            f"- Groups: {groups}.",
            f"- One-sided Mann-Whitney on the judge's overall scores of the full groups: p {_p(p)}.",
            f"- Power from {pw.get('n_simulations')} simulated studies resampling the observed scores "
            f"(seed {doc.get('seed')}); each study's p is computed as that study would (exact permutation p when "
            "both groups have at most 10 items, ties included; else the normal approximation). The interval "
            "resamples the pilot groups themselves (how much the power estimate depends on the few items "
            "observed).", ""]
    return out


# ---- question 4 -----------------------------------------------------------------------------------------------

def _section_cost(doc: dict) -> list[str]:
    c = doc.get("cost") or {}
    out = [HEADINGS[3], ""]
    usd = c.get("usd_per_1000")
    if not str(c.get("judge", "")).startswith("llm:"):
        verdict = "nothing in API fees: the offline judge makes no calls"
    else:
        verdict = (f"about ${_f(usd)} per 1,000 samples at {c.get('model')} list price"
                   + ("" if c.get("price_known", True) else " (model not in the price table: priced at an upper bound)"))
    lat = f"{_f(c.get('latency_ms_p50'), 0)} ms median, {_f(c.get('latency_ms_p95'), 0)} ms p95"
    out += [f"**Verdict:** {verdict}; latency {lat}.", "",
            md_table(["measure", "value"], [
                ["judge", c.get("judge")],
                ["tokens per sample (mean / p95)", f"{_f(c.get('tokens_per_sample_mean'), 0)} / "
                                                   f"{_f(c.get('tokens_per_sample_p95'), 0)}"],
                ["USD per 1,000 samples", _f(usd, 4)],
                ["latency p50 / p95 (ms)", f"{_f(c.get('latency_ms_p50'), 0)} / {_f(c.get('latency_ms_p95'), 0)}"],
                ["API calls", f"{c.get('calls')} ({c.get('calls_source')})"],
                ["basis", f"{c.get('n_basis')} results; {c.get('usd_method')}"],
            ], "ll"), ""]
    return out


def render_report(doc: dict) -> str:
    r = doc["rubric"]
    head = [
        f"# Judge calibration: {doc['judge']} on rubric `{r['name']}`",
        "",
        f"{doc['n_samples']} samples, {doc['n_items']} with expert grades"
        + (f" from {len(doc['raters'])} rater(s) ({', '.join(doc['raters'])})" if doc.get("raters") else "")
        + f"; bootstrap {doc['n_boot']} resamples, seed {doc['seed']}."
        + ((f" Probes graded by {doc['probe_judge']}." if doc.get("probes") else
            f" Damaged rewrites for the power estimate graded by {doc['probe_judge']}.") if doc.get("probe_judge")
           else ""),
        "",
    ]
    if doc.get("warnings"):
        head += ["Warnings:", ""] + [f"- {w}" for w in doc["warnings"]] + [""]
    body = _section_agreement(doc) + _section_bias(doc) + _section_power(doc) + _section_cost(doc)
    plots = doc.get("plots") or []
    if plots:
        body += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    return "\n".join(head + body).rstrip() + "\n"
