#!/usr/bin/env python3
"""Validate the refusal judges on XSTest's human-labelled completions (3 models x 450, three-way labels).

    python validation/xstest.py [--data ../shared/datasets] [--out-dir out/validation] [--llm] [--limit N]

Reads DATA/xstest/ (see its SOURCE.md): the completions with the adjudicated human ``final_label`` and the stored
GPT-4 classifier and string-match labels. For every model it reports three-way accuracy and Cohen's kappa against
the human label (each with a 95% percentile bootstrap interval over items, seed 0), and the confusion matrix, for
the offline judge and the two stored references; with ``--llm`` also for the LLM judge (needs OPENAI_API_KEY; the
endpoint from OPENAI_BASE_URL). Stored GPT-4 cells that hold raw text instead of a label are counted as wrong and
reported.

The offline judge's cues were developed on ``llama2orig`` only; ``llama2new`` and ``mistralinstruct`` are held out
(``--dev-model`` names the development model in the table). Output: a table on stdout and DIR/xstest_validation.md
and .json (figures only, never dataset text). A missing data folder is not an error: "skipped: ...", exit 0.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sklearn.metrics import confusion_matrix  # noqa: E402

from calibration.stats.agreement import kappa_from_counts, resampled_confusion  # noqa: E402
from calibration.stats.bootstrap import percentile_ci  # noqa: E402
from grader.io import write_atomic, write_json_atomic  # noqa: E402
from grader.judges.refusal import LABELS, RefusalItem, parse_label  # noqa: E402
from grader.judges.refusal.offline import OfflineRefusalJudge  # noqa: E402

MODELS = ("llama2orig", "llama2new", "mistralinstruct")
UNPARSED = "unparsed"


def _read(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _label_or_unparsed(v: str) -> str:
    try:
        return parse_label(v)
    except ValueError:
        return UNPARSED


def _r(x: float) -> float | None:
    return None if math.isnan(x) else round(float(x), 3)


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def agreement_figures(human: list[str], pred: list[str], n_boot: int, seed: int) -> dict:
    """Accuracy and unweighted Cohen's kappa vs the human labels, with percentile bootstrap intervals (items
    resampled), and the confusion matrix (rows human, columns predicted, in LABELS order plus 'unparsed')."""
    h, p = np.array(human), np.array(pred)
    cats = list(LABELS) + ([UNPARSED] if UNPARSED in pred else [])
    acc = float((h == p).mean())
    kappa = float(kappa_from_counts(confusion_matrix(h, p, labels=cats)))  # as cohen_kappa_score; nan if undefined
    codes = {c: i for i, c in enumerate(cats)}
    hc, pc = np.array([codes[x] for x in human]), np.array([codes[x] for x in pred])
    idx = np.random.default_rng(seed).integers(0, len(h), size=(n_boot, len(h)))
    counts = resampled_confusion(hc, pc, len(cats), idx)  # (n_boot, K, K), vectorised
    accs = np.trace(counts, axis1=1, axis2=2) / len(h)
    kappas = kappa_from_counts(counts)
    cm = confusion_matrix(h, p, labels=cats)
    return {"accuracy": _r(acc), "accuracy_ci95": [_r(x) for x in percentile_ci(accs)],
            "kappa": _r(kappa), "kappa_ci95": [_r(x) for x in percentile_ci(kappas)],
            "confusion": {"labels": cats, "rows_human_cols_judge": cm.tolist()},
            "unparsed": int((p == UNPARSED).sum()),
            "partial_found": f"{int(((h == 'partial_refusal') & (p == 'partial_refusal')).sum())} of "
                             f"{int((h == 'partial_refusal').sum())}"}


def evaluate_model(folder: Path, model: str, n_boot: int, seed: int, llm_judge=None, limit: int | None = None) -> dict:
    rows = _read(folder / "model_completions" / f"xstest_v2_completions_{model}.csv")
    gpt = {r["id"]: r["gpt4_label"] for r in _read(
        folder / "evaluation" / "automated_evaluation_labels" / f"xstest_v2_completions_{model}_gpteval.csv")}
    strm = {r["id"]: r["strmatch_label"] for r in _read(
        folder / "evaluation" / "automated_evaluation_labels" / f"xstest_v2_completions_{model}_streval.csv")}
    if limit:
        rows = rows[:limit]
    human = [parse_label(r["final_label"]) for r in rows]
    items = [RefusalItem(r["id"], r["prompt"], r["completion"]) for r in rows]
    offline = OfflineRefusalJudge()
    out = {"n": len(rows), "judges": {
        "offline": agreement_figures(human, [offline.judge(i).label for i in items], n_boot, seed),
        "gpt4_stored": agreement_figures(human, [_label_or_unparsed(gpt[r["id"]]) for r in rows], n_boot, seed),
        "string_match_stored": agreement_figures(human, [_label_or_unparsed(strm[r["id"]]) for r in rows], n_boot,
                                                 seed)}}
    if llm_judge is not None:
        from grader.judges.refusal.labeling import label_all
        js = label_all(items, llm_judge, offline, concurrency=8, progress=False)
        fell_back = sum(1 for j in js if any(f.startswith("fallback_offline:") for f in j.flags))
        # Fallbacks are labelled by the offline judge: kept, but counted, so the figure is not silently mixed.
        out["judges"]["llm"] = {**agreement_figures(human, [j.label for j in js], n_boot, seed),
                                "fallbacks": fell_back, "judge": llm_judge.name}
    return out


def render(results: dict, dev_model: str, llm_note: str) -> str:
    lines = ["| model | split | judge | accuracy [95% CI] | Cohen's kappa [95% CI] | partial refusals found |",
             "|---|---|---|---|---|---|"]
    for model, res in results.items():
        split = "development" if model == dev_model else "held out"
        for name, f in res["judges"].items():
            extra = f" ({f['unparsed']} unparsed cells counted wrong)" if f["unparsed"] else ""
            extra += f" ({f['fallbacks']} fallbacks)" if f.get("fallbacks") else ""
            lines.append(f"| {model} (n={res['n']}) | {split} | {name}{extra} | {_f(f['accuracy'])} "
                         f"[{_f(f['accuracy_ci95'][0])}, {_f(f['accuracy_ci95'][1])}] | {_f(f['kappa'])} "
                         f"[{_f(f['kappa_ci95'][0])}, {_f(f['kappa_ci95'][1])}] | {f['partial_found']} |")
    lines += ["", "Confusion matrices (rows: human label; columns: judge), order "
                  "full_compliance, full_refusal, partial_refusal[, unparsed]:", ""]
    for model, res in results.items():
        for name, f in res["judges"].items():
            lines.append(f"- {model} / {name}: {f['confusion']['rows_human_cols_judge']}")
    lines += ["", f"LLM judge: {llm_note}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets"),
                   help="folder holding xstest/ (default: ../shared/datasets next to the repo)")
    p.add_argument("--out-dir", default=str(ROOT / "out" / "validation"), help="where to write the tables "
                   "(default: out/validation)")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples per interval (default: 2000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    p.add_argument("--dev-model", default="llama2orig", help="the model the offline cues were developed on "
                   "(default: llama2orig); the others are reported as held out")
    p.add_argument("--llm", action="store_true", help="also run the LLM refusal judge (needs OPENAI_API_KEY; "
                   "default: off)")
    p.add_argument("--model", default="gpt-4o-mini", help="LLM judge model with --llm (default: gpt-4o-mini)")
    p.add_argument("--limit", type=int, default=None, help="only the first N completions per model (default: all)")
    p.add_argument("--budget-usd", type=float, default=2.0, help="LLM budget with --llm (default: 2.0)")
    args = p.parse_args(argv)
    folder = Path(args.data) / "xstest"
    if not (folder / "model_completions").is_dir():
        print(f"skipped: {folder} not found")
        return 0
    llm_judge, llm_note = None, "not run (pass --llm with OPENAI_API_KEY set)."
    if args.llm:
        if not os.environ.get("OPENAI_API_KEY"):
            print("error: --llm needs OPENAI_API_KEY", file=sys.stderr)
            return 2
        from grader.client import Decoding, JudgeClient
        from grader.judges.refusal.llm import LLMRefusalJudge
        from grader.judges.refusal.spec import load_refusal_spec
        client = JudgeClient(Decoding(model=args.model, temperature=0.0, seed=args.seed, max_completion_tokens=200),
                             args.budget_usd)
        llm_judge = LLMRefusalJudge(load_refusal_spec(), client)
        llm_note = f"{llm_judge.name} at {client.endpoint}."
    results = {m: evaluate_model(folder, m, args.n_boot, args.seed, llm_judge, args.limit) for m in MODELS}
    if llm_judge is not None:
        llm_note += f" API: {json.dumps(llm_judge.client.summary())}"
    table = render(results, args.dev_model, llm_note)
    print(table)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "xstest_validation.md", "# XSTest refusal-judge validation\n\n" + table)
    write_json_atomic(out / "xstest_validation.json", {"seed": args.seed, "n_boot": args.n_boot,
                                                       "dev_model": args.dev_model, "models": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
