"""The chat page in headless Debian chromium, driven by Playwright: ask, follow up, open a source.

Set SCREENSHOT_PATH to keep a screenshot of the page (docs/screenshot.png is made this way).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from api.settings import Settings
from tests.conftest import SEED_DOC_ID, SEEDS, LiveServer, serve

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SEED_TEXT = (SEEDS / SEED_DOC_ID).read_text(encoding="utf-8")
COORDINATION_SENTENCE = next(
    s + "." for s in SEED_TEXT.split(". ") if s.startswith("China supports the United Nations")
)
TIMEOUT_MS = 60_000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} is not installed (apt-get install chromium chromium-driver)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on the seeds, without API keys."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("browser-data"), seed_paths=[SEEDS], background_load=False
    )
    with serve(settings) as url:
        yield url


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 720})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


def ask(page: Page, question: str, *, keyboard: bool = False) -> None:
    """Type a question and send it, then wait until its answer has finished streaming."""
    before = page.locator(".message.assistant").count()
    page.locator("#question").fill(question)
    if keyboard:
        page.locator("#question").press("Enter")
    else:
        page.locator("#ask").click()
    expect(page.locator(".message.assistant")).to_have_count(before + 1)
    expect(page.locator(".message.assistant").last).to_have_attribute("data-done", "true")


def test_ask_follow_up_and_open_the_highlighted_source(page: Page, open_server: str) -> None:
    page.goto(open_server)
    ask(page, "What agencies does China support?", keyboard=True)
    ask(page, "What should they strengthen coordination with?")
    answer = page.locator(".message.assistant").last
    expect(answer).not_to_have_class("abstained")
    expect(answer).to_contain_text("strengthen coordination with regional organizations")

    answer.locator('.citation[data-n="1"]').click()
    expect(page.locator("#document-panel")).to_be_visible()
    highlight = page.locator("#highlight")
    expect(highlight).to_have_text(COORDINATION_SENTENCE)
    expect(highlight).to_be_in_viewport()
    if os.environ.get("SCREENSHOT_PATH"):
        page.screenshot(path=os.environ["SCREENSHOT_PATH"])

    ask(page, "What is the population of Brazil?")
    abstained = page.locator(".message.assistant").last
    expect(abstained).to_have_class("message assistant abstained")
    expect(abstained.locator(".citation")).to_have_count(0)

    page.locator("#new-conversation").click()
    expect(page.locator("#messages > *")).to_have_count(0)
    # A new conversation forgets the topic: the same follow-up finds another sentence.
    ask(page, "What should they strengthen coordination with?")
    expect(page.locator(".message.assistant").last).not_to_contain_text("regional organizations")


def test_a_failing_service_shows_an_error(page: Page, open_server: str) -> None:
    def fail(route: Route) -> None:
        body = {"error": {"code": "not_ready", "message": "the index is loading", "field": None}}
        route.fulfill(status=503, content_type="application/json", body=json.dumps(body))

    page.route("**/v1/ask", fail)
    page.goto(open_server)
    page.locator("#question").fill("What does China oppose?")
    page.locator("#ask").click()
    expect(page.locator("#error")).to_contain_text("the index is loading")


def test_the_page_asks_for_the_api_key(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url)
    page.locator("#question").fill("What does China oppose?")
    page.locator("#ask").click()
    key_input = page.locator("#api-key-input")
    expect(key_input).to_be_visible()
    key_input.fill(live_server.api_key)
    key_input.press("Enter")
    answer = page.locator(".message.assistant").last
    expect(answer).to_have_attribute("data-done", "true")
    expect(answer).to_contain_text("double standards and politicization")


UPLOADED = "The Zorblax accord was signed in Quito in 1999 by eleven ministers of fisheries."


def test_upload_choose_ask_and_delete_documents(page: Page, open_server: str) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(open_server)
    page.locator("#mode-docs").click()
    expect(page.locator("#doc-list .doc-item")).to_have_count(1)
    page.locator("#file-input").set_input_files(
        [
            {"name": "zorblax.txt", "mimeType": "text/plain", "buffer": UPLOADED.encode()},
            {"name": "empty.txt", "mimeType": "text/plain", "buffer": b"   "},
        ]
    )
    results = page.locator("#upload-results .upload-result")
    expect(results).to_have_count(2)
    expect(results.nth(0)).to_have_attribute("data-outcome", "added")
    expect(results.nth(0)).to_contain_text("zorblax.txt: added as zorblax.txt (1 chunk)")
    expect(results.nth(1)).to_have_attribute("data-outcome", "error")
    # Dropped files are uploaded the same way.
    dropped = page.evaluate_handle(
        """() => { const dt = new DataTransfer();
                   dt.items.add(new File(['Dropped files are indexed too.'], 'dropped.txt',
                                         {type: 'text/plain'}));
                   return dt; }"""
    )
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": dropped})
    expect(page.locator("#upload-results .upload-result")).to_have_count(1)
    expect(page.locator("#upload-results")).to_contain_text("dropped.txt: added")
    items = page.locator("#doc-list .doc-item")
    expect(items).to_have_count(3)

    page.locator('[data-doc-id="zorblax.txt"] .doc-choose').check()
    page.locator("#mode-chat").click()
    expect(page.locator("#scope")).to_have_text("Asking about 1 chosen document")
    ask(page, "Where was the Zorblax accord signed?")
    answer = page.locator(".message.assistant").last
    expect(answer.locator(".citation")).to_have_count(1)
    expect(answer).to_contain_text("signed in Quito in 1999")

    page.locator("#mode-docs").click()
    for doc_id in ("zorblax.txt", "dropped.txt"):
        page.locator(f'[data-doc-id="{doc_id}"] .doc-delete').click()
        expect(page.locator(f'[data-doc-id="{doc_id}"]')).to_have_count(0)
    expect(items).to_have_count(1)
    page.locator("#mode-chat").click()
    expect(page.locator("#scope")).to_have_text("Asking about all documents")


def test_the_conversation_survives_a_reload(page: Page, open_server: str) -> None:
    page.goto(open_server)
    ask(page, "What agencies does China support?")
    conversation_id = page.evaluate("window.qaPage.conversationId()")
    assert conversation_id
    page.reload()
    expect(page.locator(".message.user")).to_have_count(1)
    expect(page.locator(".message.assistant")).to_have_count(1)
    assert page.evaluate("window.qaPage.conversationId()") == conversation_id
    # A follow-up after the reload is still read in the light of the first question.
    ask(page, "What should they strengthen coordination with?")
    expect(page.locator(".message.assistant").last).to_contain_text("regional organizations")
    page.locator("#new-conversation").click()
    page.reload()
    expect(page.locator("#messages > *")).to_have_count(0)
