"""Static check of a context handoff expression, in the syntax of AG2's ``ContextExpression``.

``${name}`` refers to a context variable; ``not``/``!``, ``and``/``&``, ``or``/``|``, comparisons, literals
and ``len(${name})`` are allowed. The expression is parsed with ``ast`` in eval mode and walked, never
evaluated.
"""

from __future__ import annotations

import ast
import re

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_STRING = re.compile(r"'[^']*'|\"[^\"]*\"")
_PLACEHOLDER = "__ctx_{}"
_COMPARISONS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)


def referenced_variables(expression: str) -> list[str]:
    """Names inside ``${...}``, in order of appearance (outside string literals)."""
    return _VARIABLE.findall(_STRING.sub("''", expression))


def _to_python(expression: str) -> str:
    literals: list[str] = []

    def hide(match: re.Match[str]) -> str:
        literals.append(match.group(0))
        return f"__str_{len(literals) - 1}__"

    text = _STRING.sub(hide, expression)
    # Same symbol rewrites as AG2 applies before parsing.
    text = re.sub(r"!\s*(\$\{|\()", r"not \1", text)
    text = re.sub(r"\s+&\s+", " and ", text)
    text = re.sub(r"\s+\|\s+", " or ", text)
    text = _VARIABLE.sub(lambda m: _PLACEHOLDER.format(m.group(1)), text)
    for index, literal in enumerate(literals):
        text = text.replace(f"__str_{index}__", literal)
    return text


def _check_node(node: ast.AST) -> str | None:
    if isinstance(node, ast.Expression):
        return _check_node(node.body)
    if isinstance(node, ast.BoolOp):
        return next(filter(None, (_check_node(v) for v in node.values)), None)
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.Not | ast.USub):
            return f"operator {type(node.op).__name__} is not allowed"
        return _check_node(node.operand)
    if isinstance(node, ast.Compare):
        if not all(isinstance(op, _COMPARISONS) for op in node.ops):
            return "only ==, !=, <, <=, > and >= comparisons are allowed"
        return next(filter(None, (_check_node(n) for n in [node.left, *node.comparators])), None)
    if isinstance(node, ast.Constant):
        return None
    if isinstance(node, ast.Name):
        if node.id.startswith("__ctx_"):
            return None
        return f"'{node.id}' is not a variable reference; write ${{{node.id}}}"
    if isinstance(node, ast.Call):
        if not (isinstance(node.func, ast.Name) and node.func.id == "len"):
            return "only the len() function is allowed"
        if len(node.args) != 1 or node.keywords:
            return "len() takes exactly one argument"
        return _check_node(node.args[0])
    return f"{type(node).__name__} is not allowed in a context expression"


def expression_problem(expression: str) -> str | None:
    """Why ``expression`` is not a valid context expression, or None."""
    if not expression.strip():
        return "expression is empty"
    for name in _VARIABLE.findall(expression):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            return f"'${{{name}}}' is not a valid variable reference"
    try:
        tree = ast.parse(_to_python(expression), mode="eval")
    except SyntaxError as exc:
        return f"invalid expression syntax: {exc.msg}"
    problem = _check_node(tree)
    return f"invalid expression: {problem}" if problem else None
