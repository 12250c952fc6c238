"""SQLite WAL checkpoints off the request path: connections leave them to a background pass,
the pass moves the log into the database file, skips an unchanged log, and stops at dispose."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bastion.core import walcheckpoint
from bastion.core.database import sqlite_engine
from bastion.core.walcheckpoint import Checkpointer

ROWS, ROW_BYTES = 64, 32 * 1024  # 2 MB: far more than a database file holds before a checkpoint


def _engine(
    path: Path,
    checkpointer: Checkpointer,
    poolclass: type[sa.pool.Pool] = walcheckpoint.DisposalPool,
) -> sa.Engine:
    """An engine set up as `sqlite_engine`'s, watched by `checkpointer` (not the process's,
    whose thread would checkpoint at its own pace). `DisposalPool` tells the checkpointer of
    a dispose as `sqlite_engine`'s engines do; any other pool, through SQLAlchemy's event."""
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=poolclass)

    def on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        walcheckpoint.on_connect(dbapi_conn)

    sa.event.listen(engine, "connect", on_connect)
    checkpointer.watch(engine, path)
    return engine


def _write(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS blob (data BLOB)")
        for _ in range(ROWS):
            conn.exec_driver_sql("INSERT INTO blob VALUES (randomblob(?))", (ROW_BYTES,))
        conn.exec_driver_sql("COMMIT")


@pytest.fixture
def checkpointer() -> Checkpointer:
    return Checkpointer(interval=3600.0)  # its thread sleeps: passes run when the test says


@pytest.fixture(params=[walcheckpoint.DisposalPool, sa.pool.QueuePool])
def engine(
    request: pytest.FixtureRequest, tmp_path: Path, checkpointer: Checkpointer
) -> Iterator[sa.Engine]:
    engine = _engine(tmp_path / "t.sqlite3", checkpointer, request.param)
    yield engine
    engine.dispose()


def test_connections_leave_checkpoints_to_the_background(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path / "t.sqlite3")
    try:
        with engine.connect() as conn:
            pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        assert pages == walcheckpoint.IN_COMMIT_PAGES
        assert walcheckpoint.CHECKPOINTER.enrolled(engine)
    finally:
        engine.dispose()
    # Twin: a connection not made by Bastion keeps SQLite's in-commit checkpoints.
    with sqlite3.connect(tmp_path / "t.sqlite3") as plain:
        assert plain.execute("PRAGMA wal_autocheckpoint").fetchone() == (1000,)
    plain.close()


def test_a_pass_moves_the_log_into_the_database_file(
    tmp_path: Path, engine: sa.Engine, checkpointer: Checkpointer
) -> None:
    _write(engine)
    database = tmp_path / "t.sqlite3"
    assert database.stat().st_size < ROWS * ROW_BYTES // 2  # still in the log
    assert checkpointer.run_once() == 1
    assert database.stat().st_size >= ROWS * ROW_BYTES
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM blob").scalar() == ROWS


def test_an_unchanged_log_is_left_alone(engine: sa.Engine, checkpointer: Checkpointer) -> None:
    _write(engine)
    assert checkpointer.run_once() == 1
    assert checkpointer.run_once() == 0
    time.sleep(0.01)  # a new modification time even on coarse file systems
    _write(engine)
    assert checkpointer.run_once() == 1


def test_nothing_written_nothing_to_do(engine: sa.Engine, checkpointer: Checkpointer) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    assert checkpointer.run_once() == 0


def test_a_disposed_engine_is_left_alone_and_its_files_not_recreated(
    tmp_path: Path, engine: sa.Engine, checkpointer: Checkpointer
) -> None:
    _write(engine)
    engine.dispose()
    assert not checkpointer.enrolled(engine)
    for name in ("t.sqlite3", "t.sqlite3-wal", "t.sqlite3-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    assert checkpointer.run_once() == 0
    assert not (tmp_path / "t.sqlite3").exists()
    # Used again, the engine is watched again.
    _write(engine)
    assert checkpointer.enrolled(engine)
    assert checkpointer.run_once() == 1


def test_the_thread_checkpoints_by_itself(tmp_path: Path) -> None:
    checkpointer = Checkpointer(interval=0.05)
    engine = _engine(tmp_path / "t.sqlite3", checkpointer)
    try:
        _write(engine)
        database = tmp_path / "t.sqlite3"
        for _ in range(600):  # waits for the event; no bound on how long it takes is asserted
            if database.stat().st_size >= ROWS * ROW_BYTES:
                break
            time.sleep(0.05)
        assert database.stat().st_size >= ROWS * ROW_BYTES
    finally:
        engine.dispose()
