"""Context handoff expressions: parsed like AG2's ContextExpression, never evaluated."""

from __future__ import annotations

import pytest

from runtime_core.workflow.context_expression import expression_problem, referenced_variables


@pytest.mark.parametrize(
    "expression",
    [
        "${logged_in}",
        "not ${logged_in} and ${is_admin} or ${guest}",
        "!${logged_in} & ${is_admin} | ${guest}",
        "len(${orders}) > 0 & ${active}",
        "${tier} == 'gold | silver'",
        "${attempts} >= -1",
        "(${a} or ${b}) and not (${c} != 3.5)",
    ],
)
def test_valid_expressions(expression: str) -> None:
    assert expression_problem(expression) is None


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("", "expression is empty"),
        ("${a} >", "invalid expression syntax: invalid syntax"),
        ("${a} + 1 > 2", "invalid expression: BinOp is not allowed in a context expression"),
        ("${a} in ${b}", "invalid expression: only ==, !=, <, <=, > and >= comparisons are allowed"),
        ("open('x')", "invalid expression: only the len() function is allowed"),
        ("len(${a}, ${b}) > 1", "invalid expression: len() takes exactly one argument"),
        ("${a}.__class__", "invalid expression: Attribute is not allowed in a context expression"),
        ("a == 1", "invalid expression: 'a' is not a variable reference; write ${a}"),
        ("${a-b} == 1", "'${a-b}' is not a valid variable reference"),
        ("[${a}] == 1", "invalid expression: List is not allowed in a context expression"),
    ],
)
def test_invalid_expressions(expression: str, problem: str) -> None:
    assert expression_problem(expression) == problem


def test_referenced_variables_skip_string_literals() -> None:
    assert referenced_variables("${a} == '${not_a_var}' and len(${b}) > 0") == ["a", "b"]
