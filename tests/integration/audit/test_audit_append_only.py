"""The database itself refuses to change or remove audit entries; concurrent writers chain."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from bastion.audit.schema import APPEND_ONLY_MESSAGE
from bastion.audit.trail import CHECKPOINT_PURPOSE, AuditTrail
from bastion.audit.verify import verify_chain
from bastion.core.events import AuditEvent
from bastion.crypto.signing import Signer

SIGNER = Signer([b"c" * 32], purpose=CHECKPOINT_PURPOSE)
T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)


def event(i: int) -> AuditEvent:
    return AuditEvent(action="create", tenant="acme", at=T0, uid=1, changes={str(i): {"n": i}})


@pytest.fixture
def trail(engine: Engine, tmp_path: Path) -> AuditTrail:
    trail = AuditTrail("acme", SIGNER, tmp_path / "acme.checkpoint")
    with engine.begin() as conn:
        trail.install(conn)
        trail.install(conn)
        head = trail.append(conn, [event(1), event(2)])
    assert head is not None
    trail.anchor(head)
    return trail


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET reason = 'x' WHERE seq = 1",
        "UPDATE audit_log SET seq = seq + 10",
        "DELETE FROM audit_log WHERE seq = 2",
        "DELETE FROM audit_log",
    ],
)
def test_changing_or_removing_entries_is_refused(
    engine: Engine, trail: AuditTrail, statement: str
) -> None:
    with pytest.raises(sa.exc.DatabaseError, match=APPEND_ONLY_MESSAGE), engine.begin() as conn:
        conn.exec_driver_sql(statement)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM audit_log").scalar() == 2


def test_inserting_entries_is_allowed(engine: Engine, trail: AuditTrail) -> None:
    with engine.begin() as conn:
        trail.append(conn, [event(3)])
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM audit_log").scalar() == 3


@pytest.mark.postgres
def test_truncate_is_refused_on_postgresql(pg_engine: Engine, tmp_path: Path) -> None:
    trail = AuditTrail("acme", SIGNER, tmp_path / "acme.checkpoint")
    with pg_engine.begin() as conn:
        trail.install(conn)
        trail.append(conn, [event(1)])
    with pytest.raises(sa.exc.DatabaseError, match=APPEND_ONLY_MESSAGE), pg_engine.begin() as c:
        c.exec_driver_sql("TRUNCATE audit_log")
    with pg_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM audit_log").scalar() == 1


@pytest.mark.postgres
def test_concurrent_writers_form_one_chain_on_postgresql(pg_engine: Engine, tmp_path: Path) -> None:
    checkpoint = tmp_path / "acme.checkpoint"
    trail = AuditTrail("acme", SIGNER, checkpoint)
    with pg_engine.begin() as conn:
        trail.install(conn)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        barrier.wait()
        try:
            for i in range(10):
                with pg_engine.begin() as conn:
                    head = trail.append(conn, [event(worker * 100 + i)] * 2)
                assert head is not None
                trail.anchor(head)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with pg_engine.begin() as conn:
        report = verify_chain(conn, "acme", SIGNER, checkpoint)
    assert report.ok, report.problem
    assert report.entries == 80 and report.head_seq == 80
