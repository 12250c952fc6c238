"""`reading()` on SQLite: each statement is its own transaction (no BEGIN, no ROLLBACK), as on
PostgreSQL; a transaction still reads from one snapshot."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bastion.core.database import reading, shared_reading, sqlite_engine

COUNT = sa.text("SELECT count(*) FROM item")


@pytest.fixture
def traced(tmp_path: Path) -> Iterator[tuple[sa.Engine, list[str]]]:
    """A SQLite engine whose connections report every statement they run, BEGIN included."""
    engine = sqlite_engine(tmp_path / "reading.db")
    statements: list[str] = []

    def trace(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.set_trace_callback(statements.append)

    sa.event.listen(engine, "connect", trace)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE item (id INTEGER PRIMARY KEY)"))
    statements.clear()
    yield engine, statements
    engine.dispose()


def _add_item(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO item DEFAULT VALUES"))


def test_a_read_is_one_statement(traced: tuple[sa.Engine, list[str]]) -> None:
    engine, statements = traced
    with reading(engine) as conn:
        assert conn.execute(COUNT).scalar() == 0
    assert statements == ["SELECT count(*) FROM item"]


def test_a_read_only_transaction_still_begins_and_ends(
    traced: tuple[sa.Engine, list[str]],
) -> None:
    engine, statements = traced
    with engine.connect() as raw:
        conn = raw.execution_options(bastion_readonly=True)
        with conn.begin():
            conn.execute(COUNT).scalar()
    assert statements[0] == "BEGIN" and statements[-1] in ("COMMIT", "ROLLBACK"), statements


def test_each_read_sees_what_was_committed_before_it(
    traced: tuple[sa.Engine, list[str]],
) -> None:
    engine, _ = traced
    with reading(engine) as conn:
        assert conn.execute(COUNT).scalar() == 0
        _add_item(engine)  # another connection commits in between
        assert conn.execute(COUNT).scalar() == 1


def test_a_transaction_reads_from_one_snapshot(traced: tuple[sa.Engine, list[str]]) -> None:
    engine, _ = traced
    with engine.connect() as raw:
        conn = raw.execution_options(bastion_readonly=True)
        with conn.begin():
            assert conn.execute(COUNT).scalar() == 0
            _add_item(engine)
            assert conn.execute(COUNT).scalar() == 0  # the twin: not seen inside
        assert conn.execute(COUNT).scalar() == 1


def test_writes_still_take_the_write_lock_first(traced: tuple[sa.Engine, list[str]]) -> None:
    engine, statements = traced
    _add_item(engine)
    assert statements[0] == "BEGIN IMMEDIATE" and statements[-1] == "COMMIT", statements


def test_a_connection_read_from_then_written_with_begins_immediate(
    traced: tuple[sa.Engine, list[str]],
) -> None:
    engine, statements = traced
    for _ in range(3):  # the pool hands the same connection back each time
        with reading(engine) as conn:
            conn.execute(COUNT).scalar()
        statements.clear()
        _add_item(engine)
        assert statements[0] == "BEGIN IMMEDIATE", statements


def test_statements_run_without_connection_events(tmp_path: Path) -> None:
    # Any connection event (SQLAlchemy's `begin`, `engine_disposed`...) would put every
    # statement of the engine through the event machinery.
    engine = sqlite_engine(tmp_path / "events.db")
    try:
        assert engine._has_events is False
        # The twin: the flag is what a connection event turns on.
        sa.event.listen(engine, "before_cursor_execute", lambda *args: None)
        assert engine._has_events is True
    finally:
        engine.dispose()


def test_reads_inside_shared_reading_use_one_connection(
    traced: tuple[sa.Engine, list[str]],
) -> None:
    engine, statements = traced
    checkouts: list[object] = []
    sa.event.listen(engine, "checkout", lambda *args: checkouts.append(args[0]))
    with shared_reading(engine):
        with reading(engine) as first:
            first.execute(COUNT).scalar()
        _add_item(engine)  # a write takes a connection of its own, and commits
        with reading(engine) as second:
            assert second is first
            assert second.execute(COUNT).scalar() == 1  # each statement its own snapshot
    # One checkout for both reads, one for the write; still no BEGIN for the reads.
    assert len(checkouts) == 2
    assert [s for s in statements if s.startswith("SELECT")] == [
        "SELECT count(*) FROM item",
        "SELECT count(*) FROM item",
    ]
    assert statements.count("BEGIN") <= 1  # the write's, if the dialect sends one


def test_reads_outside_a_shared_block_each_take_a_connection(
    traced: tuple[sa.Engine, list[str]],
) -> None:
    engine, _ = traced
    checkouts: list[object] = []
    sa.event.listen(engine, "checkout", lambda *args: checkouts.append(args[0]))
    with shared_reading(engine), reading(engine) as conn:
        conn.execute(COUNT).scalar()
    with reading(engine) as conn:  # after the block: a checkout of its own again
        conn.execute(COUNT).scalar()
    with reading(engine) as conn:
        conn.execute(COUNT).scalar()
    assert len(checkouts) == 3


def test_a_shared_block_shares_only_its_own_engine(
    traced: tuple[sa.Engine, list[str]], tmp_path: Path
) -> None:
    engine, _ = traced
    other = sqlite_engine(tmp_path / "other.db")
    try:
        # Nested blocks of one engine share one connection; another engine's reads do not.
        with (
            shared_reading(engine),
            shared_reading(engine),
            reading(engine) as mine,
            reading(other) as theirs,
        ):
            assert mine is not theirs
            with reading(engine) as again, reading(other) as elsewhere:
                assert again is mine
                assert elsewhere is not theirs  # `other` is not shared here
    finally:
        other.dispose()
