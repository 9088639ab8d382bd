"""A real headless Chromium for the HTML tests: Debian's browser driven by Playwright.

Skips when the browser or Playwright is missing, except with
MERGE_ENGINE_REQUIRE_BROWSER=1 (set by .ci/run), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = os.environ.get("MERGE_ENGINE_CHROMIUM", "/usr/bin/chromium")
# No sandbox: CI runs as root. The rest keeps the browser from calling home.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _missing() -> str | None:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401, PLC0415
    except ImportError as exc:
        return f"Playwright for Python is not installed ({exc}); pip install -e '.[test]'"
    return None


def require_browser() -> None:
    """Skip (or fail, with MERGE_ENGINE_REQUIRE_BROWSER=1) when there is no browser."""
    message = _missing()
    if message is None:
        return
    if os.environ.get("MERGE_ENGINE_REQUIRE_BROWSER") == "1":
        pytest.fail(message + " and MERGE_ENGINE_REQUIRE_BROWSER=1 makes this a fail")
    pytest.skip(message)


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless browser (closed on exit)."""
    require_browser()
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
