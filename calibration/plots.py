"""The calibration plots: confusion matrices per dimension and the probe changes with their intervals (PNG bytes)."""
from __future__ import annotations

import io

__all__ = ["confusion_png", "probes_png"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(fig)
    return buf.getvalue()


def confusion_png(doc: dict) -> bytes | None:
    """One panel per dimension plus overall: counts of (rounded expert mean, judge) score pairs."""
    if not doc.get("dimensions"):
        return None
    plt = _pyplot()
    panels = [*doc["dimensions"].items(), ("overall", doc["overall"])]
    labels = doc["rubric"]["scale"]
    cols = min(len(panels), 3)
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.4 * rows), squeeze=False)
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    for ax, (key, a) in zip(axes.ravel(), panels):
        m = a["confusion"]
        ax.imshow(m, cmap="Blues", origin="upper")
        top = max(max(r) for r in m) or 1
        for i, row in enumerate(m):
            for j, v in enumerate(row):
                if v:
                    ax.text(j, i, str(v), ha="center", va="center", fontsize=8,
                            color="white" if v > top / 2 else "black")
        ax.set_xticks(range(len(labels)), labels)
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("judge")
        ax.set_ylabel("expert (mean, rounded)")
        k = a.get("kappa_quadratic")
        ax.set_title(f"{key}: κq = {'n/a' if k is None else f'{k:.2f}'}", fontsize=10)
    fig.suptitle(f"Judge vs experts ({doc['judge']}, n = {doc['n_items']})", fontsize=11)
    fig.tight_layout()
    return _png(fig)


def probes_png(doc: dict) -> bytes | None:
    """Each probe's mean change per dimension with its 95% interval; flagged entries in red."""
    probes = doc.get("probes") or {}
    if not probes:
        return None
    plt = _pyplot()
    keys = [*doc["rubric"]["keys"], "overall"]
    names = list(probes)
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    span = 0.5  # common x range: at least the +-0.25 invariance threshold with margin
    for entry in probes.values():
        for e in entry.values():
            span = max([span, *(abs(x) for x in (e.get("ci") or []) if x is not None)])
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, (0.42 * len(keys) + 1.1) * rows), sharex=True,
                             squeeze=False)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    for ax, name in zip(axes.ravel(), names):
        entry = probes[name]
        for y, k in enumerate(keys):
            e = entry.get(k) or {}
            d, ci = e.get("delta"), e.get("ci") or [None, None]
            if d is None:
                continue
            lo = d - ci[0] if ci[0] is not None else 0
            hi = ci[1] - d if ci[1] is not None else 0
            color = "tab:red" if e.get("flagged") else ("tab:blue" if e.get("target") else "tab:gray")
            ax.errorbar(d, y, xerr=[[max(lo, 0)], [max(hi, 0)]], fmt="o", color=color, capsize=3)
        ax.axvline(0, color="black", lw=0.8)
        kind = (doc.get("probe_meta") or {}).get(name, {}).get("kind")
        if kind == "invariance":
            for x in (-0.25, 0.25):
                ax.axvline(x, color="gray", lw=0.6, ls="--")
        ax.set_title(f"{name} ({kind})", fontsize=9)
        ax.set_yticks(range(len(keys)), keys)
        ax.set_ylim(len(keys) - 0.5, -0.5)  # first dimension on top
        ax.set_xlim(-span * 1.1, span * 1.1)
        ax.tick_params(labelsize=8)
        ax.set_xlabel("Δ score (rewritten - original)", fontsize=8)
    fig.suptitle("Probe deltas with 95% CI (red = flagged; blue = sensitivity target; dashed = ±0.25)", fontsize=10)
    fig.tight_layout()
    return _png(fig)
