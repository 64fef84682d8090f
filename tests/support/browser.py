"""Headless Chromium for the browser tests: the system's Chromium (``.ci/run`` installs the Debian package),
driven by Playwright (a dev dependency) pointed at that executable, so nothing is downloaded. Skipped on a user's
clone without Chromium or Playwright, a failure under CI=true (:func:`support.env.need`)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from support.env import need

CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser", shutil.which("chromium") or "",
                             shutil.which("google-chrome") or "") if p and Path(p).exists()), None)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]


def need_chromium() -> str:
    need(CHROMIUM, "headless Chromium is not installed (apt-get install chromium); .ci/run installs it")
    assert CHROMIUM is not None
    return CHROMIUM


@contextmanager
def browser() -> Iterator[Any]:
    """A Playwright Chromium browser over the system's Chromium."""
    exe = need_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError:
        need(False, "Playwright is not installed (pip install -e '.[dev]')")
        raise
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=ARGS)
        try:
            yield b
        finally:
            b.close()


# the boxes of every visible element that must be seen whole, as [tag, text, left, top, right, bottom]
BOXES_JS = """(sel) => Array.from(document.querySelectorAll(sel)).map(el => {
  const r = el.getBoundingClientRect();
  return [el.tagName, (el.textContent || '').slice(0, 40), r.left, r.top, r.right, r.bottom];
})"""


def overflow(page: Any) -> dict[str, float]:
    """How far the page is wider than its window (0 when nothing is cut off sideways)."""
    got: dict[str, float] = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})")
    return got
