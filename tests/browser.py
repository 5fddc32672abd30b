"""A headless Debian chromium driven by selenium, for the door board's browser tests.

Only the installed browser and driver are used (``/usr/bin/chromium``, ``/usr/bin/chromedriver``), so
selenium never fetches one. ``browser`` is a fixture: import it into a test module (``from tests.browser
import browser``); it quits the browser at teardown.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WIDTH, HEIGHT = 1280, 900


def start_browser() -> webdriver.Chrome:
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.fail("chromium and chromium-driver are not installed: run ./scripts/test, which installs them")
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={WIDTH},{HEIGHT}")
    options.binary_location = str(CHROMIUM)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_script_timeout(10)
    return driver


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    driver = start_browser()
    try:
        yield driver
    finally:
        driver.quit()


def login(driver: webdriver.Chrome, base: str, path: str, token: str) -> None:
    """Open ``path``; on the login page it redirects to, enter ``token`` and sign in."""
    driver.get(base + path)
    form = driver.find_element(By.ID, "token")
    form.send_keys(token)
    driver.find_element(By.ID, "login").click()
    WebDriverWait(driver, 10).until(expected_conditions.staleness_of(form))  # the answer page has loaded


def text(driver: webdriver.Chrome, element_id: str) -> str:
    """The text of an element, '' if it is not there."""
    found = driver.execute_script(
        "const e = document.getElementById(arguments[0]); return e ? e.textContent : ''", element_id
    )
    return str(found)


def fetch(driver: webdriver.Chrome, path: str) -> tuple[int, str]:
    """``GET path`` from the page, with its cookies (for a stream: up to its first board event)."""
    script = """
const [path, done] = [arguments[0], arguments[arguments.length - 1]];
fetch(path, {credentials: "same-origin", cache: "no-store"}).then(async (response) => {
  if (!(response.headers.get("content-type") || "").startsWith("text/event-stream")) {
    return done([response.status, await response.text()]);
  }
  const reader = response.body.getReader();
  let body = "";
  while (!body.includes("event: board")) {
    const {value, done: end} = await reader.read();
    if (end) break;
    body += new TextDecoder().decode(value);
  }
  await reader.cancel();
  done([response.status, body]);
}).catch((error) => done([0, String(error)]));
"""
    status, body = driver.execute_async_script(script, path)
    return int(status), str(body)


def fetched(driver: webdriver.Chrome) -> list[str]:
    """The paths of everything the page has fetched so far (the resource timing entries)."""
    entries: Any = driver.execute_script(
        "return performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname)"
    )
    return sorted(set(json.loads(json.dumps(entries))))
