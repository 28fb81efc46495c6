"""``mozaiks usage``: the HTTP API's reports, read from the store by an operator, and ``--rebuild``."""

from __future__ import annotations

import json

import pytest

from runtime_core.cli import main
from runtime_core.store import MongoSessionStore
from tests.store.scenario import OTHER, OTHER_APP, TENANT
from tests.store.test_usage_rollups import DAY1, call, run_step, two_days


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, mongo_uri: str, db_name: str) -> None:
    monkeypatch.setenv("MONGODB_URI", mongo_uri)
    monkeypatch.setenv("MOZAIKS_DB_NAME", db_name)


def usage(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["usage", "--since", "2026-03-01", "--until", "2026-03-02", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_reports_one_app_or_one_user(
    store: MongoSessionStore, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    two_days(store)
    run_step(store, OTHER, "o1", [call("s-9", "triage", "gpt-4o", DAY1)])
    run_step(store, OTHER_APP, "x1", [call("s-8", "triage", "gpt-4o", DAY1)])
    app = usage(capsys, "--app", TENANT.app_id, "--by", "model")
    assert app["total"]["calls"] == 5 and set(app["totals"]) == {"gpt-4o", "gpt-4o-mini"}  # type: ignore[index]
    one = usage(capsys, "--app", TENANT.app_id, "--user", TENANT.user_id)
    assert one["total"]["calls"] == 4  # type: ignore[index]
    session = usage(capsys, "--app", TENANT.app_id, "--user", TENANT.user_id, "--session", "s-1")
    assert session["total"]["calls"] == 3  # type: ignore[index]


def test_rebuild_then_report(
    store: MongoSessionStore, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    two_days(store, roll_last=False)
    assert usage(capsys, "--app", TENANT.app_id)["total"]["calls"] == 3  # type: ignore[index]
    assert usage(capsys, "--app", TENANT.app_id, "--rebuild")["total"]["calls"] == 4  # type: ignore[index]
    # The table form names each day and the total.
    assert main(["usage", "--app", TENANT.app_id, "--since", "2026-03-01", "--until", "2026-03-02"]) == 0
    text = capsys.readouterr().out
    assert "2026-03-01" in text and "2026-03-02" in text and text.splitlines()[-1].startswith("total")


def test_a_bad_range_is_refused(cli_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["usage", "--since", "2026-03-02", "--until", "2026-03-01"]) == 2
    assert "before" in capsys.readouterr().out


def test_a_session_of_another_app_needs_its_user(cli_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["usage", "--app", "shop", "--session", "s-1"]) == 2
    assert "--user" in capsys.readouterr().out


def test_rebuild_of_every_app(
    store: MongoSessionStore, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    two_days(store, roll_last=False)
    run_step(store, OTHER_APP, "x1", [call("s-8", "triage", "gpt-4o", DAY1)], roll=False)
    # --app alone rebuilds that app only; --all-apps every app.
    rebuilt = usage(capsys, "--app", TENANT.app_id, "--rebuild")
    assert rebuilt["total"]["calls"] == 4  # type: ignore[index]
    assert usage(capsys, "--app", OTHER_APP.app_id)["total"]["calls"] == 0  # type: ignore[index]
    everything = usage(capsys, "--app", OTHER_APP.app_id, "--rebuild", "--all-apps")
    assert everything["total"]["calls"] == 1  # type: ignore[index]
