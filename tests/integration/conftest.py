"""The integration suite: every script's LLM path against a real engine (``make integration`` starts one).

Skipped unless HARNESS_ENGINE_URL names an OpenAI-compatible endpoint (``scripts/engine.sh test`` sets it, with
HARNESS_ENGINE_MODEL). A script's test asks for the ``engine`` fixture and runs the script as a user would::

    def test_my_script(engine, tmp_path):
        proc = engine.run("my_script.py", "--out", str(tmp_path / "x.json"), *engine.judge_args(tmp_path))
        assert proc.returncode == 0, proc.stderr

These tests assert outcomes (who judged, calls made, modes, files written), never quality: the model served in CI
is a 135M-parameter one that grades badly.
"""
from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_script

SCRIPT_TIMEOUT_S = 1800  # a CPU-only engine on 2 shared cores: minutes per script, not seconds


def pytest_collection_modifyitems(config, items):
    if os.environ.get("HARNESS_ENGINE_URL"):
        return
    skip = pytest.mark.skip(reason="needs a real engine: `make integration` starts one and sets HARNESS_ENGINE_URL")
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(skip)


@dataclass(frozen=True)
class Engine:
    url: str
    model: str

    @property
    def env(self) -> dict:
        """What a user sets to point the harness at the engine (a local server takes any key)."""
        return {"OPENAI_BASE_URL": self.url, "OPENAI_API_KEY": os.environ.get("HARNESS_ENGINE_KEY", "local")}

    def judge_args(self, tmp_path: Path) -> list[str]:
        """The judge options every script shares: the served model, a private cache, a budget a local model's
        unknown-model price cannot exceed, and a timeout long enough for a CPU."""
        return ["--judge", "llm", "--model", self.model, "--cache", str(tmp_path / "cache.sqlite"),
                "--budget-usd", "1000", "--timeout", "600", "--concurrency", "2", "--quiet"]

    def run(self, script: str, *args: str) -> subprocess.CompletedProcess:
        return run_script(script, *args, env=self.env, timeout=SCRIPT_TIMEOUT_S)


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine(os.environ["HARNESS_ENGINE_URL"], os.environ.get("HARNESS_ENGINE_MODEL", "local-model"))


@pytest.fixture(scope="session")
def example_samples() -> list[dict]:
    """A few of the example samples, non-empty outputs only (an empty one is graded by rule, not by the judge)."""
    samples = json.loads((ROOT / "examples" / "samples.json").read_text())
    return [s for s in samples if s["model_output"].strip()][:3]


@pytest.fixture(scope="session")
def engine_report():
    """``engine_report(script, api_summary, results, elapsed_s)`` records a script's figures; at the end of the
    session they are written to out/integration/report.json (scripts/engine.sh prints it): calls, LLM-judged share,
    seconds per judgment (the results' own latency when they carry it, else wall time over items)."""
    rows: list[dict] = []

    def add(script: str, api: dict, results: list[dict], elapsed_s: float) -> None:
        n = len(results)
        llm = [r for r in results if str(r.get("judge", "")).startswith("llm:")]
        latencies = [r["latency_ms"] / 1000 for r in llm if r.get("latency_ms")]
        per = sum(latencies) / len(latencies) if latencies else (elapsed_s / n if n else None)
        rows.append({"script": script, "items": n, "llm_judged_share": round(len(llm) / n, 3) if n else None,
                     "calls": api.get("calls"), "cache_hits": api.get("cache_hits"),
                     "response_format": (api.get("response_format") or {}).get("mode"),
                     "prompt_tokens": api.get("prompt_tokens"), "completion_tokens": api.get("completion_tokens"),
                     "elapsed_s": round(elapsed_s, 1), "s_per_judgment": round(per, 1) if per is not None else None})

    yield add
    if rows:
        out = ROOT / "out" / "integration"
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(rows, indent=2) + "\n")
