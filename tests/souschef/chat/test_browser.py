"""The chat app in a real browser: headless Chromium, driven by Playwright.

Runs wherever Chromium (Debian's ``chromium`` package; ``.ci/run`` installs it) and the
``playwright`` Python package are found; ``SOUSCHEF_CHROMIUM`` names another binary.
Playwright's own browser downloads are never used.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import time

import pytest

pytestmark = [
    pytest.mark.slow,
    # Gradio's own, none of ours (see test_app.py)
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
    pytest.mark.filterwarnings("ignore:unclosed event loop:ResourceWarning"),
    pytest.mark.filterwarnings("ignore:unclosed <socket.socket fd=\\d+, family=1:ResourceWarning"),
]


def chromium() -> str:
    for candidate in (os.environ.get("SOUSCHEF_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        found = candidate and shutil.which(candidate)
        if found:
            return found
    pytest.skip("no Chromium found (apt-get install chromium, or set SOUSCHEF_CHROMIUM)")


@pytest.fixture
def page(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (dev extra)")
    executable = chromium()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1000})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def wait_for_row(db, answer_count: int, timeout_s: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while True:
        with sqlite3.connect(db) as conn:
            conn.row_factory = sqlite3.Row
            rows = [dict(r) for r in conn.execute("SELECT * FROM feedback ORDER BY id")]
        if len(rows) >= answer_count or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_a_user_asks_sees_a_rendered_recipe_likes_it_and_the_like_is_stored(page, served, tmp_path):
    rows_before = len(wait_for_row(served.db, 0, 0))
    page.goto(served.url)
    page.locator("#message textarea").fill("How do I make a quick tomato soup?")
    page.locator("#message textarea").press("Enter")

    # the answer arrives rendered: the title as a heading, ingredients and steps as sections
    bot = page.locator("#chat .message.bot").last
    bot.locator("h2", has_text="Ingredients").wait_for()
    title = bot.locator("h1").first.inner_text()
    assert title.strip()
    assert bot.locator("ol li").count() >= 1 and bot.locator("ul li").count() >= 1
    assert page.locator("#download").is_visible()  # the recipe's JSON is offered

    page.locator("#comment textarea").fill("Looks tasty")
    page.locator("#chat").get_by_role("button", name="Like").last.click()
    page.locator("#status", has_text="Saved your like").wait_for()

    rows = wait_for_row(served.db, rows_before + 1)
    assert len(rows) == rows_before + 1
    row = rows[-1]
    assert (row["prompt"], row["rating"], row["comment"], row["is_recipe"]) == (
        "How do I make a quick tomato soup?", "like", "Looks tasty", 1)
    assert row["model_id"] == served.service.generator.model_id

    shot = tmp_path / "chat.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
