"""The capability audit's memo (plain language, for leadership) and its forest plot."""
from __future__ import annotations


def _pts(x: float) -> str:
    return f"{x:+.1f}"


def _ci(ci) -> str:
    return f"[{ci[0]:+.1f}, {ci[1]:+.1f}]"


def render_memo(record: dict) -> str:
    """A short memo: what regressed, how sure we are, whether the mitigation closes the gap, what to do next."""
    base, cand, limit = record["base"], record["candidate"], record["method"]["max_drop"]
    tasks: dict = record["tasks"]
    mits: list[str] = record["mitigations"]
    exceeds = [t for t, e in tasks.items() if e["max_drop_verdict"] == "exceeds"]
    inconcl = [t for t, e in tasks.items() if e["max_drop_verdict"] == "inconclusive"]
    within = [t for t, e in tasks.items() if e["max_drop_verdict"] == "within"]
    sig_drop = [t for t, e in tasks.items() if e["delta"] < 0 and e["p_holm"] is not None and e["p_holm"] < 0.05]
    lines = [f"# Capability audit: {cand} vs {base}", ""]
    if exceeds:
        verdict = (f"**The rule \"no benchmark drops by more than {limit:g} points\" is broken** on "
                   f"{', '.join(exceeds)}.")
    elif inconcl:
        verdict = (f"**The rule \"no benchmark drops by more than {limit:g} points\" is not shown to hold**: "
                   f"the data cannot rule out a larger drop on {', '.join(inconcl)}.")
    else:
        verdict = f"**The rule \"no benchmark drops by more than {limit:g} points\" holds on every benchmark.**"
    lines += [verdict, ""]
    lines += ["## What regressed", ""]
    largest = record["largest_regression"]
    if largest:
        lr = tasks[largest["task"]]
        lines.append(f"- The largest drop is **{largest['task']}**: {_pts(largest['delta'])} points "
                     f"({lr['models'][base]['mean']:.1f} -> {lr['models'][cand]['mean']:.1f}), 95% interval "
                     f"{_ci(largest['ci'])}; it is the largest regression in {largest['p_largest']:.0%} of "
                     f"bootstrap replays.")
    else:
        lines.append("- No benchmark scored lower after the fine-tune.")
    for t, e in tasks.items():
        if largest and t == largest["task"]:
            continue
        sure = ("a real change" if e["p_holm"] is not None and e["p_holm"] < 0.05 else "could be noise")
        lines.append(f"- {t}: {_pts(e['delta'])} points {_ci(e['ci'])} ({sure}).")
    lines += ["", "## How sure we are", ""]
    lines.append(f"- Drops that are real after correcting for testing {len(tasks)} benchmarks at once (Holm, "
                 f"p < 0.05): {', '.join(sig_drop) if sig_drop else 'none'}.")
    if within:
        lines.append(f"- Safely within the {limit:g}-point limit (even the worst end of the interval): "
                     f"{', '.join(within)}.")
    if inconcl:
        lines.append(f"- Inconclusive (the interval straddles the limit; more items or seeds needed): "
                     f"{', '.join(inconcl)}.")
    nseeds = {m: max(e["models"][m]["n_seeds"] for e in tasks.values()) for m in [base, cand]}
    lines.append(f"- Each figure pairs the same questions across models and averages "
                 f"{nseeds[base]} ({base}) and {nseeds[cand]} ({cand}) seeds per question; intervals come from "
                 f"resampling questions ({record['method']['bootstrap']} replays, seed {record['method']['seed']}).")
    spread = [(e["models"][m]["seed_sd"], t, m) for t, e in tasks.items() for m in e["models"]
              if e["models"][m]["seed_sd"] is not None]
    if spread:
        sd, t, m = max(spread)
        lines.append(f"- Re-running with another seed moves a score by up to {sd:.1f} points (standard deviation; "
                     f"{m} on {t}), so a single run per model would be a poor guide; this audit averages the seeds.")
    for f in record["flags"]:
        if "moves with the seed" in f:
            lines.append(f"- Caution: {f}.")
    if record["skipped_tasks"]:
        lines.append("- Not compared: " + "; ".join(f"{s['task']} ({s['reason']})" for s in record["skipped_tasks"])
                     + ".")
    excl = {t: e["excluded_items"] for t, e in tasks.items()
            if e["excluded_items"]["missing_in_some_run"] or e["excluded_items"]["doc_hash_mismatch"]}
    for t, x in excl.items():
        lines.append(f"- {t}: {x['doc_hash_mismatch']} questions differed between runs and {x['missing_in_some_run']}"
                     f" were missing from some run; they were left out of the comparison.")
    for m in mits:
        lines += ["", f"## Does {m} close the gap?", ""]
        for t, e in tasks.items():
            mm = e["mitigations"][m]
            if mm["delta_vs_base"] is None:
                lines.append(f"- {t}: not measured ({mm['note']}).")
                continue
            vs = f"{_pts(mm['delta_vs_base'])} points vs {base} {_ci(mm['delta_vs_base_ci'])}"
            if mm["gap_closed"] is None:
                lines.append(f"- {t}: {vs}; the share of the gap recovered is undefined "
                             f"({mm['note'].removeprefix('undefined: ')}).")
            else:
                lo, hi = mm["ci"]
                span = f"95% interval {lo:.0%} to {hi:.0%}" if None not in (lo, hi) else "interval undefined"
                lines.append(f"- {t}: recovers {mm['gap_closed']:.0%} of the gap ({span}); {vs}.")
        bad = [t for t, e in tasks.items() if e["mitigations"][m]["max_drop_verdict"] in ("exceeds", "inconclusive")]
        lines.append(f"- Against the {limit:g}-point rule, {m} is "
                     + (f"not shown safe on {', '.join(bad)}." if bad else "within the limit on every benchmark."))
    lines += ["", "## Next fine-tune cycle", ""]
    if largest:
        lines.append(f"- Target {largest['task']} first: mix its kind of data into training (replay) or merge with "
                     f"the base, and re-run this audit on the same seeds.")
    if inconcl:
        lines.append(f"- Add questions or seeds for {', '.join(inconcl)} until the interval clears the "
                     f"{limit:g}-point line; as it stands we cannot call them safe.")
    for m in mits:
        mm = tasks[largest["task"]]["mitigations"][m] if largest else None
        if mm and mm["gap_closed"] is not None and mm["ci"] and mm["ci"][0] is not None and mm["ci"][0] > 0:
            lines.append(f"- {m} wins back a real part of the {largest['task']} loss ({mm['gap_closed']:.0%}, 95% "
                         f"interval {mm['ci'][0]:.0%} to {mm['ci'][1]:.0%}): build on it, e.g. more of it in the mix.")
    if mits:
        best = [m for m in mits if not any(e["mitigations"][m]["max_drop_verdict"] in ("exceeds", "inconclusive")
                                           for e in tasks.values())]
        lines.append(f"- Mitigation to keep: {', '.join(best)}." if best else
                     "- No mitigation tried is shown to meet the rule on every benchmark.")
    lines += ["", "Details (every figure, the method, the input files): audit.json; picture: forest.png.", ""]
    return "\n".join(lines)


def forest_png(record: dict) -> bytes:
    """PNG bytes: deltas vs base with 95% intervals per task (candidate and mitigations), the max-drop line, zero."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(record["tasks"])
    series = [(record["candidate"], lambda e: (e["delta"], e["ci"]))]
    for m in record["mitigations"]:
        series.append((m, lambda e, m=m: (e["mitigations"][m]["delta_vs_base"],
                                          e["mitigations"][m]["delta_vs_base_ci"])))
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.55 * max(1, len(tasks)) * len(series) ** 0.5))
    off = 0.22
    for k, (name, get) in enumerate(series):
        ys, xs, lo, hi = [], [], [], []
        for i, t in enumerate(tasks):
            d, ci = get(record["tasks"][t])
            if d is None:
                continue
            ys.append(len(tasks) - 1 - i + (len(series) - 1) / 2 * off - k * off)
            xs.append(d)
            lo.append(d - ci[0])
            hi.append(ci[1] - d)
        ax.errorbar(xs, ys, xerr=[lo, hi], fmt="o", capsize=3, label=f"{name} - {record['base']}")
    limit = record["method"]["max_drop"]
    ax.axvline(0, color="grey", lw=1)
    ax.axvline(-limit, color="red", ls="--", lw=1, label=f"max drop (-{limit:g})")
    ax.set_yticks(range(len(tasks)), list(reversed(tasks)))
    ax.set_xlabel("delta vs base (points), 95% paired bootstrap interval")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()
