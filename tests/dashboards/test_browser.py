"""Every dashboard page in a real browser: `streamlit run` on a snapshot with real MMM outputs, driven by
Chromium through Playwright - what AppTest cannot see (the front end, its charts, script errors).

The browser is the system's Chromium (Debian's `chromium` package; Playwright's own download is never
used). Without one the test is skipped, saying so, unless MOS_REQUIRE_BROWSER=1 (CI sets it after
installing the package), where a missing browser fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dashboards.conftest import APP
from tests.dashboards.test_science_page import _science_tables, _snapshot

pytestmark = pytest.mark.xdist_group("browser")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# page path -> (its title, the tenant to pick, a section heading the page must show, with its chart)
PAGES = {
    "": ("Overview", None, None),
    "channels": ("Channels & ROAS", None, None),
    # Northwind's MMM was calibrated with two lift tests: the experiments-vs-model chart draws them.
    "science": ("Marketing science", "Northwind Outfitters", "Experiments vs model"),
}
TIMEOUT_MS = 90_000


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser_path() -> str:
    path = _chromium()
    if path is None:
        message = "no Chromium on PATH (apt-get install chromium)"
        if os.environ.get("MOS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"MOS_REQUIRE_BROWSER=1 but {message}")
        pytest.skip(message)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory, browser_path: str) -> Iterator[str]:
    snapshot = _snapshot(tmp_path_factory.mktemp("browser") / "snapshot.duckdb", _science_tables())
    port = _free_port()
    log = tmp_path_factory.mktemp("browser-log") / "streamlit.log"
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]  # fmt: skip
    with log.open("w") as out:
        server = subprocess.Popen(
            command, env={**os.environ, "MOS_SERVING": str(snapshot)}, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/_stcore/health", server, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def _wait_healthy(url: str, server: subprocess.Popen, log: Path, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"streamlit exited with {server.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"streamlit did not answer {url} within {seconds:.0f} s:\n{log.read_text()[-2000:]}")


@pytest.mark.parametrize("path", list(PAGES), ids=lambda path: path or "overview")
def test_page_renders_in_chromium(app_url: str, browser_path: str, path: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    title, tenant, section = PAGES[path]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            script_errors: list[str] = []
            page.on("pageerror", lambda error: script_errors.append(str(error)))
            page.goto(f"{app_url}/{path}", timeout=TIMEOUT_MS)
            page.get_by_role("heading", name=title, exact=True).wait_for(timeout=TIMEOUT_MS)
            if tenant:
                page.get_by_test_id("stSelectbox").first.click()
                page.get_by_role("option", name=tenant).click()
                page.get_by_text(f"{tenant} ·").wait_for(timeout=TIMEOUT_MS)  # the frame's caption
            if section:
                heading = page.get_by_role("heading", name=section)
                heading.wait_for(timeout=TIMEOUT_MS)
                page.locator("[data-testid='stPlotlyChart']", has=page.locator(".main-svg")).nth(1).wait_for(
                    timeout=TIMEOUT_MS
                )
            # The front end drew at least one chart (Plotly's SVG or Vega's canvas), not just the text.
            page.locator(
                "[data-testid='stPlotlyChart'] .main-svg, [data-testid='stVegaLiteChart'] canvas"
            ).first.wait_for(timeout=TIMEOUT_MS)
            # The script ran to its end: Streamlit's running indicator is gone.
            page.wait_for_function(
                "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=TIMEOUT_MS
            )
            exceptions = page.locator("[data-testid='stException']")
            if section:  # the app scrolls inside its main block: bring the section into the picture
                page.get_by_role("heading", name=section).scroll_into_view_if_needed()
            shot = tmp_path / f"{path or 'overview'}.png"
            page.screenshot(path=str(shot))
            assert exceptions.count() == 0, exceptions.first.inner_text()
            assert script_errors == [], script_errors
            assert shot.stat().st_size > 10_000  # a rendered page, not a blank one
        finally:
            browser.close()
