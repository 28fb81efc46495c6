"""``source: data_reference``: a lookup that could read another tenant's data never validates."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runtime_core.data_references import lookup_for, resolve_references, value_of
from runtime_core.session import new_session
from runtime_core.workflow import load_workflow
from runtime_core.workflow.loader import check_workflow_report

ESCALATION = Path(__file__).resolve().parent / "original" / "Escalation"


@pytest.fixture
def escalation(tmp_path: Path) -> Path:
    folder = tmp_path / "Escalation"
    shutil.copytree(ESCALATION, folder)
    return folder


def _edit(folder: Path, old: str, new: str) -> None:
    path = folder / "context_variables.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "says"),
    [
        (
            "app_id: '{{runtime.app_id}}'",
            "app_id: other-app",
            22,
            "definitions.customer_plan.source.query_template.app_id",
            "app_id must be '{{runtime.app_id}}'",
        ),
        (
            "user_id: '{{runtime.user_id}}'",
            "user_id: '{{customer_plan}}'",
            23,
            "definitions.customer_plan.source.query_template.user_id",
            "never reads another tenant's data",
        ),
        (
            "active: true",
            "active: '{{runtime.secret}}'",
            24,
            "definitions.customer_plan.source.query_template.active",
            "unknown placeholder {{runtime.secret}}",
        ),
        (
            "active: true",
            "active: '{{nowhere.flag}}'",
            24,
            "definitions.customer_plan.source.query_template.active",
            "names no context variable",
        ),
        (
            "      database_name: phoneco\n",
            "",
            16,
            "definitions.customer_plan.source.database_name",
            "needs database_name",
        ),
    ],
)
def test_a_reference_that_is_not_tenant_safe_is_an_error_at_its_line(
    escalation: Path, old: str, new: str, line: int, field: str, says: str
) -> None:
    _edit(escalation, old, new)

    result = check_workflow_report(escalation)

    assert result.workflow is None
    (error,) = result.errors
    assert (error.file, error.line, error.field) == ("context_variables.yaml", line, field)
    assert says in error.message


def test_the_lookup_is_scoped_to_the_verified_tenant_and_fills_placeholders(escalation: Path) -> None:
    _edit(escalation, "active: true", "session: '{{runtime.chat_id}}'\n        closed: '{{case_closed}}'")
    workflow = load_workflow(escalation)
    var = next(v for v in workflow.context_variables if v.name == "customer_plan")
    state = new_session(workflow, "s-1", app_id="shop-1", user_id="u-7")

    lookup = lookup_for(var, state, {"case_closed": False})

    assert lookup.filter == {"app_id": "shop-1", "user_id": "u-7", "session": "s-1", "closed": False}


def test_what_is_taken_from_the_document() -> None:
    workflow = load_workflow(ESCALATION)
    var = next(v for v in workflow.context_variables if v.name == "customer_plan")

    assert value_of(var, None) == "unknown"  # nothing found: the default
    assert value_of(var, {"_id": 1, "plan": "family", "pin": "1234"}) == "family"  # one field: its value
    many = var.model_copy(update={"reference": var.reference.model_copy(update={"fields": []})})  # type: ignore[union-attr]
    assert value_of(many, {"_id": 1, "plan": "pro", "since": 2020}) == {"plan": "pro", "since": 2020}


def test_a_started_session_is_never_looked_up_again() -> None:
    workflow = load_workflow(ESCALATION)
    state = new_session(workflow, "s-1", app_id="shop-1", user_id="u-7")
    state.engine["initialized"] = True
    calls: list[object] = []

    class Reader:
        def read_reference(self, tenant: object, lookup: object) -> None:
            calls.append(lookup)

    assert resolve_references(workflow, state, Reader()) == {}
    assert calls == []


def test_a_template_without_app_id_is_still_scoped_to_the_app(escalation: Path) -> None:
    _edit(escalation, "        app_id: '{{runtime.app_id}}'\n", "")
    _edit(escalation, "        user_id: '{{runtime.user_id}}'\n", "")
    workflow = load_workflow(escalation)
    var = next(v for v in workflow.context_variables if v.name == "customer_plan")
    state = new_session(workflow, "s-1", app_id="shop-1", user_id="u-7")

    # No user_id in the template: the app's document, whichever user it belongs to.
    assert lookup_for(var, state, {}).filter == {"active": True, "app_id": "shop-1"}
