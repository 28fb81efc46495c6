"""The chat page in headless Chromium: CustomerSupport to the escalation and its end, across a dropped socket.

Needs the ``playwright`` Python package and a Chromium at /usr/bin/chromium (or $MOZAIKS_CHROMIUM); no
browser is downloaded.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from local_server import RunningServer

CHROMIUM = os.environ.get("MOZAIKS_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


def test_customer_support_in_the_browser(
    server: RunningServer, browser_context: Any, artifacts: Path
) -> None:
    page = browser_context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"{server.http_url}/?token={server.token}")
    page.wait_for_selector("#status[data-state=online]")

    # The workflow list comes from the HTTP API.
    page.wait_for_selector("#workflow option[value=CustomerSupport]", state="attached")
    options = page.eval_on_selector_all("#workflow option", "els => els.map(e => e.value)")
    assert {"CustomerSupport", "ContentReview", "TripPlanner"} <= set(options)

    # Count the replies shown as they stream (text_delta through the client), before their stored message.
    page.evaluate(
        """() => {
          window.liveShown = 0;
          new MutationObserver((changes) => changes.forEach((c) => c.addedNodes.forEach((n) => {
            if (n.classList && n.classList.contains("live")) window.liveShown += 1;
          }))).observe(document.getElementById("transcript"), { childList: true });
        }"""
    )
    page.select_option("#workflow", "CustomerSupport")
    page.fill("#first-message", "Hi, where is my order A100?")
    page.click("#start")
    page.wait_for_selector(".event.tool_call >> text=check_status")
    page.wait_for_selector(".event.agent_message >> text=arrives Thursday")
    page.wait_for_selector("#reply:not([hidden])")
    page.fill("#reply-text", "Thanks. I'd like to talk to a human about a refund.")
    # Send, and lose the socket in the same breath: the step's events (the escalation) are posted while the
    # page is away, so they can only arrive through the resume after the reconnect.
    page.evaluate("() => { for (const id of ['send', 'drop']) document.getElementById(id).click(); }")
    page.wait_for_selector("#status:not([data-state=online])")
    page.wait_for_selector("#status[data-state=online]")

    page.wait_for_selector(".event.handoff >> text=SupportAgent → EscalationAgent")
    page.wait_for_selector(".event.agent_message >> text=Which phone number")
    page.wait_for_selector("#reply:not([hidden])")
    page.fill("#reply-text", "Please call me at +1 555 0100.")
    page.click("#send")
    page.wait_for_selector(".event.run_completed")

    shot = artifacts / "chat-page-customer-support.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0

    seqs = page.eval_on_selector_all("#transcript [data-seq]", "els => els.map(e => Number(e.dataset.seq))")
    assert seqs == sorted(set(seqs)), seqs  # each event rendered once, in order
    speakers = page.eval_on_selector_all(".event.agent_message .who", "els => els.map(e => e.textContent)")
    assert speakers == ["SupportAgent", "EscalationAgent", "EscalationAgent"]
    # Streaming text was shown, and each streamed reply gave way to its stored agent_message.
    assert page.evaluate("window.liveShown") >= 1
    assert page.eval_on_selector_all(".event.live", "els => els.length") == 0
    state = page.evaluate("window.mozaiks.state")
    assert state["lastSeq"] == max(seqs)
    assert "Usage:" in page.inner_text("#usage")
    assert problems == []
    page.close()


def test_the_page_without_a_token_says_how_to_get_one(server: RunningServer, browser_context: Any) -> None:
    page = browser_context.new_page()
    page.goto(f"{server.http_url}/")
    notice = page.wait_for_selector("#notice:not([hidden])")
    assert "?token=" in notice.inner_text()
    page.close()


def test_chromium_is_where_the_tests_expect_it() -> None:
    assert shutil.which(CHROMIUM) or Path(CHROMIUM).is_file()
