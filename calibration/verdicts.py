"""Verdicts of the probes: Holm across the invariance family, flags that follow the test, the change relative to
the experts, and whether a sensitivity probe's target is shown to go down. Pure functions over the entries that
``calibration.study.run_probes`` builds (``paired_delta`` plus ``p_value`` / ``p_holm``)."""
from __future__ import annotations

from .features import FEATURES
from .stats import holm
from .stats.bootstrap import json_float
from .stats.relative import change_vs_experts

INVARIANCE_MIN_EFFECT = 0.25
"""An invariance probe is flagged when its Holm-adjusted p is below ALPHA AND |change| is at least this many points."""

ALPHA = 0.05  # family-wise error rate of the invariance probes (Holm across every probe x dimension)

PROBE_FEATURES = {"length": "length", "formality": "formality", "hedging": "hedging"}
"""The surface feature each invariance probe shifts (calibration.features); a probe not listed here and not named
after a feature shifts none, and the experts are taken to imply no change for it (e.g. the injection note)."""


def lowers(e: dict) -> bool:
    """A sensitivity target is shown to go down: negative mean change, exact signed-rank p below ALPHA, and the
    interval (when there is one) entirely below 0. Every item dropping by the same amount has no interval (all
    resamples equal) but passes on the test; no rewrites, or too few to test, do not pass."""
    if e["delta"] is None or e["p"] is None:
        return False
    ci = e["ci"]
    return bool(e["delta"] < 0 and e["p"] < ALPHA and (ci[1] is None or ci[1] < 0))


def _feature_of(probe: str) -> str | None:
    return PROBE_FEATURES.get(probe, probe if probe in FEATURES else None)


def relative_entry(name: str, key: str, rows: list, texts: dict, e: dict, expert_ref: dict, n_boot: int,
                    seed: int) -> dict:
    """``change_vs_experts`` for one probe and dimension, over the union of probe items and expert-graded items."""
    feat = _feature_of(name)
    if feat is None:
        return {"feature": None, "judge_change": e["delta"], "expert_slope": None, "expert_implied": 0.0,
                "difference": e["delta"], "ci": e["ci"], "p": e["p"], "n_probe": e["n"], "n_experts": None,
                "degenerate_share": e.get("degenerate_share"),
                "note": "the probe shifts no surface feature: the experts are taken to imply no change"}
    fn = FEATURES[feat]
    scores = expert_ref["scores"][key]
    outputs = expert_ref["outputs"]
    ids = list(dict.fromkeys([*scores, *(i for i, _, _ in rows)]))
    change = {i: (b["overall"] - a["overall"]) if key == "overall" else (b["scores"][key] - a["scores"][key])
              for i, a, b in rows}
    nan = float("nan")
    rel = change_vs_experts(
        [change.get(i, nan) for i in ids],
        [fn(texts[i][1]) - fn(texts[i][0]) if i in texts else nan for i in ids],
        [scores.get(i, nan) for i in ids],
        [fn(outputs[i]) if i in outputs else nan for i in ids],
        n_boot=n_boot, seed=seed)
    return {"feature": feat, **rel}


def judge_invariance(probes: dict, meta: dict) -> None:
    """Holm across every invariance probe x dimension, then the flag and the verdict of each entry (in place).

    Flagged when ``p_holm < ALPHA`` and the effect (the difference from the experts when they are present, else the
    raw change) is at least ``INVARIANCE_MIN_EFFECT`` points, so a flag always has a significant test behind it.
    Verdict relative to the experts: "more" (penalises the feature more than the experts do), "less", "as the
    experts do" (interval within +-INVARIANCE_MIN_EFFECT) or "not shown"; without experts: "moves", "no change"
    (interval within +-INVARIANCE_MIN_EFFECT) or "not shown".
    """
    family = [(n, k) for n, entry in probes.items() if meta[n]["kind"] == "invariance" for k in entry
              if entry[k].get("p_value") is not None]
    adjusted = holm([probes[n][k]["p_value"] for n, k in family])
    for (n, k), p in zip(family, adjusted):
        probes[n][k]["p_holm"] = json_float(p)
    for n, entry in probes.items():
        if meta[n]["kind"] != "invariance":
            continue
        for e in entry.values():
            rel = e.get("relative_to_experts")
            effect, ci = (rel["difference"], rel["ci"]) if rel else (e["delta"], e["ci"])
            if effect is None:
                e["flagged"], e["verdict"] = None, "not applicable"
                continue
            e["flagged"] = bool(e["p_holm"] is not None and e["p_holm"] < ALPHA
                                and abs(effect) >= INVARIANCE_MIN_EFFECT)
            small = ci[0] is not None and -INVARIANCE_MIN_EFFECT <= ci[0] and ci[1] <= INVARIANCE_MIN_EFFECT
            small = small or (effect == 0 and "same value" in (e.get("note") or ""))  # no item changed at all
            if rel:
                verdict = ("more" if effect < 0 else "less") if e["flagged"] else (
                    "as the experts do" if small else "not shown")
                rel["verdict"] = verdict
            else:
                verdict = "moves" if e["flagged"] else ("no change" if small else "not shown")
            e["verdict"] = verdict
        meta[n]["flagged_dimensions"] = [k for k, e in entry.items() if e.get("flagged")]


__all__ = ["ALPHA", "INVARIANCE_MIN_EFFECT", "PROBE_FEATURES", "judge_invariance", "lowers", "relative_entry"]
