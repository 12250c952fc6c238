"""`DriverStatement`: a SQLAlchemy statement compiled once and run on the driver's cursor."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.compiler import SQLCompiler


class DriverStatement:
    """A statement compiled once for the engine's dialect and run on the driver's cursor.

    The risk state's statements are small and run dozens of times per sign-in, and a
    decision is inserted for most attempts: through the driver they cost a few
    microseconds, through SQLAlchemy's execution path about a hundred (bench/detection
    latency). Values are plain floats, ints, booleans, text and bytes, which both drivers
    take and return as they are. Run it on the cursor of a connection whose transaction
    the caller holds."""

    __slots__ = ("defaults", "names", "text")

    def __init__(self, stmt: sa.ClauseElement, dialect: sa.Dialect) -> None:
        compiled = stmt.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.text = compiled.string
        self.defaults = dict(compiled.params)  # literals bound by SQLAlchemy (LIMIT 1, 0)
        self.names = compiled.positiontup  # the order of positional parameters, if any

    def run(self, cursor: Any, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        cursor.execute(self.text, self._values(params))
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []

    def run_many(self, cursor: Any, rows: list[dict[str, Any]]) -> None:
        """The statement once per row, in one driver call (no rows returned)."""
        cursor.executemany(self.text, [self._values(row) for row in rows])

    def _values(self, params: dict[str, Any]) -> Any:
        values = {**self.defaults, **params}
        return [values[name] for name in self.names] if self.names is not None else values
