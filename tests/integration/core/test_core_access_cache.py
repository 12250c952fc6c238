"""Access data kept between transactions (`bastion.core.access_cache`): kept while the access
stamp stands, and every change to what it is built from, by the ORM or by raw SQL, from this
process or another, takes effect in the next transaction (both backends)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from core_models import PASSWORD, add_partner_rule

from bastion.bootstrap.tenants import open_tenant
from bastion.bootstrap.users import add_user
from bastion.core.access_cache import (
    STAMP_TABLE,
    read_stamp,
    stamp_installed,
    stamped_tables,
)
from bastion.core.install import ref
from bastion.core.tenant import Tenant
from bastion.errors import AccessError
from bastion.settings import Settings


def can_read_rules(tenant: Tenant, uid: int) -> bool:
    """ir.rule is for administrators only: a plain user may not read it."""
    try:
        with tenant.env(uid, readonly=True) as env:
            env["ir.rule"].search([], limit=1)
    except AccessError:
        return False
    return True


def system_group(tenant: Tenant) -> int:
    with tenant.system("test looks up a group") as env:
        return ref(env, "base.group_system")


def raw(tenant: Tenant, sql: str, **params: Any) -> None:
    """Raw SQL in a transaction of its own, past the ORM (as a migration or another tool)."""
    with tenant.engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def stamp(tenant: Tenant) -> str:
    with tenant.engine.connect() as conn:
        return read_stamp(conn)


def test_a_new_tenant_has_the_stamp_and_every_trigger(tenant: Tenant) -> None:
    with tenant.engine.connect() as conn:
        assert stamp_installed(conn, tenant.registry)
    assert tenant.access_cache.stamp() == stamp(tenant)


def test_access_data_and_users_are_kept_while_nothing_changes(tenant: Tenant, alice: int) -> None:
    with tenant.transaction(readonly=True) as tx:
        first, user = tx.access_data(), tx.env(alice).user
    with tenant.transaction(readonly=True) as tx:
        assert tx.access_data() is first
        assert tx.env(alice).user is user
    raw(tenant, "UPDATE res_users SET name = 'Alice B' WHERE id = :uid", uid=alice)
    with tenant.transaction(readonly=True) as tx:  # the twin: any change, a fresh load
        assert tx.access_data() is not first
        assert tx.env(alice).user is not user


def test_a_group_given_by_another_process_counts_in_the_next_transaction(
    tenant: Tenant, settings: Settings, alice: int
) -> None:
    assert not can_read_rules(tenant, alice)
    other = open_tenant(settings, tenant.name)  # another worker, with its own kept data
    try:
        assert not can_read_rules(other, alice)
        gid = system_group(other)
        with other.system("test grants a group") as env:
            env["res.users"].write([alice], {"groups_id": [(4, gid)]})
        assert can_read_rules(tenant, alice)
        assert can_read_rules(other, alice)
    finally:
        other.dispose()


def test_access_rows_changed_by_raw_sql_count_in_the_next_transaction(
    tenant: Tenant, alice: int
) -> None:
    assert not can_read_rules(tenant, alice)
    with tenant.system("test looks up a group") as env:
        user_group = ref(env, "base.group_user")
    raw(
        tenant,
        "INSERT INTO ir_model_access (name, model, group_id, perm_read, perm_write, perm_create,"
        " perm_unlink) VALUES ('rules for users', 'ir.rule', :gid, :yes, :no, :no, :no)",
        gid=user_group,
        yes=True,
        no=False,
    )
    assert can_read_rules(tenant, alice)
    raw(tenant, "DELETE FROM ir_model_access WHERE name = 'rules for users'")
    assert not can_read_rules(tenant, alice)


def test_a_user_disabled_by_raw_sql_cannot_act_in_the_next_transaction(
    tenant: Tenant, alice: int
) -> None:
    bob = add_user(tenant, "bob", PASSWORD)
    with tenant.env(alice) as env:
        env["res.partner"].search([], limit=1)
    raw(tenant, "UPDATE res_users SET active = :no WHERE id = :uid", no=False, uid=alice)
    with pytest.raises(AccessError), tenant.env(alice):
        pass
    with tenant.env(bob) as env:  # the twin: another user is unaffected
        env["res.partner"].search([], limit=1)


def test_a_transaction_sees_its_own_changes_and_a_rollback_leaves_nothing_kept(
    tenant: Tenant, alice: int
) -> None:
    gid = system_group(tenant)
    before = stamp(tenant)

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), tenant.transaction() as tx:
        assert gid not in tx.env(alice).user.group_ids  # loaded, and kept, before the change
        tx.conn.execute(
            sa.text("INSERT INTO res_groups_users_rel (gid, uid) VALUES (:gid, :uid)"),
            {"gid": gid, "uid": alice},
        )
        env = tx.env(alice)
        assert gid in env.user.group_ids  # uncommitted, but this transaction's own
        env["ir.rule"].search([], limit=1)
        raise Rollback
    assert stamp(tenant) == before
    assert not can_read_rules(tenant, alice)


def test_every_write_to_a_stamped_table_replaces_the_stamp(tenant: Tenant, alice: int) -> None:
    # Every stamped table gets a row: a rule with a group fills the rule-group relation.
    add_partner_rule(tenant, "test rule", [["id", "!=", 0]])
    tables = stamped_tables(tenant.registry)
    assert STAMP_TABLE not in tables and "res_users" in tables
    for table in tables:
        column = next(iter(sa.inspect(tenant.engine).get_columns(table)))["name"]
        with tenant.engine.connect() as conn:
            conn.begin()
            before = read_stamp(conn)
            done = conn.execute(sa.text(f'UPDATE "{table}" SET "{column}" = "{column}"'))
            assert done.rowcount > 0, table
            assert read_stamp(conn) != before, table
            conn.rollback()
    gid = system_group(tenant)
    for sql in (
        "INSERT INTO res_groups_users_rel (gid, uid) VALUES (:gid, :uid)",
        "DELETE FROM res_groups_users_rel WHERE gid = :gid AND uid = :uid",
    ):
        before = stamp(tenant)
        raw(tenant, sql, gid=gid, uid=alice)
        assert stamp(tenant) != before, sql


def test_writes_elsewhere_leave_the_stamp_alone(tenant: Tenant, alice: int) -> None:
    before = stamp(tenant)
    with tenant.env(alice) as env:
        env["res.partner"].create({"name": "Someone"})
    assert stamp(tenant) == before


def test_a_tenant_without_the_stamp_gets_it_when_first_opened(
    tenant: Tenant, settings: Settings, alice: int
) -> None:
    backend = tenant.engine.dialect.name
    with tenant.engine.begin() as conn:
        for table in stamped_tables(tenant.registry):
            if backend == "postgresql":
                conn.exec_driver_sql(f'DROP TRIGGER "ir_access_stamp_{table}" ON "{table}"')
            else:
                for verb in ("insert", "update", "delete"):
                    conn.exec_driver_sql(f'DROP TRIGGER "ir_access_stamp_{table}_{verb}"')
        conn.exec_driver_sql(f"DROP TABLE {STAMP_TABLE}")
        assert not stamp_installed(conn, tenant.registry)
    older = open_tenant(settings, tenant.name)
    try:
        assert not can_read_rules(older, alice)
        with older.engine.connect() as conn:
            assert stamp_installed(conn, older.registry)
        assert older.access_cache.enabled
        gid = system_group(older)
        raw(older, "INSERT INTO res_groups_users_rel (gid, uid) VALUES (:g, :u)", g=gid, u=alice)
        assert can_read_rules(older, alice)
    finally:
        older.dispose()


def test_each_user_gets_their_own_rules_from_what_is_kept(tenant: Tenant, alice: int) -> None:
    bob = add_user(tenant, "bob", PASSWORD)
    add_partner_rule(tenant, "own partners", [["create_uid", "=", {"ref": "user.id"}]])
    made = {}
    for uid, name in ((alice, "Alice's"), (bob, "Bob's")):
        with tenant.env(uid) as env:
            made[uid] = env["res.partner"].create({"name": name})
    for _ in range(2):  # the second round from kept rules
        for uid, other in ((alice, bob), (bob, alice)):
            with tenant.env(uid, readonly=True) as env:
                found = env["res.partner"].search([("name", "like", "'s")])
            assert made[uid] in found and made[other] not in found
