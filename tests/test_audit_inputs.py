"""Reading lm-evaluation-harness output (results + --log_samples logs) and generic per-item files for the audit."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from calibration.lmeval import load_run_file, parse_metric_overrides
from grader.types import InputError

STAMP = "2026-01-02T03-04-05.123456"


def sample(doc_id: int, filt: str = "none", doc_hash: str | None = None, **metrics) -> dict:
    return {"doc_id": doc_id, "doc": {"q": f"q{doc_id}"}, "target": "x", "arguments": {"gen_args_0": {"arg_0": "Q"}},
            "resps": [["x"]], "filtered_resps": ["x"], "filter": filt, "metrics": list(metrics),
            "doc_hash": doc_hash or f"h{doc_id}", "prompt_hash": "p", "target_hash": "t", **metrics}


def write_lmeval(d: Path, samples: dict[str, list[dict]], results: dict | None = None, extra: dict | None = None,
                 stamp: str = STAMP) -> Path:
    """An lm_eval --output_path directory: results_<stamp>.json and samples_<task>_<stamp>.jsonl files."""
    d.mkdir(parents=True, exist_ok=True)
    for task, rows in samples.items():
        (d / f"samples_{task}_{stamp}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = {"results": results or {}, "configs": {}, "versions": {}, "n-samples": {},
            "config": {"model": "hf", "random_seed": 0, "numpy_seed": 1234, "torch_seed": 1234, "fewshot_seed": 1234},
            **(extra or {})}
    (d / f"results_{stamp}.json").write_text(json.dumps(data))
    return d


@pytest.fixture
def lmeval_dir(tmp_path: Path) -> Path:
    gsm = []
    for i in range(4):
        gsm.append(sample(i, "strict-match", exact_match=float(i == 0)))
        gsm.append(sample(i, "flexible-extract", exact_match=float(i < 3)))
    return write_lmeval(tmp_path / "run", {
        "mmlu_chem": [sample(i, acc=float(i % 2), acc_norm=1.0) for i in range(3)],
        "mmlu_math": [sample(i, acc=1.0, acc_norm=0.0) for i in range(2)],
        "gsm8k": gsm,
        "ifeval": [sample(i, prompt_level_strict_acc=(i != 1), inst_level_strict_acc=[True, i != 1])
                   for i in range(3)],
        "wmt": [sample(i, bleu=[["ref"], ["hyp"]]) for i in range(2)],
    }, results={
        "mmlu": {"alias": "mmlu", "acc,none": 0.6, "acc_stderr,none": "N/A"},
        "mmlu_chem": {"alias": " - chem", "acc,none": 1 / 3, "acc_stderr,none": 0.33, "acc_norm,none": 1.0,
                      "acc_norm_stderr,none": 0.0},
        "mmlu_math": {"alias": " - math", "acc,none": 1.0, "acc_stderr,none": 0.0, "acc_norm,none": 0.0,
                      "acc_norm_stderr,none": 0.0},
        "gsm8k": {"alias": "gsm8k", "exact_match,strict-match": 0.25, "exact_match_stderr,strict-match": 0.25,
                  "exact_match,flexible-extract": 0.75, "exact_match_stderr,flexible-extract": 0.25},
        "ifeval": {"alias": "ifeval", "prompt_level_strict_acc,none": 2 / 3,
                   "prompt_level_strict_acc_stderr,none": "N/A", "inst_level_strict_acc,none": 5 / 6,
                   "inst_level_strict_acc_stderr,none": "N/A"},
        "wmt": {"alias": "wmt", "bleu,none": 12.0, "bleu_stderr,none": "N/A"},
        "orphan": {"alias": "orphan", "acc,none": 0.5, "acc_stderr,none": 0.1},
    }, extra={"groups": {"mmlu": {"alias": "mmlu", "acc,none": 0.6, "acc_stderr,none": "N/A"}},
              "group_subtasks": {"mmlu": ["mmlu_chem", "mmlu_math"], "gsm8k": [], "ifeval": [], "wmt": [],
                                 "orphan": []}})


def test_reads_results_and_sample_logs(lmeval_dir: Path):
    run = load_run_file(lmeval_dir)
    assert run.kind == "lm-eval" and run.config["fewshot_seed"] == 1234
    assert set(run.tasks) == {"mmlu", "gsm8k", "ifeval"}
    # the group has no sample log: its subtasks are pooled, each document once, ids prefixed by the subtask
    mmlu = run.tasks["mmlu"]
    assert mmlu.metric == "acc,none" and mmlu.subtasks == ["mmlu_chem", "mmlu_math"]
    assert mmlu.scores == {"mmlu_chem/0": 0.0, "mmlu_chem/1": 1.0, "mmlu_chem/2": 0.0,
                           "mmlu_math/0": 1.0, "mmlu_math/1": 1.0}
    assert mmlu.reported == 0.6 and mmlu.reported_stderr is None  # "N/A" stderr is read as missing
    # filtered metric: strict-match is preferred, and its rows (not flexible-extract's) give the scores
    gsm = run.tasks["gsm8k"]
    assert gsm.metric == "exact_match,strict-match"
    assert gsm.scores == {"0": 1.0, "1": 0.0, "2": 0.0, "3": 0.0} and gsm.reported_stderr == 0.25
    assert gsm.hashes["2"] == "h2"
    # IFEval: the per-prompt bool, not the per-instruction list
    assert run.tasks["ifeval"].metric == "prompt_level_strict_acc,none"
    assert run.tasks["ifeval"].scores == {"0": 1.0, "1": 0.0, "2": 1.0}
    # reported, not dropped: a corpus-level metric and a task without a sample log
    assert "not a per-item metric" in run.notes["wmt"]
    assert "--log_samples" in run.notes["orphan"]


def test_results_file_named_directly_and_split_groups(lmeval_dir: Path):
    run = load_run_file(next(lmeval_dir.glob("results_*.json")), split_groups=True)
    assert {"mmlu_chem", "mmlu_math", "gsm8k", "ifeval"} <= set(run.tasks) and "mmlu" not in run.tasks
    assert run.tasks["mmlu_chem"].scores == {"0": 0.0, "1": 1.0, "2": 0.0}


def test_metric_override(lmeval_dir: Path):
    overrides = parse_metric_overrides(["gsm8k=exact_match,flexible-extract", "mmlu=acc_norm"])
    assert overrides["mmlu"] == "acc_norm,none"
    run = load_run_file(lmeval_dir, overrides)
    assert run.tasks["gsm8k"].scores == {"0": 1.0, "1": 1.0, "2": 1.0, "3": 0.0}
    assert run.tasks["mmlu"].metric == "acc_norm,none"  # a group's override applies to its subtasks
    assert run.tasks["mmlu"].scores["mmlu_math/0"] == 0.0
    with pytest.raises(InputError, match="exact_match,maj@8: no sample rows with filter 'maj@8'"):
        load_run_file(lmeval_dir, parse_metric_overrides(["gsm8k=exact_match,maj@8"]))
    with pytest.raises(InputError, match="expected task=metric,filter"):
        parse_metric_overrides(["gsm8k"])


def test_bad_lmeval_inputs(tmp_path: Path):
    d = write_lmeval(tmp_path / "dup", {"t": [sample(0, acc=1.0), sample(0, acc=0.0)]},
                     results={"t": {"acc,none": 0.5}})
    with pytest.raises(InputError, match="doc_id 0 appears twice"):
        load_run_file(d)
    d = write_lmeval(tmp_path / "range", {"t": [sample(0, acc=3.0)]}, results={"t": {"acc,none": 3.0}})
    assert "not a number in [0, 1]" in load_run_file(d).notes["t"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no results_"):
        load_run_file(tmp_path / "empty")
    d = write_lmeval(tmp_path / "two", {}, results={})
    write_lmeval(d, {}, results={}, stamp="2026-01-03T00-00-00.000000")
    with pytest.raises(InputError, match="2 results_"):
        load_run_file(d)
    bad = tmp_path / "results_x.json"
    bad.write_text('{"results": 3}')
    with pytest.raises(InputError, match="not an lm-evaluation-harness results file"):
        load_run_file(bad)


def test_generic_per_item_files(tmp_path: Path):
    f = tmp_path / "items.csv"
    f.write_text("task,item_id,score\nhouse,a,1\nhouse,b,0.5\nother,a,true\n")
    run = load_run_file(f)
    assert run.kind == "per-item" and run.tasks["house"].scores == {"a": 1.0, "b": 0.5}
    assert run.tasks["other"].scores == {"a": 1.0} and run.tasks["house"].hashes["a"] is None
    j = tmp_path / "items.jsonl"
    j.write_text('{"task": "t", "item_id": 1, "score": 0, "doc_hash": "abc"}\n')
    assert load_run_file(j).tasks["t"].hashes == {"1": "abc"}
    f.write_text("task,item_id,score\nhouse,a,1.5\n")
    with pytest.raises(InputError, match=r"items.csv: item 0 \(id 'a'\) score must be a number in \[0, 1\]"):
        load_run_file(f)
    f.write_text("task,item_id,score\nhouse,a,1\nhouse,a,0\n")
    with pytest.raises(InputError, match="duplicate item_id"):
        load_run_file(f)
    f.write_text("task,item,score\nhouse,a,1\n")
    with pytest.raises(InputError, match="missing item_id"):
        load_run_file(f)
