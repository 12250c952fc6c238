"""Tenants are isolated from each other, and the audit trail records every change, denial and
elevation of the ORM, redacts secrets, and verifies after all of it (both backends)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from core_models import PASSWORD, TYPES_MODULE, dump_tables

from bastion.bootstrap.users import add_user
from bastion.core.tenant import Tenant
from bastion.errors import AccessError, MissingError, ValidationError


def new_tenant(make_tenant: Any) -> Tenant:
    return make_tenant(modules=("base", "coretypes"), extra=(TYPES_MODULE,))


def audit(tenant: Tenant) -> list[dict[str, Any]]:
    with tenant.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT seq, tenant, uid, action, model, res_ids, changes, reason"
                " FROM audit_log ORDER BY seq"
            )
        )
        return [dict(r._mapping) for r in rows]


def verify(tenant: Tenant) -> None:
    with tenant.engine.connect() as conn, conn.begin():
        report = tenant.audit.verify(conn)  # type: ignore[attr-defined]
    assert report.ok, report.problem
    assert report.entries == len(audit(tenant))


# -- tenant isolation -------------------------------------------------------------------------


def test_records_of_one_tenant_are_invisible_from_another(make_tenant: Any) -> None:
    first, second = new_tenant(make_tenant), new_tenant(make_tenant)
    alice = add_user(first, "alice", PASSWORD)
    bob = add_user(second, "bob", PASSWORD)
    with first.env(alice) as env:
        kind = env["test.kind"].create({"name": "only in the first tenant"})
    with second.env(bob) as env:
        kinds = env["test.kind"]
        assert kinds.search([("name", "=", "only in the first tenant")]) == []
        assert kinds.search([]) == []
        for call in (
            lambda: kinds.read([kind], ["name"]),
            lambda: kinds.write([kind], {"name": "x"}),
            lambda: kinds.unlink([kind]),
        ):
            with pytest.raises(MissingError):
                call()
    assert "only in the first tenant" not in repr(dump_tables(second.engine))
    assert "only in the first tenant" in repr(dump_tables(first.engine))
    with first.env(alice) as env:  # the twin: the first tenant still has it
        assert env["test.kind"].read([kind], ["name"])[0]["name"] == "only in the first tenant"


def test_a_user_id_means_nothing_in_another_tenant(make_tenant: Any) -> None:
    first, second = new_tenant(make_tenant), new_tenant(make_tenant)
    add_user(first, "filler", PASSWORD)
    alice = add_user(first, "alice", PASSWORD)  # an id that the second tenant does not have
    add_user(second, "bob", PASSWORD)
    with pytest.raises(AccessError), second.env(alice):
        pass
    with first.env(alice) as env:
        assert env.user is not None
        assert env.user.login == "alice"


def test_each_tenant_has_its_own_audit_chain(make_tenant: Any) -> None:
    first, second = new_tenant(make_tenant), new_tenant(make_tenant)
    alice = add_user(first, "alice", PASSWORD)
    with first.env(alice) as env:
        env["test.kind"].create({"name": "k"})
    assert {r["tenant"] for r in audit(first)} == {first.name}
    assert {r["tenant"] for r in audit(second)} == {second.name}
    assert not any(r["model"] == "test.kind" for r in audit(second))
    verify(first)
    verify(second)


# -- the audit trail of ORM work -------------------------------------------------------------


def test_every_change_denial_and_elevation_is_audited_and_the_chain_verifies(
    make_tenant: Any,
) -> None:
    tenant = new_tenant(make_tenant)
    uid = add_user(tenant, "alice", PASSWORD, email="alice@example.com")
    outsider = add_user(tenant, "outsider", PASSWORD, groups=())
    seen = len(audit(tenant))
    with tenant.env(uid) as env:
        kind = env["test.kind"].create({"name": "k"})
        rid = env["test.everything"].create(
            {"name": "r", "kind_id": kind, "line_ids": [(0, 0, {"name": "l"})], "blob": b"x"}
        )
        env["test.everything"].write([rid], {"name": "renamed", "count": 3})
        env["test.everything"].write([rid], {"name": "renamed"})  # no change, no entry
        env["test.everything"].unlink([rid])
        env.elevated("support checks something")
    with pytest.raises(AccessError), tenant.env(outsider) as env:
        env["test.kind"].create({"name": "denied"})
    with pytest.raises(ValidationError), tenant.env(uid) as env:
        env["test.kind"].create({"name": "rolled back"})
        env["test.kind"].create({"nope": 1})
    entries = audit(tenant)[seen:]
    got = [(e["action"], e["model"]) for e in entries]
    assert got == [
        ("create", "test.kind"),
        ("create", "test.line"),
        ("create", "test.everything"),
        ("write", "test.everything"),
        ("unlink", "test.line"),
        ("unlink", "test.everything"),
        ("elevate", None),
        ("deny", "test.kind"),
    ]
    write = json.loads(entries[3]["changes"])
    assert write == {str(rid): {"name": ["r", "renamed"], "count": [None, 3]}}
    assert entries[6]["reason"] == "support checks something"
    assert entries[7]["uid"] == outsider
    assert "rolled back" not in repr(audit(tenant))
    verify(tenant)


def test_secrets_never_reach_the_audit_trail(make_tenant: Any) -> None:
    tenant = new_tenant(make_tenant)
    seen = len(audit(tenant))
    uid = add_user(tenant, "alice", PASSWORD, email="alice.secret@example.com")
    with tenant.system("change the password") as env:
        env["res.users"].write([uid], {"password": "another secret password"})
    text = repr(audit(tenant)[seen:])
    assert PASSWORD not in text
    assert "another secret password" not in text
    assert "argon2" not in text  # not even the hash
    assert "alice.secret@example.com" not in text  # pii is redacted
    assert "[redacted]" in text
    verify(tenant)


def test_denials_are_audited_even_though_the_transaction_rolls_back(make_tenant: Any) -> None:
    tenant = new_tenant(make_tenant)
    outsider = add_user(tenant, "outsider", PASSWORD, groups=())
    before = dump_tables(tenant.engine)
    seen = len(audit(tenant))
    for operation in ("search", "create"):
        with pytest.raises(AccessError), tenant.env(outsider) as env:
            if operation == "search":
                env["test.kind"].search([])
            else:
                env["test.kind"].create({"name": "x"})
    entries = audit(tenant)[seen:]
    assert [(e["action"], e["model"], e["uid"]) for e in entries] == [
        ("deny", "test.kind", outsider),
        ("deny", "test.kind", outsider),
    ]
    after = dump_tables(tenant.engine)
    assert after == before  # dump_tables leaves the audit trail out
    verify(tenant)
