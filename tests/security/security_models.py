"""A small module for the security suites: `test.note`, readable by every user (an access row
without a group), written by internal users; its relations point at models that users
without groups cannot read. Plus helpers to snapshot the whole database."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from bastion.core import fields, relational
from bastion.core.model import Model
from bastion.core.module import Access, Module
from bastion.core.tenant import Tenant, Transaction

USER = "base.group_user"


class Note(Model):
    _name = "test.note"
    _description = "Test note"
    _order = "name, id"

    name = fields.Char()
    body = fields.Text()
    data = fields.Json()
    n = fields.Integer()
    kind = fields.Selection([("a", "A"), ("b", "B")])
    amount = fields.Monetary()
    partner_id = relational.Many2one("res.partner", "Partner")
    user_id = relational.Many2one("res.users", "User")


SECURITY_MODULE = Module(
    name="sectest",
    depends=("base",),
    models=(Note,),
    access=(
        Access("test.note", None, read=True),
        Access("test.note", USER, read=True, write=True, create=True, unlink=True),
    ),
)


@dataclass(frozen=True)
class Site:
    """A tenant with the module, an internal user and a user without any group."""

    backend: str
    tenant: Tenant
    users: dict[str, int]
    notes: dict[str, int]


class _Rollback(Exception):
    pass


@contextlib.contextmanager
def scratch(tenant: Tenant) -> Iterator[Transaction]:
    """A transaction that is always rolled back."""
    with contextlib.suppress(_Rollback), tenant.transaction() as tx:
        yield tx
        raise _Rollback


def dump_tables(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table (the audit trail's included) with every row, sorted, from a new connection."""
    with engine.connect() as conn:
        out: dict[str, list[tuple[Any, ...]]] = {}
        for name in sorted(sa.inspect(conn).get_table_names()):
            rows = conn.execute(sa.text(f'SELECT * FROM "{name}"')).all()
            out[name] = sorted((tuple(r) for r in rows), key=repr)
        return out


def without_denials(tables: dict[str, list[tuple[Any, ...]]]) -> dict[str, Any]:
    """The dump with the audit trail's 'deny' entries (and the head they move) left out."""
    out = dict(tables)
    out["audit_log"] = [r for r in tables.get("audit_log", []) if "deny" not in r]
    out.pop("audit_head", None)
    return out
