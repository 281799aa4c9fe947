"""calibrate.py end to end on examples/ with the offline judge, its input errors, and the calibration logic with
judge stubs (features, sensitivity probes, judge mismatch, one rater)."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from calibration.study import (calibrate, formality, hedging, load_results, make_grader, plan_probes, run_probes,
                                 word_count)
from grader.io import load_expert_grades, load_samples
from calibration.probes import PROBES, apply_probe
from calibration.report import HEADINGS
from grader.rubric import load_rubric
from grader.types import Judgment
from tests.conftest import ROOT, run_script, write_json

SAMPLES = ROOT / "examples" / "samples.json"
EXPERTS = ROOT / "examples" / "expert_grades.json"
SPEC = ROOT / "rubric" / "release_notes.json"
N_BOOT = "1000"
AGREEMENT_KEYS = {"kappa", "kappa_linear", "kappa_quadratic", "kappa_quadratic_ci", "spearman", "kendall", "exact",
                  "within_one", "mean_bias"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _round_half_up(x):
    return np.floor(np.asarray(x, dtype=float) + 0.5 + 1e-9).astype(int)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """run.py on the examples, then calibrate.py on its results (with probes) and calibrate.py grading itself."""
    tmp = tmp_path_factory.mktemp("calibrate")
    results = tmp / "results.json"
    proc = run_script("run.py", "--samples", str(SAMPLES), "--rubric", str(tmp / "rubric.json"),
                      "--output", str(results), "--quiet")
    assert proc.returncode == 0, proc.stderr
    with_results = tmp / "out" / "cal"  # parent "out" is created below; "cal" must be created by calibrate.py
    (tmp / "out").mkdir()
    p1 = run_script("calibrate.py", "--samples", str(SAMPLES), "--experts", str(EXPERTS), "--results", str(results),
                    "--out-dir", str(with_results), "--probes", "--n-boot", N_BOOT, "--judge", "offline")
    self_graded = tmp / "self"
    p2 = run_script("calibrate.py", "--samples", str(SAMPLES), "--experts", str(EXPERTS), "--out-dir",
                    str(self_graded), "--n-boot", N_BOOT, "--judge", "offline")
    return {"tmp": tmp, "results": results, "with_results": with_results, "self": self_graded, "p1": p1, "p2": p2}


def _in_unit(x) -> bool:
    return x is None or -1.0 - 1e-9 <= x <= 1.0 + 1e-9


def test_calibration_json_has_every_key_with_values_in_range(runs):
    assert runs["p1"].returncode == 0, runs["p1"].stderr
    cal = json.loads((runs["with_results"] / "calibration.json").read_text())
    for key in ("n_items", "judge", "seed", "n_boot", "dimensions", "overall", "human_ceiling", "probes", "probe_meta",
                "bias", "power", "cost"):
        assert key in cal, key
    assert cal["n_items"] == len(load_samples(SAMPLES))
    assert cal["judge"] == "offline" and cal["seed"] == 0 and cal["n_boot"] == 1000
    assert set(cal["dimensions"]) == {"clarity", "accuracy", "tone"}
    for name, a in [*cal["dimensions"].items(), ("overall", cal["overall"])]:
        assert AGREEMENT_KEYS <= set(a), name
        for k in ("kappa", "kappa_linear", "kappa_quadratic", "spearman", "kendall"):
            assert _in_unit(a[k]), (name, k, a[k])
        lo, hi = a["kappa_quadratic_ci"]
        assert lo is None or (lo <= hi and _in_unit(lo) and _in_unit(hi))
        assert 0 <= a["exact"] <= a["within_one"] <= 1
        assert -4 <= a["mean_bias"] <= 4
        assert set(a["per_rater"]) == {"A", "B"}
    assert cal["raters"] == ["A", "B"]
    for name in ("clarity", "accuracy", "tone", "overall"):
        c = cal["human_ceiling"][name]
        for k in ("kappa_quadratic_pairwise_mean", "krippendorff_alpha_ordinal", "krippendorff_alpha_interval"):
            assert _in_unit(c[k]), (name, k)
        assert c["kappa_quadratic_pairwise_mean"] > 0.8  # raters A and B agree closely by construction
    for feat in ("length", "formality", "hedging"):
        b = cal["bias"][feat]
        assert set(b) >= {"spearman", "ci", "p"} and _in_unit(b["spearman"]) and len(b["ci"]) == 2
        assert b["p"] is None or 0 <= b["p"] <= 1
    pw = cal["power"]
    assert set(pw) >= {"p_value", "n30_total", "n30_per_group", "n_for_80", "good_n", "mediocre_n", "source"}
    assert pw["source"] == "experts" and pw["good_n"] >= 3 and pw["mediocre_n"] >= 3
    assert 0 <= pw["p_value"] <= 1
    assert (pw["n30_total"]["n_per_group"], pw["n30_per_group"]["n_per_group"]) == (15, 30)
    for key in ("n30_total", "n30_per_group"):
        lo, hi = pw[key]["ci"]
        assert 0 <= lo <= pw[key]["power"] <= hi <= 1
    assert cal["interval_method"].startswith("BCa") and cal["min_n_for_interval"] == 10
    for name in ("clarity", "accuracy", "tone"):
        gap = cal["dimensions"][name]["ceiling_gap"]
        assert set(gap) >= {"estimate", "ci", "margin", "verdict"} and gap["margin"] == 0.05
        assert gap["verdict"] in {"below", "equivalent", "not shown"}
    # the examples' clarity: (judge vs each rater) - (rater vs rater), quadratic kappa by scikit-learn, with an
    # interval reaching past 0 but below -margin: "not shown", not "consistent"
    from sklearn.metrics import cohen_kappa_score
    judged = {r["id"]: r["scores"]["clarity"] for r in json.loads(runs["results"].read_text())}
    by_rater: dict[str, dict[str, int]] = {}
    for g in json.loads(EXPERTS.read_text()):
        by_rater.setdefault(g["rater"], {})[g["id"]] = g["scores"]["clarity"]
    (ra, a), (rb, b) = sorted(by_rater.items())
    ids = sorted(set(a) & set(b) & set(judged))
    kq = lambda x, y: cohen_kappa_score([x[i] for i in ids], [y[i] for i in ids], weights="quadratic")
    expected = (kq(judged, a) + kq(judged, b)) / 2 - kq(a, b)
    clarity = cal["dimensions"]["clarity"]["ceiling_gap"]
    assert clarity["estimate"] == pytest.approx(expected, abs=1e-9) and clarity["verdict"] == "not shown"
    assert clarity["ci"][0] < -0.05 < 0 < clarity["ci"][1]
    assert pw["n_for_80"] is None or 2 <= pw["n_for_80"] <= 500
    cost = cal["cost"]
    assert set(cost) >= {"tokens_per_sample_mean", "tokens_per_sample_p95", "usd_per_1000", "latency_ms_p50",
                         "latency_ms_p95", "calls"}
    assert cost["usd_per_1000"] == 0 and cost["tokens_per_sample_mean"] == 0 and cost["calls"] == 0
    assert "NaN" not in (runs["with_results"] / "calibration.json").read_text()


def test_kappa_quadratic_equals_sklearn_on_the_same_vectors(runs):
    cal = json.loads((runs["with_results"] / "calibration.json").read_text())
    results = {r["id"]: r for r in json.loads(runs["results"].read_text())}
    experts = json.loads(EXPERTS.read_text())
    ids = list(dict.fromkeys(e["id"] for e in experts))
    weights = {"clarity": 0.4, "accuracy": 0.4, "tone": 0.2}
    mean = {i: {k: np.mean([e["scores"][k] for e in experts if e["id"] == i]) for k in weights} for i in ids}

    def sk(a, b):
        k = cohen_kappa_score(a, b, labels=[1, 2, 3, 4, 5], weights="quadratic")
        return None if np.isnan(k) else k

    for k in weights:
        expected = sk(_round_half_up([mean[i][k] for i in ids]), [results[i]["scores"][k] for i in ids])
        assert cal["dimensions"][k]["kappa_quadratic"] == pytest.approx(expected, abs=1e-12), k
    e_overall = [round(sum(w * mean[i][k] for k, w in weights.items()), 2) for i in ids]
    j_overall = [results[i]["overall"] for i in ids]
    expected = sk(_round_half_up(e_overall), _round_half_up(j_overall))
    assert cal["overall"]["kappa_quadratic"] == pytest.approx(expected, abs=1e-12)


def test_report_has_the_four_verdicts_and_the_plots_are_pngs(runs):
    report = (runs["with_results"] / "report.md").read_text()
    for heading in HEADINGS:
        assert heading in report
    assert report.count("**Verdict") >= 4
    assert "human ceiling" in report and "quadratic kappa" in report
    clarity = next(line for line in report.splitlines() if line.startswith("- **clarity**"))
    assert "not shown to reach the human ceiling" in clarity and "consistent" not in report
    formality = next(line for line in report.splitlines() if line.startswith("- **formality**"))
    assert "the experts' own grades imply" in formality and "relative to the experts" in formality
    assert "p (Holm)" in report and "30 samples in all (15 + 15)" in report and "30 per group" in report
    for name in ("confusion_matrices.png", "probe_deltas.png"):
        data = (runs["with_results"] / name).read_bytes()
        assert data.startswith(PNG_MAGIC), name
        img = matplotlib.image.imread(runs["with_results"] / name)
        assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
        assert f"({name})" in report


def test_probes_are_all_present_with_the_right_structure(runs):
    cal = json.loads((runs["with_results"] / "calibration.json").read_text())
    rubric = load_rubric(SPEC)
    assert set(cal["probes"]) == set(PROBES)  # release_notes names a target for every sensitivity probe
    for name, entry in cal["probes"].items():
        assert set(entry) == {*rubric.keys, "overall"}, name
        for dim, e in entry.items():
            assert set(e) >= {"delta", "ci", "p", "p_value", "p_holm", "flagged"}, (name, dim)
            assert len(e["ci"]) == 2 and isinstance(e["flagged"], bool)
            if e["delta"] is not None and e["ci"][0] is not None:
                assert e["ci"][0] <= e["delta"] <= e["ci"][1] and 0 <= e["p"] <= 1
        meta = cal["probe_meta"][name]
        assert meta["kind"] == PROBES[name].kind
        assert meta["n_applicable"] + meta["n_skipped"] == len(load_samples(SAMPLES)) and meta["fallbacks"] == 0
        if meta["kind"] == "invariance":
            for e in entry.values():  # experts present: the verdict is relative to them, the flag follows Holm
                rel = e["relative_to_experts"]
                assert rel["verdict"] in {"more", "less", "as the experts do", "not shown"}
                assert e["p_value"] == rel["p"] and e["p_holm"] >= e["p_value"]
                assert e["flagged"] == bool(e["p_holm"] < 0.05 and abs(rel["difference"]) >= 0.25)
        else:
            target = rubric.probe_targets[name]
            assert meta["target"] == target and entry[target]["target"] is True
            assert 0 <= entry[target]["share_dropped"] <= 1
            t = entry[target]
            shown = t["delta"] < 0 and t["p"] < 0.05 and (t["ci"][1] is None or t["ci"][1] < 0)
            assert t["flagged"] == (not shown) == meta["failure"]
            assert entry[target]["p_holm"] is None  # sensitivity probes are not part of the invariance family
            assert not any(e["flagged"] for d, e in entry.items() if d != target)


def test_grading_in_calibrate_equals_grading_via_run_py(runs):
    assert runs["p2"].returncode == 0, runs["p2"].stderr
    via_run = json.loads(runs["results"].read_text())
    via_cal = json.loads((runs["self"] / "results.json").read_text())

    def strip(rs):
        return [{k: v for k, v in r.items() if k != "latency_ms"} for r in rs]

    assert strip(via_cal) == strip(via_run)
    a = json.loads((runs["with_results"] / "calibration.json").read_text())
    b = json.loads((runs["self"] / "calibration.json").read_text())
    for key in ("dimensions", "overall", "human_ceiling", "bias", "power", "n_items", "judge"):
        assert a[key] == b[key], key
    assert b["probes"] == {} and b["inputs"]["graded_here"] is True
    assert not (runs["self"] / "probe_deltas.png").exists()


# ---- bad input: exit 2, one stderr line, nothing written --------------------------------------------------------

def _bad_cases(tmp: Path, results: Path) -> dict[str, tuple[list[str], str]]:
    res = json.loads(results.read_text())
    mismatched = [dict(r) for r in res]
    mismatched[3]["id"] = "rn-99"
    out_of_range = [dict(r) for r in res]
    out_of_range[0] = {**out_of_range[0], "scores": {**out_of_range[0]["scores"], "tone": 6}, "overall": None}
    experts = json.loads(EXPERTS.read_text())
    experts[5] = {**experts[5], "scores": {**experts[5]["scores"], "accuracy": 6}}
    return {
        "results id mismatch": (["--experts", str(EXPERTS), "--results", str(write_json(tmp / "r1.json", mismatched))],
                                "rn-99"),
        "results score out of range": (["--experts", str(EXPERTS),
                                        "--results", str(write_json(tmp / "r2.json", out_of_range))], "tone"),
        "missing experts file": (["--experts", str(tmp / "nope.json"), "--results", str(results)], "not found"),
        "expert score out of range": (["--experts", str(write_json(tmp / "e.json", experts)), "--results",
                                       str(results)], "accuracy"),
    }


def test_bad_input_exits_2_with_one_line_and_no_outputs(runs):
    tmp = runs["tmp"]
    for name, (extra, needle) in _bad_cases(tmp, runs["results"]).items():
        out = tmp / f"bad-{name.replace(' ', '-')}"
        proc = run_script("calibrate.py", "--samples", str(SAMPLES), "--out-dir", str(out), "--n-boot", N_BOOT,
                          "--judge", "offline", *extra)
        assert proc.returncode == 2, (name, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], (name, proc.stderr)
        assert not out.exists(), name


def test_results_must_cover_every_sample(tmp_path):
    rubric = load_rubric(SPEC)
    samples = load_samples(SAMPLES)
    r = [{"id": s.id, "scores": {"clarity": 3, "accuracy": 3, "tone": 3}} for s in samples[:-1]]
    with pytest.raises(Exception) as err:
        load_results(write_json(tmp_path / "r.json", r), samples, rubric)
    assert samples[-1].id in str(err.value) and "r.json" in str(err.value)


# ---- features -----------------------------------------------------------------------------------------------

def test_formality_and_hedging_features_on_the_examples():
    samples = {s.id: s for s in load_samples(SAMPLES)}
    out = {i: s.output for i, s in samples.items()}
    assert formality(out["rn-25"]) == min(formality(t) for t in out.values())  # hype, emoji and "!"
    assert formality(out["rn-08"]) < 0 < formality(out["rn-15"])  # "we've ... Update now." vs documentation prose
    assert formality("") == hedging("") == 0.0 and word_count("") == 0
    assert hedging(out["rn-04"]) > 0 and hedging(out["rn-06"]) > 0  # "we think ... may"; "may ... in some cases"
    assert hedging(out["rn-02"]) == 0 and hedging(out["rn-15"]) == 0
    assert hedging("It may work.") == pytest.approx(100 / 3)
    # the features measure what the probes change
    pairs = [(o, n) for o, n in apply_probe("formality", list(samples.values()), 0) if n]
    assert all(formality(n.output) >= formality(o.output) for o, n in pairs)
    assert sum(formality(n.output) > formality(o.output) for o, n in pairs) >= len(pairs) / 2
    pairs = [(o, n) for o, n in apply_probe("hedging", list(samples.values()), 0) if n]
    assert pairs and all(hedging(n.output) > hedging(o.output) for o, n in pairs)


# ---- probe logic with judge stubs -------------------------------------------------------------------------------

class StubJudge:
    """Scores from a function of the output; every dimension gets ``base`` unless ``score`` says otherwise."""

    def __init__(self, name: str, score):
        self.name, self._score = name, score

    def judge(self, sample):
        return Judgment(scores=self._score(sample.output), rationale="stub", judge=self.name)


def _originals(samples, rubric, judge):
    return {r["id"]: r for r in make_grader(rubric, judge, judge, 1, False)(samples, "originals").results}


def _sensitivity(judge):
    rubric = load_rubric(SPEC)
    samples = [s for s in load_samples(SAMPLES) if s.output.strip()]
    plan = plan_probes(samples, rubric, 0, names=["drop_fact", "unsupported_number", "length"])
    probes, meta, _ = run_probes(plan, _originals(samples, rubric, judge), rubric,
                                 make_grader(rubric, judge, judge, 1, False), n_boot=1000, seed=0)
    return probes, meta


def test_a_judge_that_ignores_facts_fails_the_sensitivity_probes():
    blind = StubJudge("stub:blind", lambda out: {"clarity": 4, "accuracy": 4, "tone": 4})
    probes, meta = _sensitivity(blind)
    for name in ("drop_fact", "unsupported_number"):
        e = probes[name]["accuracy"]
        assert e["delta"] == 0 and e["share_dropped"] == 0 and e["flagged"] is True and meta[name]["failure"]
        assert meta[name]["n_applicable"] > 0 and meta[name]["n_skipped"] + meta[name]["n_applicable"] == len(
            [s for s in load_samples(SAMPLES) if s.output.strip()])
    assert not any(e["flagged"] for e in probes["length"].values())


def test_a_judge_that_reacts_passes_the_sensitivity_probes_and_a_length_lover_is_flagged():
    samples = load_samples(SAMPLES)
    originals = {s.output for s in samples}

    def reacts(out):  # lowers accuracy on any text it has not seen as an original; likes length
        return {"clarity": 5 if word_count(out) > 45 else 3, "accuracy": 5 if out in originals else 2, "tone": 4}

    probes, meta = _sensitivity(StubJudge("stub:reacts", reacts))
    for name in ("drop_fact", "unsupported_number"):
        e = probes[name]["accuracy"]
        assert e["delta"] < 0 and e["p"] < 0.05 and e["share_dropped"] == 1.0
        assert e["ci"][1] is None or e["ci"][1] < 0  # every item dropped by 3: no interval, the exact test decides
        assert e["flagged"] is False and meta[name]["failure"] is False
    length = probes["length"]
    assert length["clarity"]["flagged"] is True and length["clarity"]["delta"] >= 0.25
    assert meta["length"]["flagged_dimensions"][:1] == ["clarity"]


def test_mismatched_judge_regrades_originals_and_one_rater_has_no_ceiling():
    rubric = load_rubric(SPEC)
    samples = load_samples(SAMPLES)[:10]
    ids = {s.id for s in samples}
    experts = [r for r in load_expert_grades(EXPERTS, rubric.keys, (1, 5)) if r["rater"] == "A" and r["id"] in ids]
    llm = StubJudge("llm:stub", lambda out: {"clarity": 3, "accuracy": 3, "tone": 3})
    offline = StubJudge("offline", lambda out: {"clarity": 5, "accuracy": 5, "tone": 5})
    results = _originals(samples, rubric, llm)
    seen = []
    doc = calibrate(samples, rubric, [results[s.id] for s in samples], experts=experts,
                    grader=make_grader(rubric, offline, offline, 1, False), probe_judge="offline",
                    probe_plan=plan_probes(samples, rubric, 0, names=["length"]), report_probes=True, n_boot=200,
                    warn=seen.append)
    assert doc["judge"] == "llm:stub" and doc["probe_judge"] == "offline"
    assert any("regraded" in w for w in doc["warnings"]) and seen == doc["warnings"]
    assert doc["probes"]["length"]["overall"]["delta"] == 0  # offline vs offline, not llm vs offline
    assert doc["human_ceiling"] is None and doc["raters"] == ["A"]
    assert "per_rater" not in doc["dimensions"]["clarity"]
    # no run summary: calls = the count of LLM-judged results (the empty rn-03 is graded by rule, no call)
    assert doc["cost"]["calls"] == 9


# ---- LLM judge through a local OpenAI-compatible server ------------------------------------------------------------

def test_llm_judge_is_called_only_for_rewrites_and_cost_is_priced(tmp_path):
    from tests.fake_openai import FakeOpenAI

    samples = json.loads(SAMPLES.read_text())[:6]
    sfile = write_json(tmp_path / "s.json", samples)
    efile = write_json(tmp_path / "e.json", [e for e in json.loads(EXPERTS.read_text())
                                             if e["id"] in {s["id"] for s in samples}])
    with FakeOpenAI() as srv:
        env = {"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": srv.url}
        res = tmp_path / "results.json"
        proc = run_script("run.py", "--samples", str(sfile), "--rubric", str(tmp_path / "rub.json"), "--output",
                          str(res), "--no-cache", "--quiet", env=env)
        assert proc.returncode == 0, proc.stderr
        before = len(srv.chat_calls())
        out = tmp_path / "cal"
        proc = run_script("calibrate.py", "--samples", str(sfile), "--experts", str(efile), "--results", str(res),
                          "--out-dir", str(out), "--probes", "--n-boot", "200", "--no-cache", "--quiet",
                          "--judge", "llm", env=env)
        assert proc.returncode == 0, proc.stderr
        calls = len(srv.chat_calls()) - before
    cal = json.loads((out / "calibration.json").read_text())
    rewrites = sum(m["n_applicable"] for m in cal["probe_meta"].values())
    assert calls == rewrites  # originals come from the results: no second call for them
    assert cal["judge"] == cal["probe_judge"] == "llm:gpt-4o-mini"
    assert not any("regraded" in w for w in cal["warnings"])
    assert cal["power"]["source"] == "probes"  # 6 items: too few per expert group
    cost = cal["cost"]
    assert cost["usd_per_1000"] > 0 and cost["tokens_per_sample_mean"] > 0 and cost["calls"] == 5
    assert cost["usd_method"].endswith("run summary")  # results.summary.json beside results.json
    assert cal["api"]["calls"] == calls
