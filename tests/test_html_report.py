"""The HTML report of a grading run: self-contained, escaped, and working in a real headless browser."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from selenium.webdriver.common.by import By

from calibration.html import Column, Filter, Headline, Table, render_page
from tests.browser import browser_or_skip, console_errors, screenshot_is_blank
from tests.conftest import ROOT

XSS_OUTPUT = ('Fixed the export. <script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
              '</script><!-- & "quotes"')


def _run(tmp_path, n_extra: int = 0):
    """A graded example set (offline), plus one hostile sample and n_extra filler samples."""
    samples = json.loads((ROOT / "examples" / "samples.json").read_text())
    samples.append({"id": "xss-1", "input_ticket": "Export fails on large files.", "model_output": XSS_OUTPUT})
    samples += [{"id": f"fill-{i:05d}", "input_ticket": "Timeout raised from 30s to 60s.",
                 "model_output": f"The timeout is now 60 seconds (was 30). Note {i}."} for i in range(n_extra)]
    sp = tmp_path / "samples.json"
    sp.write_text(json.dumps(samples), encoding="utf-8")
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), "--samples", str(sp), "--rubric",
                           str(tmp_path / "rubric.json"), "--output", str(out), "--quiet"],
                          capture_output=True, text=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    page = tmp_path / "report.html"
    proc = subprocess.run([sys.executable, str(ROOT / "report.py"), str(out), "--samples", str(sp), "--experts",
                           str(ROOT / "examples" / "expert_grades.json"), "--output", str(page)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text()), page


def test_page_is_self_contained_and_data_is_inert():
    rows = [{"cells": {"id": "a", "text": XSS_OUTPUT}, "tags": [], "detail": [["output", XSS_OUTPUT]]}]
    page = render_page("t <b>", "s & s", [Headline("h<1>", "1", "d")], [],
                       Table([Column("id", "id"), Column("text", "text")], rows, [Filter("flagged", "f")]))
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)  # nothing fetched from a network
    assert "<script>window.__xss" not in page and "onerror=\"window" not in page
    assert page.count("<script") == 2  # the JSON data block and the page's own script, nothing else
    assert "t &lt;b&gt;" in page and "h&lt;1&gt;" in page
    data = page.split('<script type="application/json" id="data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data)["rows"][0]["cells"]["text"] == XSS_OUTPUT  # the exact text survives the escaping
    js = page.rsplit("<script>", 1)[1]
    assert len(js.encode()) < 6000  # "a few KB of plain JavaScript"


def test_report_refuses_to_overwrite_its_input(tmp_path):
    results, page = _run(tmp_path)
    proc = subprocess.run([sys.executable, str(ROOT / "report.py"), str(tmp_path / "results.json"), "--output",
                           str(tmp_path / "results.json")], capture_output=True, text=True)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert json.loads((tmp_path / "results.json").read_text()) == results


def _visible_ids(driver) -> list[str]:
    return [tr.find_element(By.CSS_SELECTOR, "td").text for tr in driver.find_elements(By.CSS_SELECTOR,
                                                                                        "#items tbody tr")]


def _column(driver, label: str) -> int:
    heads = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "#items th")]
    return heads.index(label)


@pytest.fixture(scope="module")
def driver():
    d = browser_or_skip()
    yield d
    d.quit()


def test_grading_page_in_a_real_browser(tmp_path, driver):
    results, page = _run(tmp_path)
    driver.get(page.as_uri())
    assert console_errors(driver) == []
    assert driver.execute_script("return window.__xss") is None
    # headline figures equal the run's own numbers
    card = driver.find_element(By.CSS_SELECTOR, '.card[data-label="mean overall"] .v').text
    mean = sum(r["overall"] for r in results) / len(results)
    assert card == f"{mean:.3f}"
    assert f"n={len(results)}" in driver.find_element(By.CSS_SELECTOR, '.card[data-label="mean overall"] .d').text
    assert len(_visible_ids(driver)) == len(results)
    # sorting by overall, ascending then descending
    col = _column(driver, "overall")
    th = driver.find_elements(By.CSS_SELECTOR, "#items th")[col]
    th.click()
    vals = [float(tr.find_elements(By.CSS_SELECTOR, "td")[col].text)
            for tr in driver.find_elements(By.CSS_SELECTOR, "#items tbody tr")]
    assert vals == sorted(vals) and vals[0] == min(r["overall"] for r in results)
    th.click()
    vals = [float(tr.find_elements(By.CSS_SELECTOR, "td")[col].text)
            for tr in driver.find_elements(By.CSS_SELECTOR, "#items tbody tr")]
    assert vals == sorted(vals, reverse=True)
    # the flagged filter keeps exactly the flagged samples
    flagged = driver.find_element(By.CSS_SELECTOR, 'input[data-flag="flagged"]')
    flagged.click()
    assert sorted(_visible_ids(driver)) == sorted(r["id"] for r in results if r["flags"])
    flagged.click()
    # the disagreement filter keeps samples whose judge and expert mean differ by 2+ on some dimension
    grades = json.loads((ROOT / "examples" / "expert_grades.json").read_text())
    by_id: dict[str, dict[str, list[float]]] = {}
    for g in grades:
        for k, v in g["scores"].items():
            by_id.setdefault(g["id"], {}).setdefault(k, []).append(v)
    expect = sorted(r["id"] for r in results if r["id"] in by_id and max(
        abs(r["scores"][k] - sum(v) / len(v)) for k, v in by_id[r["id"]].items()) >= 2)
    dis = driver.find_element(By.CSS_SELECTOR, 'input[data-flag="disagree"]')
    dis.click()
    assert sorted(_visible_ids(driver)) == expect
    dis.click()
    # text search, then opening a row shows its detail with the hostile text as text
    box = driver.find_element(By.ID, "q")
    box.send_keys("xss-1")
    assert _visible_ids(driver) == ["xss-1"]
    driver.find_element(By.CSS_SELECTOR, "#items tbody tr").click()
    detail = driver.find_element(By.ID, "detail")
    assert detail.is_displayed() and "<script>window.__xss = 1</script>" in detail.text
    xss = next(r for r in results if r["id"] == "xss-1")
    assert xss["rationale"].split(" ")[0] in detail.text
    assert driver.execute_script("return window.__xss") is None
    assert console_errors(driver) == []
    assert not screenshot_is_blank(driver)


def test_large_run_paginates(tmp_path, driver):
    results, page = _run(tmp_path, n_extra=250)
    driver.get(page.as_uri())
    info = driver.find_element(By.ID, "info")
    assert info.text == f"{len(results)} of {len(results)} rows; page 1 of 3"
    assert len(_visible_ids(driver)) == 100
    driver.find_element(By.ID, "next").click()
    assert "page 2 of 3" in info.text and len(_visible_ids(driver)) == 100
    assert console_errors(driver) == []


def _choose(driver, key: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select
    Select(driver.find_element(By.CSS_SELECTOR, f'select[data-choice="{key}"]')).select_by_value(value)


def test_audit_page_in_a_real_browser(tmp_path, driver):
    out = tmp_path / "audit"
    proc = subprocess.run([sys.executable, str(ROOT / "audit.py"), "--runs", str(ROOT / "examples/audit/runs.csv"),
                           "--base", "base", "--candidate", "finetune", "--mitigation", "replay", "--output-dir",
                           str(out), "--bootstrap", "2000"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    audit = json.loads((out / "audit.json").read_text())
    driver.get((out / "report.html").as_uri())
    assert console_errors(driver) == []
    lr = audit["largest_regression"]
    card = driver.find_element(By.CSS_SELECTOR, '.card[data-label="largest regression"]')
    assert f"{lr['task']}: {lr['delta']:.1f} points" in card.text and f"[{lr['ci'][0]:.1f}, {lr['ci'][1]:.1f}]" \
        in card.text
    assert sorted(_visible_ids(driver)) == sorted(audit["tasks"])
    verdict = audit["tasks"][lr["task"]]["max_drop_verdict"]
    _choose(driver, "verdict", verdict)
    assert sorted(_visible_ids(driver)) == sorted(t for t, v in audit["tasks"].items()
                                                  if v["max_drop_verdict"] == verdict)
    driver.find_element(By.CSS_SELECTOR, "#items tbody tr").click()
    assert '"max_drop_verdict"' in driver.find_element(By.ID, "detail").text
    assert len(driver.find_elements(By.CSS_SELECTOR, ".plots img")) == 1
    assert not screenshot_is_blank(driver)


def test_refusal_page_in_a_real_browser(tmp_path, driver):
    out = tmp_path / "refusal"
    proc = subprocess.run([sys.executable, str(ROOT / "refusal.py"), "--completions",
                           str(ROOT / "examples/refusal/completions.jsonl"), "--output-dir", str(out), "--judge",
                           "offline", "--bootstrap", "1000"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    labels = [json.loads(x) for x in (out / "labels.jsonl").read_text().splitlines()]
    driver.get((out / "report.html").as_uri())
    assert console_errors(driver) == []
    for model, buckets in summary["rates"]["models"].items():
        for bucket, b in buckets.items():
            card = driver.find_element(By.CSS_SELECTOR, f'.card[data-label="{model} / {bucket}: refusal"] .v')
            assert card.text == f"{100 * b['refusal_rate']['rate']:.0f}%"
    assert len(_visible_ids(driver)) == len(labels)
    driver.find_element(By.CSS_SELECTOR, 'input[data-flag="refused"]').click()
    assert len(_visible_ids(driver)) == sum(r["label"] in ("full_refusal", "partial_refusal") for r in labels)
    _choose(driver, "bucket", "refusal_bait")
    expect = [r for r in labels if r["bucket"] == "refusal_bait" and r["label"] in ("full_refusal", "partial_refusal")]
    assert sorted(_visible_ids(driver)) == sorted(r["id"] for r in expect)
    driver.find_element(By.CSS_SELECTOR, "#items tbody tr").click()
    assert "completion" in driver.find_element(By.ID, "detail").text
    assert not screenshot_is_blank(driver)


def test_winrate_pages_in_a_real_browser(tmp_path, driver):
    pairs = ROOT / "examples/winrate/pairs.jsonl"
    run = lambda *a: subprocess.run([sys.executable, *map(str, a)], capture_output=True, text=True)
    p = run(ROOT / "winrate.py", "judge", "--pairs", pairs, "--output-dir", tmp_path / "judge", "--judge", "offline",
            "--bootstrap", "1000")
    assert p.returncode == 0, p.stderr
    summary = json.loads((tmp_path / "judge/summary.json").read_text())
    verdicts = [json.loads(x) for x in (tmp_path / "judge/verdicts.jsonl").read_text().splitlines()]
    driver.get((tmp_path / "judge/report.html").as_uri())
    assert console_errors(driver) == []
    card = driver.find_element(By.CSS_SELECTOR, '.card[data-label="win rate"]')
    assert f"{100 * summary['win_rate']:.1f}%" in card.text and f"n={summary['n']} pairs" in card.text
    assert len(_visible_ids(driver)) == len(verdicts)
    _choose(driver, "outcome", "tie")
    assert sorted(_visible_ids(driver)) == sorted(v["id"] for v in verdicts if v["outcome"] == "tie")
    driver.find_element(By.CSS_SELECTOR, "#items tbody tr").click()
    first = next(json.loads(x) for x in pairs.read_text().splitlines()
                 if json.loads(x)["id"] == _visible_ids(driver)[0])
    assert first["candidate"][:40] in driver.find_element(By.ID, "detail").text
    assert not screenshot_is_blank(driver)
    # the editor study: sheets, simulated editors, tally
    assert run(ROOT / "winrate.py", "sheets", "--pairs", pairs, "--editors", "3", "--output-dir",
               tmp_path / "sheets").returncode == 0
    assert run(ROOT / "examples/winrate/simulate_editors.py", "--pairs", pairs, "--sheets",
               tmp_path / "sheets").returncode == 0
    p = run(ROOT / "winrate.py", "tally", "--sheets", tmp_path / "sheets", "--output-dir", tmp_path / "tally",
            "--verdicts", tmp_path / "judge/verdicts.jsonl", "--bootstrap", "1000")
    assert p.returncode == 0, p.stderr
    tally = json.loads((tmp_path / "tally/tally.json").read_text())
    driver.get((tmp_path / "tally/report.html").as_uri())
    assert console_errors(driver) == []
    kappa = driver.find_element(By.CSS_SELECTOR, """.card[data-label="Fleiss' kappa"] .v""").text
    assert kappa == f"{tally['agreement']['fleiss_kappa']:.3f}"
    driver.find_element(By.CSS_SELECTOR, 'input[data-flag="split"]').click()
    assert len(_visible_ids(driver)) == round(tally["agreement"]["split_rate"] * tally["n_pairs"])


def test_calibration_page_in_a_real_browser(tmp_path, driver):
    results, _ = _run(tmp_path)
    samples = json.loads((ROOT / "examples" / "samples.json").read_text())
    (tmp_path / "ex_samples.json").write_text(json.dumps(samples))
    ex_results = [r for r in results if r["id"] != "xss-1"]
    (tmp_path / "ex_results.json").write_text(json.dumps(ex_results))
    out = tmp_path / "cal"
    p = subprocess.run([sys.executable, str(ROOT / "calibrate.py"), "--samples", str(tmp_path / "ex_samples.json"),
                        "--experts", str(ROOT / "examples/expert_grades.json"), "--results",
                        str(tmp_path / "ex_results.json"), "--out-dir", str(out), "--n-boot", "1000", "--judge",
                        "offline", "--quiet"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    cal = json.loads((out / "calibration.json").read_text())
    driver.get((out / "report.html").as_uri())
    assert console_errors(driver) == []
    card = driver.find_element(By.CSS_SELECTOR, '.card[data-label="agreement overall"] .v').text
    assert card == f"{cal['overall']['primary']['estimate']:.3f}"
    clarity = driver.find_element(By.CSS_SELECTOR, '.card[data-label="clarity: agreement"]').text
    gap = cal["dimensions"]["clarity"]["ceiling_gap"]
    assert f"human ceiling (rater vs rater) {gap['rater_vs_rater']:.3f}" in clarity and gap["verdict"] in clarity
    assert len(_visible_ids(driver)) == len(ex_results)
    driver.find_element(By.CSS_SELECTOR, 'input[data-flag="disagree"]').click()
    shown = _visible_ids(driver)
    for row in driver.find_elements(By.CSS_SELECTOR, "#items tbody tr"):
        gap_col = _column(driver, "largest gap")
        assert abs(float(row.find_elements(By.CSS_SELECTOR, "td")[gap_col].text)) >= 2
    assert len(shown) >= 1
    driver.find_elements(By.CSS_SELECTOR, "#items tbody tr")[0].click()
    assert "expert grades" in driver.find_element(By.ID, "detail").text
    assert len(driver.find_elements(By.CSS_SELECTOR, ".plots img")) >= 1
    assert not screenshot_is_blank(driver)
