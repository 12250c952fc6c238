"""Values across the wire: results in Odoo's spelling, and a depth limit on what callers send.

Odoo clients expect `False` where a value is empty (XML-RPC has no null), dates as
`YYYY-MM-DD` strings, date-times as `YYYY-MM-DD HH:MM:SS` in UTC, money as floats, and
binary data as base64 text. Incoming data is plain JSON-ish values (XML-RPC's `base64` becomes
base64 text again); nesting deeper than `MAX_DEPTH` is refused before anything runs, so a
payload cannot exhaust the stack of code that walks it.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bastion.errors import ValidationError

#: Deepest nesting of lists and objects accepted in a call (a domain nests at most 32 levels).
MAX_DEPTH = 40
#: XML 1.0 cannot carry these control characters (all below 32 but tab, newline, return).
_CONTROL = dict.fromkeys(set(range(32)) - {9, 10, 13})
#: Values JSON replies carry unchanged (exact types: subclasses take the general path).
_AS_IS = frozenset({str, int, float, bool})


def to_odoo(value: Any, *, xml: bool = False) -> Any:
    """`value` (a result of the ORM) as Odoo clients read it; `xml` also drops characters
    XML cannot carry (as Odoo does, or the client's parser fails on the whole reply)."""
    return _general(value, True) if xml else _json(value)


def _json(value: Any) -> Any:
    """`to_odoo` for JSON, quick on what `search_read` returns (lists of dicts of scalars and
    many2one pairs): the same result as the general path, which takes everything else."""
    if value is None:
        return False
    kind = type(value)
    if kind in _AS_IS:
        return value
    # Empty values are common (a record's unset fields) and so are many2one pairs: both are
    # turned inline, not by a call per value.
    if kind is dict:
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = k if type(k) is str else str(k)
            of = type(v)
            if of in _AS_IS:
                out[key] = v
            elif v is None:
                out[key] = False
            elif of is tuple and len(v) == 2 and type(v[0]) is int and type(v[1]) is str:
                out[key] = [v[0], v[1]]
            else:
                out[key] = _json(v)
        return out
    if kind is list or kind is tuple:
        return [v if type(v) in _AS_IS else False if v is None else _json(v) for v in value]
    return _general(value, False)


def _general(value: Any, xml: bool) -> Any:
    if value is None:
        return False
    if isinstance(value, str):
        return value.translate(_CONTROL) if xml else value
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): _general(v, True) if xml else _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_general(v, True) if xml else _json(v) for v in value]
    raise TypeError(f"cannot send a {type(value).__name__} to an RPC client")


def from_wire(value: Any) -> Any:
    """An incoming XML-RPC value as the ORM takes it: `base64` payloads become base64 text."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: from_wire(v) for k, v in value.items()}
    return value


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """Raise `ValidationError` if lists and objects nest deeper than `limit`. Iterative."""
    if not isinstance(value, list | tuple | dict):
        return
    # Only lists and objects go on the stack: most values of a call are scalars.
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth >= limit:
            raise ValidationError(f"The call nests lists or objects deeper than {limit}.")
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, list | tuple | dict):
                stack.append((child, depth + 1))
