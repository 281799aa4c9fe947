"""Win-rate figures from pairwise verdicts or filled editor sheets, and their report.md and plot."""
from __future__ import annotations

import numpy as np

from calibration.stats.editors import CATEGORIES, editor_agreement, judge_vs_majority
from calibration.stats.winrate import (OUTCOME_SCORE, decide, length_controlled, outcome_scores, position_bias,
                                       power_figures, win_rate, win_rate_test)

VERDICT_TEXT = {
    "above_target": "the candidate beats the baseline by more than the target: the one-sided test rejects "
                    "'win rate <= {t:.0%}' at the 5% level",
    "below_target": "the candidate does not reach the target: the whole 95% interval lies below {t:.0%}",
    "not_shown": "not shown: the data cannot tell whether the win rate exceeds {t:.0%} (the test does not reject "
                 "and the interval reaches the target)",
}
ORDER_SCORE = {"candidate": 1.0, "tie": 0.5, "baseline": 0.0}


def _rate(scores: np.ndarray, target: float, seed: int, n_boot: int) -> dict:
    est = win_rate(scores, n_boot=n_boot, seed=seed)
    test = win_rate_test(scores, target)
    return {"win_rate": est["win_rate"], "ci": est["ci"], "p_value": test["p_value"], "target": target,
            "verdict": decide(test["p_value"], est["ci"], target), "test_method": test["method"],
            "ci_method": est["method"]}


def judge_summary(rows: list[dict], target: float, seed: int, n_boot: int, counts: dict, judge: str) -> dict:
    """``summary.json`` for ``winrate.py judge``: win rate, test, power, position bias, length control."""
    n = len(rows)
    outcomes = [r["outcome"] for r in rows]
    out = {"n": n, "wins": outcomes.count("candidate"), "losses": outcomes.count("baseline"),
           "ties": outcomes.count("tie"), "target": target, "seed": seed, "bootstrap": n_boot, "judge": judge,
           **counts}
    if n == 0:
        return {**out, "win_rate": None, "ci": [None, None], "p_value": None, "verdict": "not_shown",
                "lc_win_rate": None, "lc_ci": [None, None], "length_coef": None, "first_position_rate": None,
                "first_position_ci": [None, None], "inconsistent_rate": None, "power": None}
    s = outcome_scores(outcomes)
    out.update(_rate(s, target, seed, n_boot))
    out["power"] = power_figures(n, target, out["ties"] / n)
    first = [sum(o["favours_position"] == "first" for o in r["orders"]) for r in rows]
    decisive = [sum(o["favours_position"] != "tie" for o in r["orders"]) for r in rows]
    pb = position_bias(first, decisive, n_boot=n_boot, seed=seed)
    out.update({"first_position_rate": pb["first_position_rate"], "first_position_ci": pb["ci"],
                "decisive_single_order_verdicts": pb["decisive_verdicts"],
                "inconsistent_rate": float(np.mean([not r["consistent"] for r in rows])),
                "inconsistent_pairs": int(sum(not r["consistent"] for r in rows))})
    by_order = {o: [ORDER_SCORE[next(x["direction"] for x in r["orders"] if x["order"] == o)] for r in rows]
                for o in ("candidate_first", "baseline_first")}
    len_diff = [r["candidate_words"] - r["baseline_words"] for r in rows]
    lc = length_controlled(by_order["candidate_first"], by_order["baseline_first"], len_diff,
                           n_boot=min(n_boot, 2000), seed=seed)
    out.update({"lc_win_rate": lc["lc_win_rate"], "lc_ci": lc["ci"], "length_coef": lc["length_coef"],
                "position_coef": lc["position_coef"], "length_sd_words": lc["length_sd"], "lc_method": lc["method"]})
    labelled = [r for r in rows if r.get("label")]
    if labelled:
        agree = np.array([r["outcome"] == r["label"] for r in labelled], dtype=float)
        out["label_agreement"] = {"n": len(labelled), "accuracy_with_ties": float(agree.mean()),
                                  "ci": win_rate(agree, n_boot=n_boot, seed=seed)["ci"]}
    return out


def _fmt(x, pct=True) -> str:
    if x is None:
        return "n/a"
    return f"{x:.1%}" if pct else f"{x:.3f}"


def _ci(ci, pct=True) -> str:
    return f"[{_fmt(ci[0], pct)}, {_fmt(ci[1], pct)}]" if ci and ci[0] is not None else "[n/a]"


def judge_report(s: dict) -> str:
    t = s["target"]
    lines = ["# Head-to-head win rate", "",
             f"**Verdict: {VERDICT_TEXT[s['verdict']].format(t=t)}.**", ""]
    if s["n"] == 0:
        return "\n".join(lines + ["No pairs were judged.", ""])
    p = s["power"]
    lines += [
        f"{s['n']} pairs judged by `{s['judge']}` (every pair in both orders; a pair whose two orders disagree in "
        f"direction counts as a tie). Candidate wins {s['wins']}, loses {s['losses']}, ties {s['ties']}.", "",
        "| figure | value | 95% interval |", "|---|---:|---|",
        f"| win rate (win 1, tie 0.5, loss 0) | {_fmt(s['win_rate'])} | {_ci(s['ci'])} |",
        f"| length-controlled win rate | {_fmt(s['lc_win_rate'])} | {_ci(s['lc_ci'])} |",
        f"| share of decisive single-order verdicts favouring the first position | {_fmt(s['first_position_rate'])} "
        f"| {_ci(s['first_position_ci'])} |",
        f"| pairs judged inconsistently across orders | {_fmt(s['inconsistent_rate'])} | |", "",
        f"* Test of H0 'win rate <= {t:.0%}': p = {s['p_value']:.4f} ({s['test_method']}).",
        f"* Power at n = {s['n']} (tie rate {p['tie_rate_assumed']:.0%}): {p['power_at_n_plus_0.05']:.0%} for a true "
        f"win rate of {t + 0.05:.0%}, {p['power_at_n_plus_0.10']:.0%} for {t + 0.10:.0%}; 80% power needs "
        f"n = {p['n_for_80pct_plus_0.05'] or 'more than 20,000'} and n = {p['n_for_80pct_plus_0.10'] or 'n/a'}.",
        f"* Length: coefficient {s['length_coef']:+.3f} log-odds per SD ({s['length_sd_words']:.1f} words) of the "
        f"candidate-minus-baseline length difference; {s['lc_method']}.",
        f"* Interval: {s['ci_method']}. Fallbacks: {s['fallbacks']}; flags: "
        f"{', '.join(f'{k} {v}' for k, v in s['flags'].items()) or 'none'}.",
    ]
    if "label_agreement" in s:
        la = s["label_agreement"]
        lines.append(f"* Agreement with the {la['n']} human labels in the input (three categories): "
                     f"{_fmt(la['accuracy_with_ties'])} {_ci(la['ci'])}.")
    return "\n".join(lines) + "\n"


def tally_summary(pair_ids: list[str], editors: list[str], choices: np.ndarray, target: float, seed: int,
                  n_boot: int, judge_outcomes: dict[str, str] | None = None) -> dict:
    """Editors' win rate per editor and pooled (per pair, the mean of the editors' scores), the test, agreement,
    and with a judge's outcomes its agreement with the editors' majority."""
    scores = choices / 2.0  # 0 baseline, 0.5 tie, 1 candidate
    pooled = scores.mean(axis=1)
    out = {"n_pairs": len(pair_ids), "n_editors": len(editors), "target": target, "seed": seed,
           "bootstrap": n_boot, "pooled": _rate(pooled, target, seed, n_boot),
           "per_editor": {ed: _rate(scores[:, j], target, seed, n_boot) for j, ed in enumerate(editors)}}
    out["pooled"]["power"] = power_figures(len(pair_ids), target, 0.0)
    out["pooled"]["power"]["method"] = ("exact power of the binomial test: the bound test's power when the editors "
                                        "always agree; with editors who disagree it is lower (a conservative test)")
    if len(editors) >= 2:
        out["agreement"] = editor_agreement(choices, n_boot=n_boot, seed=seed)
    if judge_outcomes is not None:
        code = {c: i for i, c in enumerate(CATEGORIES)}
        judge = np.array([code[judge_outcomes[p]] for p in pair_ids])
        out["judge_vs_editors"] = judge_vs_majority(judge, choices, n_boot=n_boot, seed=seed)
    return out


def tally_report(s: dict) -> str:
    p, t = s["pooled"], s["target"]
    lines = ["# Editor-blind study", "", f"**Verdict: {VERDICT_TEXT[p['verdict']].format(t=t)}.**", "",
             f"{s['n_pairs']} pairs, {s['n_editors']} editors. Pooled win rate (per pair, the mean of the editors' "
             f"scores): {_fmt(p['win_rate'])} {_ci(p['ci'])}; p = {p['p_value']:.4f} ({p['test_method']}).", "",
             "| editor | win rate | 95% interval | p (H0: <= target) |", "|---|---:|---|---:|"]
    for ed, r in s["per_editor"].items():
        lines.append(f"| {ed} | {_fmt(r['win_rate'])} | {_ci(r['ci'])} | {r['p_value']:.4f} |")
    a = s.get("agreement")
    if a:
        lines += ["", f"Agreement among editors: Fleiss' kappa {_fmt(a['fleiss_kappa'], False)} "
                      f"{_ci(a['fleiss_kappa_ci'], False)}, Krippendorff's alpha (nominal) "
                      f"{_fmt(a['krippendorff_alpha_nominal'], False)} {_ci(a['krippendorff_alpha_ci'], False)}; "
                      f"editors split on {_fmt(a['split_rate'])} of pairs, no majority on {_fmt(a['no_majority_rate'])}."]
    j = s.get("judge_vs_editors")
    if j:
        lines += ["", f"Judge vs the editors' majority ({j['n_with_majority']} pairs with a majority): accuracy with "
                      f"ties {_fmt(j['accuracy_with_ties'])} {_ci(j.get('accuracy_with_ties_ci'))}, without ties "
                      f"{_fmt(j['accuracy_without_ties'])} {_ci(j.get('accuracy_without_ties_ci'))} "
                      f"({j.get('n_both_decisive', 0)} pairs both decisive), Cohen's kappa "
                      f"{_fmt(j['cohen_kappa'], False)} {_ci(j.get('cohen_kappa_ci'), False)}. Use the judge for "
                      "screening only if this agreement is close to the editors' agreement with each other."]
    return "\n".join(lines) + "\n"


def plot_winrate(s: dict, path) -> None:
    """Raw and length-controlled win rates with intervals against the target, and the first-position share."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 2.8))
    items = [("win rate", s.get("win_rate"), s.get("ci")), ("length-controlled", s.get("lc_win_rate"), s.get("lc_ci")),
             ("first-position share", s.get("first_position_rate"), s.get("first_position_ci"))]
    for y, (label, v, ci) in enumerate(items):
        if v is None:
            continue
        lo, hi = (ci if ci and ci[0] is not None else (v, v))
        ax.errorbar([v], [y], xerr=[[v - lo], [hi - v]], fmt="o", capsize=4)
    ax.axvline(s["target"], color="red", ls="--", lw=1, label=f"target {s['target']:.0%}")
    ax.axvline(0.5, color="grey", ls=":", lw=1, label="0.5")
    ax.set_yticks(range(len(items)), [i[0] for i in items])
    ax.set_xlim(0, 1)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"n = {s['n']} pairs, judge {s['judge']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


__all__ = ["judge_summary", "judge_report", "tally_summary", "tally_report", "plot_winrate", "OUTCOME_SCORE"]
