#!/usr/bin/env python3
"""Validate the calibration pipeline on real human data: SummEval's 840 abstractive summaries, 3 experts.

    python validation/summeval.py [--data ../shared/datasets] [--out-dir out/validation] [--n-boot 2000]

Reads DATA/summeval/damo_llm_summeval/ (see DATA/summeval/SOURCE.md), converts it into the harness's formats in
a temporary folder (samples: id "<doc_id>:<model_id>", input = the article, output = the summary; experts: raters
"e1", "e2", "e3" by list position), grades the summaries with the offline judge and rubric/summarization.json, and
runs the calibration (calibration.study, the code behind calibrate.py). Then:

1. checks that the pipeline reproduces SOURCE.md's expert-vs-expert figures (pairwise quadratic kappa per pair
   and their mean, Krippendorff's alpha interval and ordinal, leave-one-out Spearman) within 0.01, printing
   PASS/FAIL per figure; exit 1 on any FAIL;
2. prints a table per dimension: the human ceiling, the offline judge and the stored GPT-4-0314 judge outputs
   (score parsed from the reply text; unparsed replies counted and left out), next to SOURCE.md's GPT-4 figures.

The tables go to stdout and DIR/summeval_validation.md; the calibration outputs (calibration.json, report.md,
plots: figures only, never dataset text) to DIR/calibration/. No dataset text is written anywhere but the temporary
folder, which is deleted. A missing data folder is not an error: "skipped: <path> not found", exit 0.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import scipy.stats  # noqa: E402

from calibration.study import calibrate, load_results, make_grader, plan_probes  # noqa: E402
from grader.grading import grade  # noqa: E402
from grader.io import load_expert_grades, load_samples, write_atomic, write_json_atomic  # noqa: E402
from grader.judges.offline import OfflineJudge  # noqa: E402
from calibration.report import confusion_png, md_table, render_report  # noqa: E402
from grader.rubric import load_rubric  # noqa: E402
from calibration.stats import agreement  # noqa: E402

DIMS = ("coherence", "consistency", "fluency", "relevance")
RUBRIC = ROOT / "rubric" / "summarization.json"
DEFAULT_DATA = ROOT.parent / "shared" / "datasets"
TOLERANCE = 0.01
RATERS = ("e1", "e2", "e3")
PAIRS = {"r0-r1": "e1-e2", "r0-r2": "e1-e3", "r1-r2": "e2-e3"}

# SOURCE.md, "Reference figures on this copy (840 abstractive summaries, 3 experts)".
REFERENCE = {
    "coherence": {"kq_pairs": (0.698, 0.503, 0.557), "kq_mean": 0.586, "alpha_interval": 0.584,
                  "alpha_ordinal": 0.585, "loo_spearman": 0.748, "gpt4_spearman": 0.442, "gpt4_kq": 0.290},
    "consistency": {"kq_pairs": (0.885, 0.913, 0.919), "kq_mean": 0.906, "alpha_interval": 0.905,
                    "alpha_ordinal": 0.826, "loo_spearman": 0.799, "gpt4_spearman": 0.549, "gpt4_kq": 0.576},
    "fluency": {"kq_pairs": (0.761, 0.794, 0.755), "kq_mean": 0.770, "alpha_interval": 0.768,
                "alpha_ordinal": 0.662, "loo_spearman": 0.668, "gpt4_spearman": 0.507, "gpt4_kq": 0.546},
    "relevance": {"kq_pairs": (0.606, 0.448, 0.449), "kq_mean": 0.501, "alpha_interval": 0.497,
                  "alpha_ordinal": 0.457, "loo_spearman": 0.580, "gpt4_spearman": 0.435, "gpt4_kq": 0.277},
}

# GPT-4 replies: the score is the LAST standalone number from 1 to 5 (halves allowed) in the text, so "Final
# score: 4.", "I would give it a 3.", "3/5" and "4 out of 5" all give the number before any "/5". Numbers inside
# other tokens (2016, 50th, 2-0's 0, $2.6) do not count. A reply with no such number does not parse (SOURCE.md: 1).
SCORE = re.compile(r"(?<![\w.$£€])([1-5](?:\.5)?)(?!\.?\d)(?![A-Za-z])")


def parse_score(text: str) -> float | None:
    """The last 1-5 score in a free-text judge reply, or None."""
    found = SCORE.findall(text)
    return float(found[-1]) if found else None


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def convert(folder: Path, tmp: Path) -> tuple[Path, Path, int]:
    """Write samples.json and experts.json for the 840 summaries into ``tmp``; returns their paths and the count."""
    samples, experts = [], []
    for f in sorted((folder / "model_output_annotations").glob("M*_outputs_annotations.jsonl")):
        for row in read_jsonl(f):
            sid = f"{row['id']}:{row['model_id']}"
            samples.append({"id": sid, "input_ticket": row["text"], "model_output": row["decoded"]})
            for pos, ann in enumerate(row["expert_annotations"]):
                experts.append({"id": sid, "rater": RATERS[pos], "scores": {d: ann[d] for d in DIMS}})
    sp, ep = tmp / "samples.json", tmp / "experts.json"
    sp.write_text(json.dumps(samples), encoding="utf-8")
    ep.write_text(json.dumps(experts), encoding="utf-8")
    return sp, ep, len(samples)


def gpt4_scores(folder: Path) -> tuple[dict[str, dict[str, float]], dict[str, int], int]:
    """``{dim: {sample id: score}}`` parsed from the stored GPT-4-0314 RTS replies, unparsed count per dim, and
    the number of half scores (e.g. 4.5)."""
    scores: dict[str, dict[str, float]] = {d: {} for d in DIMS}
    unparsed = {d: 0 for d in DIMS}
    halves = 0
    base = folder / "eval_model_generations" / "gpt-4-0314"
    for gen in sorted(base.glob("eval_M*_generations")):
        model = re.fullmatch(r"eval_(M\d+)_generations", gen.name).group(1)
        for d in DIMS:
            path = gen / f"{d}_rts.txt"
            if not path.is_file():
                continue
            for row in read_jsonl(path):
                v = parse_score(row.get("resp", ""))
                if v is None:
                    unparsed[d] += 1
                    continue
                halves += v != int(v)
                scores[d][f"{row['id']}:{model}"] = v
    return scores, unparsed, halves


def _f(x: float | None, nd: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{nd}f}"


def _diff(got: float | None, ref: float) -> str:
    if got is None:
        return "n/a"
    d = got - ref
    return "0.000" if abs(d) < 0.0005 else f"{d:+.3f}"


def _ci(ci) -> str:
    return "" if not ci or None in ci else f" [{ci[0]:.2f}, {ci[1]:.2f}]"


def _probe_lines(doc: dict) -> list[str]:
    """The probes' overall and per-dimension mean changes, flagged ones marked (details in calibration/report.md)."""
    rows = []
    for name, dims in doc["probes"].items():
        meta = doc["probe_meta"][name]
        cells = [f"{v['delta']:+.2f}{' ⚑' if v.get('flagged') else ''}" for v in dims.values()]
        rows.append([name, meta["kind"], str(meta.get("n_applicable", "")), *cells])
    dims = list(next(iter(doc["probes"].values())))
    return ["## Probes on the 840 summaries (offline judge; mean change, ⚑ = flagged)", "",
            md_table(["probe", "kind", "applicable", *dims], rows, "llr" + "r" * len(dims)), ""]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(DEFAULT_DATA), help=f"datasets folder (default: {DEFAULT_DATA})")
    p.add_argument("--out-dir", default=str(ROOT / "out" / "validation"), help="where to write the tables (default: out/validation)")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples (default: 2000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap and probe seed (default: 0)")
    p.add_argument("--probes", action="store_true",
                   help="also run calibrate's bias and sensitivity probes on the 840 summaries (offline: seconds; default: off)")
    args = p.parse_args(argv)

    folder = Path(args.data) / "summeval" / "damo_llm_summeval"
    if not folder.is_dir():
        print(f"skipped: {folder} not found")
        return 0
    t0 = time.perf_counter()
    rubric = load_rubric(RUBRIC)
    judge = OfflineJudge(rubric)
    with tempfile.TemporaryDirectory(prefix="summeval-") as tmp:
        sp, ep, n = convert(folder, Path(tmp))
        samples = load_samples(sp)
        experts = load_expert_grades(ep, rubric.keys, (rubric.scale_min, rubric.scale_max),
                                     known_ids={s.id for s in samples})
        run = grade(samples, rubric, judge, judge, concurrency=1, progress=False)
        rp = Path(tmp) / "results.json"
        write_json_atomic(rp, run.results)
        results = load_results(rp, samples, rubric)  # the same validation calibrate.py applies
    probe_args = {}
    if args.probes:
        probe_args = {"grader": make_grader(rubric, judge, judge, concurrency=1, progress=False),
                      "probe_judge": judge.name, "probe_plan": plan_probes(samples, rubric, args.seed),
                      "report_probes": True}
    doc = calibrate(samples, rubric, results, experts=experts, results_summary=run.summary, seed=args.seed,
                    n_boot=args.n_boot, **probe_args)

    ceiling = doc["human_ceiling"]
    checks: list[list[str]] = []
    failures = 0

    def check(dim: str, figure: str, got: float | None, ref: float) -> None:
        nonlocal failures
        ok = got is not None and abs(got - ref) <= TOLERANCE + 1e-12
        failures += not ok
        checks.append([dim, figure, _f(got), f"{ref:.3f}", _diff(got, ref), "PASS" if ok
                       else "FAIL"])

    for d in DIMS:
        c, ref = ceiling[d], REFERENCE[d]
        for (pair, name), r in zip(PAIRS.items(), ref["kq_pairs"]):
            check(d, f"quadratic kappa {name}", c["pairs"][pair]["kappa_quadratic"], r)
        check(d, "quadratic kappa, mean of pairs", c["kappa_quadratic_pairwise_mean"], ref["kq_mean"])
        check(d, "Krippendorff alpha interval", c["krippendorff_alpha_interval"], ref["alpha_interval"])
        check(d, "Krippendorff alpha ordinal", c["krippendorff_alpha_ordinal"], ref["alpha_ordinal"])
        check(d, "leave-one-out Spearman, mean", c["spearman_leave_one_out_mean"], ref["loo_spearman"])

    # stored GPT-4 judge outputs against the same expert means
    gscores, unparsed, halves = gpt4_scores(folder)
    ids = [s.id for s in samples]
    keys = list(rubric.keys)
    mean = {}
    rows_by_id: dict[str, list[list[float]]] = {}
    for row in experts:
        rows_by_id.setdefault(row["id"], []).append([row["scores"][k] for k in keys])
    for sid in ids:
        mean[sid] = np.mean(rows_by_id[sid], axis=0)
    gpt4: dict[str, dict] = {}
    for di, d in enumerate(DIMS):
        have = [sid for sid in ids if sid in gscores[d]]
        g = np.array([gscores[d][sid] for sid in have])
        e = np.array([mean[sid][keys.index(d)] for sid in have])
        # kappa needs categories: a half score (4.5) counts as the lower one, as int() would
        a = agreement(np.floor(g), e, rubric.scale, n_boot=args.n_boot, seed=args.seed)
        gpt4[d] = {"n": len(have), "kappa_quadratic": a["kappa_quadratic"], "kappa_quadratic_ci": a["kappa_quadratic_ci"],
                   "spearman": float(scipy.stats.spearmanr(g, e).statistic)}
    gpt4_cmp = []
    for d in DIMS:
        for fig, got, ref in (("Spearman vs expert mean", gpt4[d]["spearman"], REFERENCE[d]["gpt4_spearman"]),
                              ("quadratic kappa vs rounded expert mean", gpt4[d]["kappa_quadratic"],
                               REFERENCE[d]["gpt4_kq"])):
            gpt4_cmp.append([d, fig, _f(got), f"{ref:.3f}", _diff(got, ref),
                             "match" if abs(got - ref) <= TOLERANCE + 1e-12 else "differs"])

    main_rows = []
    for d in DIMS:
        c, a, g = ceiling[d], doc["dimensions"][d], gpt4[d]
        main_rows.append([
            d, _f(c["kappa_quadratic_pairwise_mean"]), _f(c["krippendorff_alpha_interval"]),
            _f(c["spearman_leave_one_out_mean"]),
            _f(a["kappa_quadratic"]) + _ci(a["kappa_quadratic_ci"]), _f(a["spearman"]) + _ci(a["spearman_ci"]),
            _f(g["kappa_quadratic"]) + _ci(g["kappa_quadratic_ci"]), _f(g["spearman"]),
            f"{REFERENCE[d]['gpt4_kq']:.3f} / {REFERENCE[d]['gpt4_spearman']:.3f}",
        ])
    o = doc["overall"]
    n_unparsed = sum(unparsed.values())
    elapsed = time.perf_counter() - t0
    md = [
        "# SummEval validation (840 abstractive summaries, 3 experts)",
        "",
        f"Data: `{folder}` (SummEval expert annotations via DAMO-NLP-SG/LLM_summeval; see its SOURCE.md). "
        f"Offline judge with `rubric/summarization.json`; bootstrap {args.n_boot} resamples, seed {args.seed}.",
        "",
        "## Expert-vs-expert figures reproduced by the pipeline (tolerance 0.01)",
        "",
        md_table(["dimension", "figure", "reproduced", "SOURCE.md", "difference", "result"], checks, "llrrrl"),
        "",
        f"{len(checks) - failures} of {len(checks)} figures PASS.",
        "",
        "## Judges against the experts, per dimension",
        "",
        "κq = quadratic Cohen's kappa against the rounded expert mean (half up); Spearman against the expert mean; "
        "human ceiling = the experts against each other (κq mean of the 3 pairs, Krippendorff alpha interval, "
        "leave-one-out Spearman: each expert against the mean of the other two). Brackets: 95% bootstrap CI.",
        "",
        md_table(["dimension", "human κq", "human α interval", "human Spearman (LOO)", "offline κq", "offline Spearman",
                  "GPT-4-0314 κq", "GPT-4-0314 Spearman", "SOURCE.md GPT-4 κq / Spearman"], main_rows),
        "",
        f"Offline judge, overall score (mean of the four): κq {_f(o['kappa_quadratic'])}{_ci(o['kappa_quadratic_ci'])},"
        f" Spearman {_f(o['spearman'])}{_ci(o['spearman_ci'])}, mean bias {o['mean_bias']:+.2f}.",
        "",
        "## Stored GPT-4-0314 outputs against SOURCE.md",
        "",
        f"Scores parsed from `resp` as the last standalone 1-5 number (\"N/5\" and \"N out of 5\" give N); "
        f"{n_unparsed} of {sum(len(v) for v in gscores.values()) + n_unparsed} replies do not parse "
        f"({', '.join(f'{d} {k}' for d, k in unparsed.items() if k) or 'none'}) and are left out; "
        f"{halves} half scores (e.g. 4.5) count as the lower category for kappa and as they are for Spearman.",
        "",
        md_table(["dimension", "figure", "parsed here", "SOURCE.md", "difference", "within 0.01"], gpt4_cmp, "llrrrl"),
        "",
        *(_probe_lines(doc) if args.probes else []),
        f"Runtime {elapsed:.1f} s.",
    ]
    text = "\n".join(md) + "\n"
    print(text)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "summeval_validation.md", text)
    cal = out / "calibration"
    cal.mkdir(exist_ok=True)
    doc["inputs"] = {"dataset": str(folder), "rubric_spec": str(RUBRIC)}
    png = confusion_png(doc)
    doc["plots"] = ["confusion_matrices.png"] if png else []
    if png:
        write_atomic(cal / "confusion_matrices.png", png)
    write_atomic(cal / "report.md", render_report(doc))
    write_json_atomic(cal / "calibration.json", doc)
    print(f"wrote {out / 'summeval_validation.md'} and {cal}/", file=sys.stderr)
    if failures:
        print(f"FAIL: {failures} expert figure(s) not reproduced within {TOLERANCE}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
