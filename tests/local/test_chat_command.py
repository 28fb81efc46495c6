"""``mozaiks chat`` against a running ``mozaiks serve``, driven through the command's ``run()``."""

from __future__ import annotations

import argparse
import io
import os
import socket
import threading
import time
from pathlib import Path

import pytest
from local_server import RunningServer, running_server

from runtime_core.commands import chat
from runtime_core.local.credentials import mint_token


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    chat.add_parser(parser.add_subparsers())
    return parser.parse_args(["chat", *argv])


def test_chat_runs_trip_planner_with_a_ui_tool_answer(server: RunningServer) -> None:
    out = io.StringIO()
    code = chat.run(
        _args("TripPlanner", "--url", server.ws_url, "--data-dir", str(server.data_dir)),
        out=out,
        stdin=io.StringIO("I'd like a long weekend in Lisbon.\nstart=2026-06-05 end=2026-06-08\n"),
    )
    text = out.getvalue()
    assert code == chat.EXIT_OK, text
    assert "[Planner] Lisbon is a great choice." in text
    assert "calls UI tool choose_dates" in text
    assert "date_range_picker" in text
    assert "⇢ handoff Planner → Booker" in text
    assert "TRIP-LIS-20260605" in text
    assert "■ run completed" in text
    assert text.rstrip().splitlines()[-1].startswith("usage: ")


def test_chat_resumes_a_session_and_reports_running_out_of_input(server: RunningServer) -> None:
    out = io.StringIO()
    code = chat.run(
        _args("CustomerSupport", "--url", server.ws_url, "--token", server.token, "--message", "Hi"),
        out=out,
        stdin=io.StringIO(""),
    )
    assert code == chat.EXIT_ERROR
    assert "! no more input" in out.getvalue()
    session_id = out.getvalue().splitlines()[0].removeprefix("session ").strip()

    again = io.StringIO()
    code = chat.run(
        _args("CustomerSupport", "--url", server.ws_url, "--token", server.token, "--session", session_id),
        out=again,
        stdin=io.StringIO("I'd like to talk to a human about a refund.\nPlease call me at +1 555 0100.\n"),
    )
    text = again.getvalue()
    assert code == chat.EXIT_OK, text
    # The replay shows the earlier part once, then the run goes on.
    assert text.count("[you] Hi") == 1
    assert "⇢ handoff SupportAgent → EscalationAgent" in text
    assert "[EscalationAgent]" in text and "■ run completed" in text


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(predicate: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def test_chat_survives_a_server_restart_mid_session(tmp_path: Path) -> None:
    """The server stops while the chat waits for the user; it comes back on the same port and data dir
    (the SQLite store keeps the session); the chat reconnects, resumes and finishes the run."""
    port = _free_port()
    read_end, write_end = os.pipe()
    out = io.StringIO()
    result: list[int] = []
    with running_server(tmp_path, port) as first:
        args = _args("CustomerSupport", "--url", first.ws_url, "--token", first.token, "--message", "Hi")
        stdin = os.fdopen(read_end)
        thread = threading.Thread(
            target=lambda: result.append(chat.run(args, out=out, stdin=stdin)), daemon=True
        )
        thread.start()
        _wait_for(lambda: "? Your reply:" in out.getvalue(), "the first input request")
    with running_server(tmp_path, port):
        with os.fdopen(write_end, "w") as typing:
            typing.write("I'd like to talk to a human about a refund.\nPlease call me at +1 555 0100.\n")
        thread.join(timeout=120)
    text = out.getvalue()
    assert result == [chat.EXIT_OK], text
    assert "… connection lost" in text and "… reconnected" in text
    assert text.count("[you] Hi") == 1
    assert "⇢ handoff SupportAgent → EscalationAgent" in text and "■ run completed" in text


def test_chat_refused_with_a_bad_token(server: RunningServer) -> None:
    out = io.StringIO()
    forged = mint_token("not-the-server-secret-but-long-enough-0123456789")
    code = chat.run(_args("CustomerSupport", "--url", server.ws_url, "--token", forged), out=out)
    assert code == chat.EXIT_REFUSED
    assert "401" in out.getvalue()


def test_chat_without_any_token_says_where_to_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MOZAIKS_TOKEN", raising=False)
    out = io.StringIO()
    code = chat.run(_args("CustomerSupport", "--data-dir", str(tmp_path)), out=out)
    assert code == chat.EXIT_NO_TOKEN
    assert "mozaiks serve" in out.getvalue()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"start": "2026-06-05", "n": 2}', {"start": "2026-06-05", "n": 2}),
        ("start=2026-06-05 end=2026-06-08", {"start": "2026-06-05", "end": "2026-06-08"}),
        ("start=2026-06-05, end=2026-06-08", {"start": "2026-06-05", "end": "2026-06-08"}),
        ("yes please", {"text": "yes please"}),
        ("{not json", {"text": "{not json"}),
    ],
)
def test_ui_answers_parse_as_json_pairs_or_text(line: str, expected: dict[str, object]) -> None:
    assert chat.parse_ui_answer(line) == expected
