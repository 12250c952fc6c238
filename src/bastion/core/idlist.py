"""`column IN (ids)` for long id lists, bound as ONE parameter instead of one per id.

Thousands of bound parameters cost more to compile than the query costs to run; PostgreSQL
takes an array (`= ANY(:ids)`), SQLite a JSON list read by `json_each`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

SMALL = 32


def id_in(conn: sa.Connection, column: Any, ids: Sequence[int]) -> ColumnElement[bool]:
    values = [int(i) for i in ids]
    if len(values) <= SMALL:
        return column.in_(values)  # type: ignore[no-any-return]
    if conn.dialect.name == "postgresql":
        return column == sa.any_(sa.literal(values, type_=sa.ARRAY(sa.Integer())))  # type: ignore[no-any-return]
    each = sa.func.json_each(sa.literal(json.dumps(values))).table_valued("value")
    return column.in_(sa.select(each.c.value))  # type: ignore[no-any-return]
