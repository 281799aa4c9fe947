"""The code runner's failure cases each end in a failed item within the time limit, never a hang or a crash."""
from __future__ import annotations

import os
import time
import uuid

import pytest

from grader.sandbox import Limits, extract_code, run_python

FAST = Limits(timeout_s=2.0, cpu_s=4, memory_mb=256)


def test_passing_and_failing_code():
    assert run_python("def add(a, b):\n    return a + b", "assert add(2, 3) == 5", FAST).status == "passed"
    wrong = run_python("def add(a, b):\n    return a - b", "assert add(2, 3) == 5", FAST)
    assert (wrong.passed, wrong.status, wrong.returncode) == (False, "failed", 1)
    assert "AssertionError" in wrong.detail


def test_exit_zero_before_the_tests_is_not_a_pass():
    r = run_python("import sys\nsys.exit(0)", "assert False", FAST)
    assert not r.passed and r.status == "failed" and "before the tests" in r.detail


@pytest.mark.parametrize("code", ["while True:\n    pass", "import time\ntime.sleep(60)"])
def test_infinite_loop_and_sleep_time_out(code):
    t0 = time.monotonic()
    r = run_python(code, "", FAST)
    assert r.status == "timeout" and not r.passed
    assert time.monotonic() - t0 < FAST.timeout_s + 3


def test_huge_allocation_fails_with_memory_error():
    r = run_python("x = bytearray(8 * 1024 ** 3)", "", FAST)
    assert r.status == "failed" and "MemoryError" in r.detail


@pytest.mark.parametrize("code", ["import os\nwhile True:\n    os.fork()",
                                  "import os\ntry:\n    os.fork()\nexcept Exception:\n    pass",
                                  "import subprocess\nsubprocess.run(['true'])"])
def test_fork_and_subprocess_are_stopped(code):
    r = run_python(code, "", FAST)
    assert not r.passed and r.status == "blocked" and "blocked" in r.detail


def test_write_outside_the_work_dir_is_stopped_and_nothing_is_written(tmp_path):
    target = tmp_path / f"outside-{uuid.uuid4().hex}.txt"
    r = run_python(f"open({str(target)!r}, 'w').write('x')", "", FAST)
    assert r.status == "blocked" and not target.exists()
    victim = tmp_path / "keep.txt"
    victim.write_text("mine")
    r = run_python(f"import os\ntry:\n    os.remove({str(victim)!r})\nexcept OSError:\n    pass", "", FAST)
    assert r.status == "blocked" and victim.read_text() == "mine"


def test_work_dir_is_empty_writable_and_the_environment_is_emptied(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "secret-should-not-leak")
    code = ("import os, sys\nassert os.listdir('.') == ['main.py'], os.listdir('.')\n"
            "assert 'OPENAI_API_KEY' not in os.environ\nassert sys.flags.isolated == 1\n"
            "open('scratch.txt', 'w').write('ok')")
    assert run_python(code, "", FAST).status == "passed"


def test_a_huge_file_is_cut_by_the_file_size_limit():
    r = run_python("open('big', 'wb').write(b'0' * (64 * 1024 * 1024))", "", Limits(timeout_s=5, file_size_mb=1))
    assert not r.passed and r.status == "failed"


def test_extract_code_prefers_python_fences_then_whole_text():
    text = "Here:\n```python\ndef f():\n    return 1\n```\nRun it:\n```bash\npython f.py\n```"
    assert extract_code(text) == "def f():\n    return 1\n"
    assert extract_code("```\nx = 1\n```") == "x = 1\n"
    assert extract_code("def g(): return 2") == "def g(): return 2"


def test_no_child_is_left_running():
    before = {p for p in os.listdir("/proc") if p.isdigit()}
    run_python("import time\ntime.sleep(60)", "", Limits(timeout_s=0.5))
    after = {p for p in os.listdir("/proc") if p.isdigit()}
    leftover = []
    for pid in after - before:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"refusal-run-" in f.read():
                    leftover.append(pid)
        except OSError:
            pass
    assert leftover == []
