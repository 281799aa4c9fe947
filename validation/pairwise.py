#!/usr/bin/env python3
"""Validate the pairwise judges on real human preference labels: LLMBar (Natural and the processed FairEval,
LLMEval^2 and MT-Bench sets) and PandaLM's test set (three annotators, ties allowed).

    python validation/pairwise.py [--data ../shared/datasets] [--spec rubric/pairwise_general.json]
                                  [--out out/validation/pairwise.json] [--limit N] [--n-boot 2000] [--seed 0]

Every item is judged in both orders by the offline pairwise judge, or with ``--judge llm`` (and OPENAI_API_KEY)
by the pairwise LLM judge with the usual budget, cache and fallback (output_1 / response1 in the candidate slot). It
reports, per set: accuracy against the human label over the single-order verdicts (a tie counts half, as it is
neither right nor wrong; LLMBar has no tie labels), the tie rate, positional agreement (the same answer in both
orders; 100% for an order-independent judge), and for PandaLM, whose majority label may be a tie, the three-way
accuracy and Cohen's kappa against the majority and the accuracy on pairs both call decisive. Next to them, the
stored figures of other judges the data carries: LLMBar's statistics.json (GPT-4 and ChatGPT, Vanilla_NoRules:
correct_average and positional agreement ``equal``) and PandaLM's stored GPT-3.5-turbo and PandaLM-7B outputs
scored the same way as the judge.

No dataset text is written anywhere. A missing data folder is not an error: "skipped: <path> not found", exit 0.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from calibration.stats.bootstrap import percentile_ci, resample_indices  # noqa: E402
from calibration.stats.editors import _kappa  # noqa: E402
from grader.cli import add_judge_args, build_judges, run_main  # noqa: E402
from grader.io import write_json_atomic  # noqa: E402
from grader.judges.pairwise import OfflinePairwiseJudge, PairwiseLLMJudge  # noqa: E402
from grader.pairwise import Pair, judge_counts, judge_pairs, load_pairwise_spec  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "datasets"
LLMBAR_SETS = {"Natural": "LLMBar/Natural", "FairEval": "Processed/FairEval", "LLMEval^2": "Processed/LLMEval^2",
               "MT-Bench": "Processed/MT-Bench"}


def _pct(text) -> float | None:
    m = re.search(r"([\d.]+)%", str(text))
    return float(m.group(1)) / 100 if m else None


def _s(x) -> str:
    """A few items hold a JSON number or boolean where text is expected: judge its text form."""
    return x if isinstance(x, str) else "" if x is None else json.dumps(x)


def _ci(values: np.ndarray, n_boot: int, seed: int) -> list[float]:
    idx = resample_indices(values.size, n_boot, seed)
    return percentile_ci(values[idx].mean(axis=1))


def _stored_llmbar(folder: Path) -> dict:
    out = {}
    for model in ("GPT-4", "ChatGPT"):
        f = folder / "evaluators" / model / "Vanilla_NoRules" / "statistics.json"
        if f.is_file():
            st = json.loads(f.read_text())
            out[model] = {"accuracy": _pct(st.get("correct_average")), "positional_agreement": _pct(st.get("equal"))}
    return out


def single_order_scores(rows: list[dict], truth: list[str]) -> np.ndarray:
    """Per item, the mean over its two single-order verdicts of 1 (the labelled side), 0.5 (tie) or 0."""
    out = []
    for r, t in zip(rows, truth):
        s = [1.0 if o["direction"] == t else 0.5 if o["direction"] == "tie" else 0.0 for o in r["orders"]]
        out.append(sum(s) / len(s))
    return np.array(out)


def run_llmbar(data: Path, judge, limit: int | None, n_boot: int, seed: int, fallback=None,
               concurrency: int = 1) -> list[dict]:
    table = []
    for name, rel in LLMBAR_SETS.items():
        folder = data / "llmbar" / "Dataset" / rel
        items = json.loads((folder / "dataset.json").read_text())[:limit]
        pairs = [Pair(f"{name}:{i}", _s(it["input"]), _s(it["output_1"]), _s(it["output_2"]))
                 for i, it in enumerate(items)]
        truth = ["candidate" if it["label"] == 1 else "baseline" for it in items]
        rows = judge_pairs(pairs, judge, fallback or judge, concurrency)
        acc = single_order_scores(rows, truth)
        table.append({"set": f"LLMBar {name}", "n": len(items), "accuracy": float(acc.mean()),
                      "accuracy_ci": _ci(acc, n_boot, seed),
                      "tie_rate": float(np.mean([r["outcome"] == "tie" for r in rows])),
                      "positional_agreement": float(np.mean([r["consistent"] for r in rows])),
                      "first_position_rate": _first_rate(rows), **judge_counts(rows),
                      "stored": _stored_llmbar(folder)})
    return table


def _majority(item: dict) -> int | None:
    votes = [item[f"annotator{k}"] for k in (1, 2, 3)]
    for v in set(votes):
        if votes.count(v) >= 2:
            return int(v)
    return None


CODE = {"tie": 0, "candidate": 1, "baseline": 2}


def _three_way(pred: np.ndarray, maj: np.ndarray) -> dict:
    dec = (pred != 0) & (maj != 0)
    return {"accuracy_with_ties": float(np.mean(pred == maj)),
            "accuracy_without_ties": float(np.mean(pred[dec] == maj[dec])) if dec.any() else None,
            "n_both_decisive": int(dec.sum()), "cohen_kappa": _kappa(pred, maj), "tie_rate": float(np.mean(pred == 0))}


def _first_rate(rows: list[dict]) -> float | None:
    """Share of decisive single-order verdicts that favour the response shown first (0.5 = no position bias)."""
    votes = [o["favours_position"] for r in rows for o in r["orders"] if o["favours_position"] != "tie"]
    return votes.count("first") / len(votes) if votes else None


def run_pandalm(data: Path, judge, limit: int | None, n_boot: int, seed: int, fallback=None,
                concurrency: int = 1) -> dict:
    folder = data / "pandalm"
    items = json.loads((folder / "testset-v1.json").read_text())[:limit]
    keep = [it for it in items if _majority(it) is not None]
    pairs = [Pair(f"pandalm:{it['idx']}", _s(it["instruction"]) + ("\n\n" + _s(it["input"]) if it.get("input") else ""),
                  _s(it["response1"]), _s(it["response2"])) for it in keep]
    rows = judge_pairs(pairs, judge, fallback or judge, concurrency)
    maj = np.array([_majority(it) for it in keep])
    pred = np.array([CODE[r["outcome"]] for r in rows])
    res = {"set": "PandaLM test", "n": len(keep), "majority_tie_rate": float(np.mean(maj == 0)),
           "offline": _three_way(pred, maj),
           "positional_agreement": float(np.mean([r["consistent"] for r in rows])),
           "first_position_rate": _first_rate(rows), **judge_counts(rows)}
    res["offline"]["accuracy_with_ties_ci"] = _ci((pred == maj).astype(float), n_boot, seed)
    idx = {it["idx"]: k for k, it in enumerate(keep)}
    stored = {}
    for name, file, field in (("GPT-3.5-turbo", "gpt-3.5-turbo-testset-v1.json", "gpt_result"),
                              ("PandaLM-7B", "pandalm-7b-testset-v1.json", "pandalm_result")):
        got = np.full(len(keep), -1)
        for r in json.loads((folder / file).read_text()):
            if r["idx"] in idx:
                v = str(r[field]).strip().lower()
                got[idx[r["idx"]]] = {"1": 1, "2": 2, "0": 0, "tie": 0}.get(v, -1)  # garbage counts wrong
        stored[name] = {**_three_way(got, maj), "unparsed": int((got < 0).sum())}
    res["stored"] = stored
    return res


def render(llmbar: list[dict], panda: dict | None, name: str = "offline") -> str:
    f = lambda x: "n/a" if x is None else f"{x:.1%}"  # noqa: E731
    lines = [f"| set | n | {name} accuracy [95% CI] | ties | positional agreement | first-position share | "
             "fallbacks | stored GPT-4 acc / agr | stored ChatGPT acc / agr |", "|---|---:|---|---:|---:|---:|---:|---|---|"]
    for r in llmbar:
        g, c = r["stored"].get("GPT-4", {}), r["stored"].get("ChatGPT", {})
        lines.append(f"| {r['set']} | {r['n']} | {f(r['accuracy'])} [{f(r['accuracy_ci'][0])}, "
                     f"{f(r['accuracy_ci'][1])}] | {f(r['tie_rate'])} | {f(r['positional_agreement'])} | "
                     f"{f(r['first_position_rate'])} | {r['fallbacks']} | "
                     f"{f(g.get('accuracy'))} / {f(g.get('positional_agreement'))} | "
                     f"{f(c.get('accuracy'))} / {f(c.get('positional_agreement'))} |")
    if panda:
        o = panda["offline"]
        lines += ["", f"PandaLM test ({panda['n']} items with a 2-of-3 majority; majority is a tie on "
                      f"{f(panda['majority_tie_rate'])}):", "",
                  "| judge | accuracy with ties | accuracy, both decisive | Cohen's kappa | judge ties |",
                  "|---|---:|---:|---:|---:|",
                  f"| {name} | {f(o['accuracy_with_ties'])} [{f(o['accuracy_with_ties_ci'][0])}, "
                  f"{f(o['accuracy_with_ties_ci'][1])}] | {f(o['accuracy_without_ties'])} | {o['cohen_kappa']:.3f} | "
                  f"{f(o['tie_rate'])} |"]
        for name, s in panda["stored"].items():
            lines.append(f"| stored {name} | {f(s['accuracy_with_ties'])} | {f(s['accuracy_without_ties'])} | "
                         f"{s['cohen_kappa']:.3f} | {f(s['tie_rate'])} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA), help=f"datasets folder (default: {DEFAULT_DATA})")
    add_judge_args(ap, spec_flags=("--spec",), spec_default=str(ROOT / "rubric" / "pairwise_general.json"),
                   spec_help="pairwise spec (default: rubric/pairwise_general.json)")
    ap.add_argument("--out", help="write the figures as JSON here (default: none)")
    ap.add_argument("--limit", type=int, default=None, help="judge only the first N items of each set (default: all)")
    ap.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples (default: 2000)")
    args = ap.parse_args()
    data = Path(args.data)
    if not (data / "llmbar" / "Dataset").is_dir():
        print(f"skipped: {data / 'llmbar' / 'Dataset'} not found")
        return 0
    spec = load_pairwise_spec(args.rubric_spec)
    setup = build_judges(args, spec.rubric)  # the offline judge unless --judge llm (or auto with a key)
    fallback = OfflinePairwiseJudge(spec, setup.fallback)
    judge = PairwiseLLMJudge(spec, setup.client) if setup.client is not None else fallback
    run = dict(limit=args.limit, n_boot=args.n_boot, seed=args.seed, fallback=fallback, concurrency=args.concurrency)
    llmbar = run_llmbar(data, judge, **run)
    panda = run_pandalm(data, judge, **run) if (data / "pandalm").is_dir() else None
    print(render(llmbar, panda, judge.name), end="")
    if setup.client is None:
        print("The LLM pairwise judge was not run (no OPENAI_API_KEY); pass --judge llm with a key to measure it.")
    else:
        print(f"API: {json.dumps(setup.client.summary())}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(args.out, {"llmbar": llmbar, "pandalm": panda, "spec": args.rubric_spec, "seed": args.seed,
                                     "judge": judge.name,
                                     "n_boot": args.n_boot, "limit": args.limit})
    return 0


if __name__ == "__main__":
    run_main(main)
