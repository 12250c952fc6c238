"""Odoo domains as data: parse prefix notation into a small tree, refusing anything malformed.

    [('state', '=', 'draft'), '|', ('amount', '>', 100), ('partner_id.name', 'ilike', 'acme')]

A domain is a list whose items are the operators '&', '|', '!' or leaves (path, operator,
value). Leaves side by side are AND-ed. `(1, '=', 1)` and `(0, '=', 1)` are Odoo's constant
true and false leaves. Nothing in a domain is ever evaluated as code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Union

from bastion.errors import ValidationError

OPERATORS = frozenset(
    {
        "=",
        "!=",
        "<",
        ">",
        "<=",
        ">=",
        "in",
        "not in",
        "like",
        "ilike",
        "=like",
        "=ilike",
        "child_of",
    }
)
PATH = re.compile(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*){0,7}")
# SQLite refuses expression trees deeper than 1000; each leaf compiles to two AND-ed terms
MAX_DOMAIN_ITEMS = 256
MAX_IN_VALUES = 100_000
MAX_DEPTH = 32


@dataclass(frozen=True, slots=True)
class Leaf:
    path: str
    operator: str
    value: Any


@dataclass(frozen=True, slots=True)
class Const:
    value: bool


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


Node = Union[Leaf, Const, And, Or, Not]  # noqa: UP007 - runtime alias used by isinstance users

TRUE = Const(True)
FALSE = Const(False)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _leaf(item: Any, position: int) -> Node:
    if not isinstance(item, list | tuple) or len(item) != 3:
        raise ValidationError(
            f"Domain item {position} must be '&', '|', '!' or a (field, operator, value) "
            f"triple, not {_short(item)}."
        )
    path, operator, value = item
    if (path, operator, value) in ((1, "=", 1), (0, "=", 1)) and not isinstance(path, bool):
        return TRUE if path == 1 else FALSE
    if not isinstance(path, str) or not PATH.fullmatch(path):
        raise ValidationError(f"Domain item {position} has an invalid field name {_short(path)}.")
    if not isinstance(operator, str) or operator not in OPERATORS:
        # one spelling per operator (lowercase, as Odoo clients send them): nothing to normalise
        raise ValidationError(f"Domain item {position} has an unknown operator {_short(operator)}.")
    if isinstance(value, list | tuple):
        if operator not in ("in", "not in", "child_of"):
            raise ValidationError(
                f"Domain item {position}: operator '{operator}' takes a single value, not a list."
            )
        if len(value) > MAX_IN_VALUES:
            raise ValidationError(f"Domain item {position} lists more than {MAX_IN_VALUES} values.")
        value = tuple(value)
    elif operator in ("in", "not in"):
        raise ValidationError(f"Domain item {position}: operator '{operator}' takes a list.")
    return Leaf(path, operator, value)


def parse(domain: Any) -> Node:
    """Parse a domain into a tree; raise ValidationError naming the first problem."""
    if domain is None or domain is False:
        return TRUE
    if not isinstance(domain, list | tuple):
        raise ValidationError("A domain must be a list.")
    if len(domain) > MAX_DOMAIN_ITEMS:
        raise ValidationError(f"A domain may hold at most {MAX_DOMAIN_ITEMS} items.")
    if not domain:
        return TRUE
    stack: list[Node] = []
    # prefix notation is easiest to read right to left with a stack
    for position in range(len(domain) - 1, -1, -1):
        item = domain[position]
        if isinstance(item, str) and item in ("&", "|"):
            if len(stack) < 2:
                raise ValidationError(f"Operator '{item}' at item {position} lacks two operands.")
            a, b = stack.pop(), stack.pop()
            stack.append(_combine(And if item == "&" else Or, a, b))
        elif isinstance(item, str) and item == "!":
            if not stack:
                raise ValidationError(f"Operator '!' at item {position} lacks an operand.")
            operand = stack.pop()
            # '!' '!' x is x: long chains of negations cost nothing
            stack.append(operand.child if isinstance(operand, Not) else Not(operand))
        else:
            stack.append(_leaf(item, position))
    # leftover terms are AND-ed (implicit '&'), in their original order
    stack.reverse()
    node = stack[0] if len(stack) == 1 else And(tuple(stack))
    if _depth(node) > MAX_DEPTH:
        raise ValidationError(
            f"A domain may nest '&', '|' and '!' at most {MAX_DEPTH} levels deep."
        )
    return node


def _combine(kind: type[And] | type[Or], a: Node, b: Node) -> Node:
    """a AND b (or a OR b), merging operands of the same kind: long '|' lists stay flat."""
    children: list[Node] = []
    for operand in (a, b):
        children.extend(operand.children if isinstance(operand, kind) else (operand,))
    return kind(tuple(children))


def _depth(root: Node) -> int:
    """How deeply the tree nests (iteratively: a hostile domain must not exhaust the stack)."""
    deepest = 0
    todo: list[tuple[Node, int]] = [(root, 1)]
    while todo:
        node, level = todo.pop()
        deepest = max(deepest, level)
        if isinstance(node, And | Or):
            todo.extend((child, level + 1) for child in node.children)
        elif isinstance(node, Not):
            todo.append((node.child, level + 1))
    return deepest


def and_(nodes: Sequence[Node]) -> Node:
    kept = [n for n in nodes if n != TRUE]
    if any(n == FALSE for n in kept):
        return FALSE
    if not kept:
        return TRUE
    return kept[0] if len(kept) == 1 else And(tuple(kept))


def or_(nodes: Sequence[Node]) -> Node:
    kept = [n for n in nodes if n != FALSE]
    if any(n == TRUE for n in kept):
        return TRUE
    if not kept:
        return FALSE
    return kept[0] if len(kept) == 1 else Or(tuple(kept))


def mentions(node: Node, field: str) -> bool:
    """Whether any leaf of the tree starts with `field` (used for the `active` filter)."""
    if isinstance(node, Leaf):
        return node.path.split(".", 1)[0] == field
    if isinstance(node, And | Or):
        return any(mentions(c, field) for c in node.children)
    if isinstance(node, Not):
        return mentions(node.child, field)
    return False
