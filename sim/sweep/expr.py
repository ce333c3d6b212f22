"""Constraint expressions for sweep specs: a small, safe subset of Python.

A constraint is a string such as ``"batch * seq_len <= 262144"`` or
``"pim or row_buffer == 'single'"``. Names are the point's config keys; nested keys use
dots (``hw.channels``). Allowed: literals, names, attribute access on mappings,
arithmetic (``+ - * / // % **``), comparisons (chains too), ``and or not``, ``x if c else
y``, ``in`` on literal lists/tuples and calls to ``min max abs int float round ceil floor
log2 len``. Nothing else parses: no attribute access on objects, no subscripts of
arbitrary objects, no imports, no lambdas. A point is kept when every constraint is true.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Mapping
from typing import Any

_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_UNARY = {ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos}
FUNCTIONS = {
    "min": min, "max": max, "abs": abs, "int": int, "float": float, "round": round,
    "ceil": math.ceil, "floor": math.floor, "log2": math.log2, "len": len,
}


class ExprError(ValueError):
    """An expression that does not parse, uses a forbidden construct or an unknown name."""


class Expr:
    """A compiled constraint; ``Expr(text)(env) -> bool``."""

    def __init__(self, text: str) -> None:
        self.text = text
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise ExprError(f"not a valid expression: {exc.msg}") from None
        self._check(tree.body)
        self.tree = tree.body
        self.names = sorted({_dotted(n) for n in ast.walk(tree.body)
                             if isinstance(n, (ast.Name, ast.Attribute)) and _dotted(n)
                             and _dotted(n).split(".")[0] not in FUNCTIONS})

    def _check(self, node: ast.AST) -> None:
        ok = (ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp, ast.Constant,
              ast.Name, ast.Attribute, ast.Call, ast.List, ast.Tuple, ast.Load, ast.And,
              ast.Or, *_BINOPS, *_CMPOPS, *_UNARY)
        for sub in ast.walk(node):
            if not isinstance(sub, ok):
                raise ExprError(f"'{type(sub).__name__}' is not allowed in a constraint")
            if isinstance(sub, ast.Call):
                if not isinstance(sub.func, ast.Name) or sub.func.id not in FUNCTIONS:
                    raise ExprError("only these functions may be called: "
                                    + ", ".join(sorted(FUNCTIONS)))
                if sub.keywords:
                    raise ExprError("keyword arguments are not allowed in a constraint")
            if isinstance(sub, ast.Attribute) and _dotted(sub) is None:
                raise ExprError("attribute access is allowed on config names only")

    def __call__(self, env: Mapping[str, Any]) -> bool:
        return bool(self._eval(self.tree, env))

    def _eval(self, node: ast.AST, env: Mapping[str, Any]) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.Name, ast.Attribute)):
            return _lookup(_dotted(node) or "", env)
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                result: Any = True
                for v in node.values:
                    result = self._eval(v, env)
                    if not result:
                        return result
                return result
            result = False
            for v in node.values:
                result = self._eval(v, env)
                if result:
                    return result
            return result
        if isinstance(node, ast.BinOp):
            return _BINOPS[type(node.op)](self._eval(node.left, env), self._eval(node.right, env))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self._eval(node.operand, env))
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, env)
            for op, comp in zip(node.ops, node.comparators):
                right = self._eval(comp, env)
                if not _CMPOPS[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self._eval(node.body if self._eval(node.test, env) else node.orelse, env)
        if isinstance(node, ast.Call):
            fn = FUNCTIONS[node.func.id]  # type: ignore[attr-defined]
            return fn(*[self._eval(a, env) for a in node.args])
        if isinstance(node, (ast.List, ast.Tuple)):
            return tuple(self._eval(e, env) for e in node.elts)
        raise ExprError(f"'{type(node).__name__}' is not allowed in a constraint")


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _lookup(path: str, env: Mapping[str, Any]) -> Any:
    if path in FUNCTIONS:
        raise ExprError(f"'{path}' is a function; call it")
    if path in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[path]
    cur: Any = env
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            raise ExprError(f"unknown name '{path}' (not a key of the point's config)")
        cur = cur[part]
    return cur
