"""A real headless Chromium (Debian's chromium + chromium-driver) driven by Selenium, for the HTML report tests.

The browser is required when ``HARNESS_REQUIRE_BROWSER=1`` (``.ci/run`` installs it and sets this), so CI can never
pass by skipping; elsewhere the browser tests skip with the reason when Chromium is not installed.
"""
from __future__ import annotations

import io
import os
import shutil
import tempfile

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def browser_or_skip():
    """A started Selenium Chrome driver, or a skip (a failure when the browser is required)."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium (requirements-dev.txt)")
    if missing:
        msg = f"headless browser not installed: {', '.join(missing)} (apt-get install chromium chromium-driver)"
        if os.environ.get("HARNESS_REQUIRE_BROWSER") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1300,1000",
                 f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def screenshot_is_blank(driver) -> bool:
    """True when every pixel of the viewport has the same colour."""
    import matplotlib.image as mpimg

    img = mpimg.imread(io.BytesIO(driver.get_screenshot_as_png()), format="png")
    return float(np.asarray(img)[..., :3].std()) < 1e-3
