from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run_script(script: str, *args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run one of the project's scripts as a user would, with a clean environment (no API key unless given)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run([sys.executable, str(ROOT / script), *args], capture_output=True, text=True,
                          env={**base, **(env or {})}, timeout=timeout, stdin=subprocess.DEVNULL)


def write_json(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


TICKET = ("PAY-4421 payments-core: POST /v1/refunds returned 500 when amount had 3 decimals. "
          "Now rounds to 2 decimals and returns 422 for >2. Ships in API v2.14.0.")
GOOD_NOTE = ("Refunds: POST /v1/refunds no longer fails with a server error when the amount has three decimal "
             "places. Amounts are now rounded to two decimals, and amounts with more than two decimals return "
             "HTTP 422 with a clear message. Available in API v2.14.0.")


@pytest.fixture
def samples_file(tmp_path: Path) -> Path:
    return write_json(tmp_path / "samples.json", [
        {"id": "a", "input_ticket": TICKET, "model_output": GOOD_NOTE},
        {"id": "b", "input_ticket": TICKET, "model_output": "Fixed refunds (PAY-4421). TODO: confirm version."},
        {"id": "c", "input_ticket": TICKET, "model_output": "", "extra_field": 1},
    ])
