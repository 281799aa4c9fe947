#!/usr/bin/env python3
"""Write the synthetic capability-audit example under examples/audit/ (deterministic: same bytes on every run).

Three models, lm-evaluation-harness-shaped outputs (results_<timestamp>.json + samples_<task>_<timestamp>.jsonl, as
``lm_eval --output_path DIR --log_samples --seed S,S,S,S`` writes them) plus a generic per-item CSV for an in-house
instruction set, and runs.csv. The truth is planted: the fine-tune loses about 15 points on gsm8k (the planted
regression), about 1 on mmlu and 3 on ifeval, nothing on house_if; the replay mitigation wins most of gsm8k back.

    python scripts/make_audit_example.py [--out examples/audit]
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
from pathlib import Path

import numpy as np

ITEMS = {"mmlu_college_chemistry": 25, "mmlu_high_school_mathematics": 25, "gsm8k": 50, "ifeval": 40, "house_if": 40}
# True change in probability of success, per model and task (base = 0).
SHIFT = {
    "base": {},
    "finetune": {"mmlu_college_chemistry": +0.01, "mmlu_high_school_mathematics": -0.03, "gsm8k": -0.15,
                 "ifeval": -0.03, "house_if": 0.0},
    "replay": {"mmlu_college_chemistry": +0.01, "mmlu_high_school_mathematics": -0.01, "gsm8k": -0.03,
               "ifeval": -0.01, "house_if": 0.0},
}
SEEDS = {"base": [0, 1, 2], "finetune": [0, 1, 2], "replay": [0, 1]}
MODEL_ARGS = {"base": "pretrained=example/chem-7b-base", "finetune": "pretrained=example/chem-7b-sft",
              "replay": "pretrained=example/chem-7b-sft-replay"}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def difficulty(task: str) -> np.ndarray:
    """Each item's base success probability: fixed per task, shared by every model (the pairing)."""
    rng = np.random.default_rng(sum(map(ord, task)))
    return rng.beta(3, 2, size=ITEMS[task])


def outcomes(model: str, seed: int, task: str) -> np.ndarray:
    p = np.clip(difficulty(task) + SHIFT[model].get(task, 0.0), 0, 1)
    rng = np.random.default_rng([list(SEEDS).index(model), seed, sum(map(ord, task))])
    return rng.random(p.size) < p


def doc_for(task: str, i: int) -> dict:
    return {"question": f"{task} question {i}", "answer": str(i % 4)}


def sample_rows(model: str, seed: int, task: str) -> list[dict]:
    ok = outcomes(model, seed, task)
    rows = []
    filters = ["strict-match", "flexible-extract"] if task == "gsm8k" else ["none"]
    for i, good in enumerate(ok):
        doc = doc_for(task, i)
        target = doc["answer"]
        reply = target if good else "7"
        for f in filters:
            # Trimmed to stay small: lm-eval also writes "arguments" (the prompt), "prompt_hash" and "target_hash".
            row = {"doc_id": i, "doc": doc, "target": target, "resps": [[reply]], "filtered_resps": [reply],
                   "filter": f}
            if task == "gsm8k":
                # flexible-extract is more lenient: it also credits some answers strict-match misses
                val = float(good or (f == "flexible-extract" and i % 5 == 0))
                row.update({"metrics": ["exact_match"], "exact_match": val})
            elif task == "ifeval":
                row.update({"metrics": ["prompt_level_strict_acc", "inst_level_strict_acc"],
                            "prompt_level_strict_acc": bool(good), "inst_level_strict_acc": [bool(good), True]})
            else:
                row.update({"metrics": ["acc"], "acc": float(good)})
            row["doc_hash"] = sha(json.dumps(doc, indent=2, ensure_ascii=False))
            rows.append(row)
    return rows


def stderr(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1) / np.sqrt(x.size))


def write_run(out: Path, model: str, seed: int, k: int) -> None:
    run_dir = out / "lm_eval" / model / f"seed{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    stamp = f"2026-11-30T10-{k:02d}-00.000000"
    results, per_task = {}, {}
    for task in ("mmlu_college_chemistry", "mmlu_high_school_mathematics", "gsm8k", "ifeval"):
        rows = sample_rows(model, seed, task)
        (run_dir / f"samples_{task}_{stamp}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        if task == "gsm8k":
            entry = {"alias": task}
            for f in ("strict-match", "flexible-extract"):
                v = np.array([r["exact_match"] for r in rows if r["filter"] == f])
                entry[f"exact_match,{f}"], entry[f"exact_match_stderr,{f}"] = float(v.mean()), stderr(v)
        elif task == "ifeval":
            v = np.array([float(r["prompt_level_strict_acc"]) for r in rows])
            inst = np.array([float(x) for r in rows for x in r["inst_level_strict_acc"]])
            entry = {"alias": task, "prompt_level_strict_acc,none": float(v.mean()),
                     "prompt_level_strict_acc_stderr,none": stderr(v),
                     "inst_level_strict_acc,none": float(inst.mean()), "inst_level_strict_acc_stderr,none": "N/A"}
        else:
            v = np.array([r["acc"] for r in rows])
            entry = {"alias": f" - {task}", "acc,none": float(v.mean()), "acc_stderr,none": stderr(v)}
        results[task], per_task[task] = entry, v
    pooled = np.concatenate([per_task["mmlu_college_chemistry"], per_task["mmlu_high_school_mathematics"]])
    group = {"alias": "mmlu", "acc,none": float(pooled.mean()), "acc_stderr,none": "N/A"}
    data = {
        "results": {"mmlu": group, **results},
        "groups": {"mmlu": group},
        "group_subtasks": {"mmlu": ["mmlu_college_chemistry", "mmlu_high_school_mathematics"], "gsm8k": [],
                           "ifeval": []},
        "configs": {t: {"task": t, "dataset_path": f"example/{t}", "output_type": "generate_until"
                        if t in ("gsm8k", "ifeval") else "multiple_choice"} for t in results},
        "versions": {"mmlu": 2, **{t: 1.0 for t in results}},
        "n-shot": {"mmlu": 0, **{t: 5 if t == "gsm8k" else 0 for t in results}},
        "n-samples": {t: {"original": ITEMS[t], "effective": ITEMS[t]} for t in results},
        "config": {"model": "vllm", "model_args": MODEL_ARGS[model], "batch_size": "auto", "limit": None,
                   "random_seed": seed, "numpy_seed": seed, "torch_seed": seed, "fewshot_seed": seed},
        "lm_eval_version": "0.4.x (synthetic example)", "date": 1796032800.0 + k,
        "model_name": MODEL_ARGS[model].split("=")[1],
    }
    (run_dir / f"results_{stamp}.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                                                   encoding="utf-8")


def write_house(out: Path, model: str, seed: int) -> Path:
    path = out / "house_if" / f"{model}_seed{seed}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["task", "item_id", "score"])
    for i, good in enumerate(outcomes(model, seed, "house_if")):
        w.writerow(["house_if", f"h{i:03d}", int(good)])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "examples" / "audit"),
                   help="output directory (default: examples/audit in the repository)")
    out = Path(p.parse_args().out)
    rows, k = [], 0
    for model, seeds in SEEDS.items():
        for seed in seeds:
            write_run(out, model, seed, k)
            write_house(out, model, seed)
            rows.append([model, seed, f"lm_eval/{model}/seed{seed}"])
            rows.append([model, seed, f"house_if/{model}_seed{seed}.csv"])
            k += 1
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["model", "seed", "path"])
    w.writerows(rows)
    (out / "runs.csv").write_text(buf.getvalue(), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
