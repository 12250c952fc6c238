"""Databases for the audit integration tests: a SQLite file and, when reachable, PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, event

from bastion.audit.chain import Entry
from bastion.audit.trail import CHECKPOINT_PURPOSE, AuditTrail
from bastion.audit.verify import VerifyReport, verify_chain
from bastion.core.events import AuditEvent, ChainHead
from bastion.crypto.signing import Signer
from bastion.errors import IntegrityError

PG_URL = sa.make_url(
    os.environ.get("BASTION_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
)


def sqlite_engine(path: Path) -> Engine:
    engine = sa.create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _pg_admin() -> Engine:
    return sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    admin = _pg_admin()
    name = f"bastion_test_audit_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {exc}")
        pytest.skip("PostgreSQL is not reachable")
    engine = sa.create_engine(PG_URL.set(database=name))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_engine")
        return
    engine = sqlite_engine(tmp_path / "tenant.sqlite3")
    try:
        yield engine
    finally:
        engine.dispose()


def disable_append_only(conn: sa.Connection) -> None:
    """What an attacker with full database rights does first."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
    else:
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_delete")


class World:
    """One tenant's audit trail on `engine`, with the tools to verify and to tamper with it."""

    tenant = "acme"
    signer = Signer([b"c" * 32], purpose=CHECKPOINT_PURPOSE)
    t0 = datetime(2024, 5, 1, 12, tzinfo=UTC)

    def __init__(self, engine: Engine, tmp_path: Path) -> None:
        self.engine = engine
        self.checkpoint = tmp_path / "checkpoints" / f"{self.tenant}.checkpoint"
        self.trail = AuditTrail(self.tenant, self.signer, self.checkpoint)
        with engine.begin() as conn:
            self.trail.install(conn)

    def event(self, i: int, **overrides: Any) -> AuditEvent:
        fields: dict[str, Any] = {
            "action": "write",
            "tenant": self.tenant,
            "at": self.t0 + timedelta(seconds=i),
            "uid": 2,
            "model": "res.partner",
            "res_ids": (i,),
            "changes": {str(i): {"name": [f"old {i}", f"new {i}"], "amount": [i, i + 1]}},
        }
        return AuditEvent(**(fields | overrides))

    def append(self, *events: AuditEvent) -> ChainHead:
        with self.engine.begin() as conn:
            head = self.trail.append(conn, events)
        assert head is not None
        self.trail.anchor(head)
        return head

    def verify(self) -> VerifyReport:
        with self.engine.begin() as conn:
            return verify_chain(conn, self.tenant, self.signer, self.checkpoint)

    def expect(self, kind: str, seq: int | None) -> VerifyReport:
        """Verify, and check the first problem found is `kind` at `seq`."""
        report = self.verify()
        assert not report.ok
        assert (report.kind, report.first_bad_seq) == (kind, seq), report.problem
        assert report.problem is not None and report.problem.endswith(".")
        with pytest.raises(IntegrityError):
            report.raise_for_problem()
        return report

    def tamper(self, *statements: str) -> None:
        with self.engine.begin() as conn:
            disable_append_only(conn)
            for statement in statements:
                conn.exec_driver_sql(statement)

    def row(self, seq: int) -> sa.Row[Any]:
        with self.engine.connect() as conn:
            return conn.exec_driver_sql(f"SELECT * FROM audit_log WHERE seq = {seq}").one()

    def forge(self, seq: int, prev_hash: str, changes: str = "{}") -> Entry:
        """A well-hashed entry, as an attacker who knows the algorithm would make."""
        at = "2024-05-01T12:00:00.000000+00:00"
        return Entry(seq, at, self.tenant, 1, "write", None, "[]", changes, None, prev_hash)

    @staticmethod
    def insert(entry: Entry, digest: str) -> str:
        """SQL inserting `entry` with `digest` as its stored hash."""
        return (
            "INSERT INTO audit_log (seq, at, tenant, uid, action, model, res_ids, changes, "
            f"reason, prev_hash, hash) VALUES ({entry.seq}, '{entry.at}', '{entry.tenant}', "
            f"{entry.uid}, '{entry.action}', NULL, '{entry.res_ids}', '{entry.changes}', NULL, "
            f"'{entry.prev_hash}', '{digest}')"
        )


@pytest.fixture
def empty_world(engine: Engine, tmp_path: Path) -> World:
    return World(engine, tmp_path)


@pytest.fixture
def world(empty_world: World) -> World:
    """Ten entries written in four transactions, some holding several events."""
    w = empty_world
    w.append(w.event(1))
    w.append(w.event(2), w.event(3), w.event(4))
    w.append(*(w.event(i) for i in range(5, 10)))
    w.append(w.event(10))
    return w
