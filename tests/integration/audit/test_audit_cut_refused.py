"""Cutting the newest audit entries is caught at the next write, not only by `audit verify`."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from bastion.errors import IntegrityError


def _cut_last_entries(tenant, count: int) -> None:
    with tenant.engine.connect() as conn:
        conn.begin()
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
        else:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_no_delete")
        last = conn.execute(sa.text("SELECT max(seq) FROM audit_log")).scalar_one()
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq > :s"), {"s": last - count})
        head = conn.execute(
            sa.text("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        ).one()
        conn.execute(
            sa.text("UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1"),
            {"seq": head.seq, "hash": head.hash},
        )
        conn.commit()


def test_write_refused_after_newest_entries_cut(make_tenant) -> None:
    tenant = make_tenant()
    with tenant.system("test data") as env:
        env["res.partner"].create({"name": "Before the cut"})
    _cut_last_entries(tenant, 3)
    with (
        pytest.raises(IntegrityError, match="entries were removed"),
        tenant.system("test data") as env,
    ):
        env["res.partner"].create({"name": "After the cut"})
    with tenant.transaction() as tx:
        report = tenant.audit.verify(tx.conn)
        names = tx.conn.execute(sa.text("SELECT name FROM res_partner")).scalars().all()
    assert not report.ok
    assert report.kind == "truncated"
    assert "After the cut" not in names  # nothing half-written


def test_write_accepted_when_trail_is_whole(make_tenant) -> None:
    tenant = make_tenant()
    with tenant.system("test data") as env:
        env["res.partner"].create({"name": "First"})
    with tenant.system("test data") as env:
        env["res.partner"].create({"name": "Second"})
    with tenant.transaction() as tx:
        assert tenant.audit.verify(tx.conn).ok
