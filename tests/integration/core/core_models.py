"""Test-only modules for the core integration tests, and the world of users they run in.

`RULES_MODULE` ("coretest") declares `test.item` and `test.tag` with access rows and record
rules of every kind (global, per group, per mode, with `Ref` values); `TYPES_MODULE`
("coretypes") declares a model with one field of every type, plus relations with each
`ondelete` policy. `build_world` makes a tenant with both and five users in two companies.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, settings

from bastion.bootstrap.users import add_user
from bastion.core import fields, relational
from bastion.core.environment import Environment
from bastion.core.install import ref, set_xmlid
from bastion.core.model import Model
from bastion.core.module import Access, GroupDef, Module, Ref, Rule
from bastion.core.tenant import Tenant, Transaction

USER = "base.group_user"
EDITOR = "coretest.group_editor"
MANAGER = "coretest.group_manager"
STATES = (("draft", "Draft"), ("open", "Open"), ("done", "Done"), ("locked", "Locked"))
PASSWORD = "correct horse battery staple"


class Tag(Model):
    _name = "test.tag"
    _description = "Test tag"
    _order = "name, id"

    name = fields.Char()
    color = fields.Integer()
    company_id = relational.Many2one("res.company", "Company")


class Item(Model):
    _name = "test.item"
    _description = "Test item"
    _order = "qty desc, id"

    name = fields.Char()
    code = fields.Char()
    qty = fields.Integer()
    price = fields.Float()
    amount = fields.Monetary()
    flag = fields.Boolean()
    day = fields.Date()
    state = fields.Selection(STATES)
    active = fields.Boolean(default=True)
    tag_ids = relational.Many2many("test.tag", string="Tags")
    owner_id = relational.Many2one("res.users", "Owner")
    company_id = relational.Many2one("res.company", "Company")
    parent_id = relational.Many2one("test.item", "Parent")
    child_ids = relational.One2many("test.item", "parent_id", "Children")
    secret = fields.Char(groups=MANAGER)


def _load_rules_data(env: Environment) -> None:
    partner = env["res.partner"].create({"name": "Second Company", "is_company": True})
    company = env["res.company"].create({"name": "Second Company", "partner_id": partner})
    env["res.partner"].write([partner], {"company_id": company})
    set_xmlid(env, "coretest.company_2", "res.company", company)


RULES_MODULE = Module(
    name="coretest",
    depends=("base",),
    models=(Tag, Item),
    data=_load_rules_data,
    groups=(
        GroupDef(EDITOR, "Test editor", implied=(USER,)),
        GroupDef(MANAGER, "Test manager", implied=(EDITOR,)),
    ),
    access=(
        Access("test.item", USER, read=True),
        Access("test.item", EDITOR, read=True, write=True, create=True),
        Access("test.item", MANAGER, read=True, write=True, create=True, unlink=True),
        Access("test.tag", None, read=True),
        Access("test.tag", MANAGER, read=True, write=True, create=True, unlink=True),
    ),
    rules=(
        Rule(
            "coretest.item_user_read",
            "test.item",
            ["|", ("owner_id", "=", Ref("user.id")), ("owner_id", "=", False)],
            groups=(USER,),
            write=False,
            create=False,
            unlink=False,
        ),
        Rule(
            "coretest.item_editor_read",
            "test.item",
            ["|", ("owner_id", "=", Ref("user.id")), ("qty", ">=", 0)],
            groups=(EDITOR,),
            write=False,
            create=False,
            unlink=False,
        ),
        Rule(
            "coretest.item_editor_own",
            "test.item",
            [("owner_id", "=", Ref("user.id"))],
            groups=(EDITOR,),
            read=False,
        ),
        Rule("coretest.item_manager_all", "test.item", [(1, "=", 1)], groups=(MANAGER,)),
        Rule(
            "coretest.item_not_locked",
            "test.item",
            [("state", "!=", "locked")],
            read=False,
            create=False,
        ),
        Rule(
            "coretest.tag_user_read",
            "test.tag",
            ["|", ("color", "=", False), ("color", "<", 5)],
            groups=(USER,),
            write=False,
            create=False,
            unlink=False,
        ),
        Rule(
            "coretest.tag_manager_read",
            "test.tag",
            [(1, "=", 1)],
            groups=(MANAGER,),
            write=False,
            create=False,
            unlink=False,
        ),
    ),
)


# -- every field type ------------------------------------------------------------------------


class Kind(Model):
    _name = "test.kind"
    _description = "Test kind"

    name = fields.Char(required=True)


class Everything(Model):
    _name = "test.everything"
    _description = "One field of every type"

    name = fields.Char(required=True)
    short = fields.Char(size=5)
    text = fields.Text()
    count = fields.Integer()
    ratio = fields.Float()
    amount = fields.Monetary()
    rate = fields.Monetary(digits=4)
    done = fields.Boolean()
    day = fields.Date()
    moment = fields.Datetime()
    state = fields.Selection([("a", "A"), ("b", "B")])
    data = fields.Json()
    blob = relational.Binary()
    fixed = fields.Char(readonly=True)
    kind_id = relational.Many2one("test.kind", "Kind (set null)")
    kept_id = relational.Many2one("test.kind", "Kind (restrict)", ondelete="restrict")
    line_ids = relational.One2many("test.line", "owner_id", "Lines")
    kind_ids = relational.Many2many("test.kind", string="Kinds")


class Line(Model):
    _name = "test.line"
    _description = "Test line (cascade)"

    name = fields.Char()
    owner_id = relational.Many2one("test.everything", "Owner", ondelete="cascade", required=True)


TYPES_MODULE = Module(
    name="coretypes",
    depends=("base",),
    models=(Kind, Everything, Line),
    access=(
        Access("test.kind", USER, read=True, write=True, create=True, unlink=True),
        Access("test.everything", USER, read=True, write=True, create=True, unlink=True),
        Access("test.line", USER, read=True, write=True, create=True, unlink=True),
    ),
)


# -- the world --------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """A tenant with the test modules, two companies and one user of each kind."""

    backend: str
    tenant: Tenant
    users: dict[str, int]
    companies: dict[str, int]
    user_companies: dict[str, tuple[int, ...]]

    def uid(self, name: str) -> int:
        return self.users[name]


#: login -> (groups, home company, companies)
USERS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = {
    "plain": ((USER,), "c1", ("c1",)),
    "plain2": ((USER,), "c2", ("c2",)),
    "editor": ((EDITOR,), "c1", ("c1", "c2")),
    "manager": ((MANAGER,), "c2", ("c1", "c2")),
    "nobody": ((), "c1", ("c1",)),
}
COMPANY_XMLIDS = {"c1": "base.main_company", "c2": "coretest.company_2"}


def build_world(make_tenant: Callable[..., Tenant], backend: str) -> World:
    tenant = make_tenant(
        modules=("base", "coretest", "coretypes"), extra=(RULES_MODULE, TYPES_MODULE)
    )
    with tenant.system("test world: companies") as env:
        companies = {key: ref(env, xmlid) for key, xmlid in COMPANY_XMLIDS.items()}
    users: dict[str, int] = {}
    user_companies: dict[str, tuple[int, ...]] = {}
    for login, (groups, home, member_of) in USERS.items():
        uid = add_user(
            tenant,
            login,
            PASSWORD,
            name=login.title(),
            groups=groups,
            company=COMPANY_XMLIDS[home],
        )
        users[login] = uid
        user_companies[login] = tuple(sorted(companies[c] for c in member_of))
    with tenant.system("test world: multi-company users") as env:
        for login, cids in user_companies.items():
            env["res.users"].write([users[login]], {"company_ids": [(6, 0, list(cids))]})
    return World(backend, tenant, users, companies, user_companies)


def hypothesis_settings(examples: int) -> Callable[[Any], Any]:
    """Settings for the property tests that run against a database.

    No shrinking unless HYPOTHESIS_SHRINK=1: each example costs a transaction, so shrinking a
    failure takes minutes; the failing search or operation is already in the assertion message,
    and the targeted tests (test_core_search.py) pin known bugs down to a line or two.
    """
    phases = (
        list(Phase)
        if os.environ.get("HYPOTHESIS_SHRINK") == "1"
        else [Phase.explicit, Phase.reuse, Phase.generate]
    )
    return settings(
        max_examples=examples,
        deadline=None,
        phases=phases,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
        database=None,
    )


class _Rollback(Exception):
    pass


@contextlib.contextmanager
def scratch(tenant: Tenant) -> Iterator[Transaction]:
    """A transaction that is always rolled back (denials are still audited, after it)."""
    with contextlib.suppress(_Rollback), tenant.transaction() as tx:
        yield tx
        raise _Rollback


AUDIT_TABLES = frozenset({"audit_log", "audit_head"})


def dump_tables(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the audit trail's, in a new connection, sorted."""
    with engine.connect() as conn:
        out: dict[str, list[tuple[Any, ...]]] = {}
        for name in sorted(sa.inspect(conn).get_table_names()):
            if name in AUDIT_TABLES:
                continue
            rows = conn.execute(sa.text(f'SELECT * FROM "{name}"')).all()
            out[name] = sorted((tuple(r) for r in rows), key=repr)
        return out


def audit_rows(engine: sa.Engine) -> list[tuple[Any, ...]]:
    """(seq, action, model, uid, reason) of every audit entry, oldest first."""
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.text("SELECT seq, action, model, uid, reason FROM audit_log ORDER BY seq")
            )
        ]


@dataclass(frozen=True)
class Populated:
    """A world with committed records: items of every owner and company, tags of every
    colour and company. Tests must leave it as it is (roll back)."""

    world: World
    items: tuple[int, ...]
    tags: tuple[int, ...]
    owners: dict[int, int | None]

    def owned_by(self, login: str) -> list[int]:
        uid = self.world.uid(login)
        return [i for i in self.items if self.owners[i] == uid]


def populate(world: World) -> Populated:
    c1, c2 = world.companies["c1"], world.companies["c2"]
    owners = [world.uid(u) for u in ("plain", "plain2", "editor", "manager")] + [None]
    tags: list[int] = []
    items: list[int] = []
    item_owners: dict[int, int | None] = {}
    with world.tenant.system("test records for access tests") as env:
        for color in (1, 7, None):
            for company in (c1, c2, None):
                vals = {"name": f"tag {len(tags)}", "color": color, "company_id": company}
                tags.append(env["test.tag"].create(vals))
        k = 0
        for owner in owners:
            for company in (c1, c2, None):
                vals = {
                    "name": f"item {k}",
                    "owner_id": owner,
                    "company_id": company,
                    "qty": [1, -1, None, 0][k % 4],
                    "state": "locked" if k % 5 == 3 else "draft",
                    "secret": f"secret {k}",
                    "tag_ids": [(6, 0, [tags[k % len(tags)], tags[(k * 4) % len(tags)]])],
                    "active": k % 7 != 6,
                }
                if k % 3 == 2:
                    vals["parent_id"] = items[k - 2]
                items.append(env["test.item"].create(vals))
                item_owners[items[-1]] = owner
                k += 1
    return Populated(world, tuple(items), tuple(tags), item_owners)


def add_partner_rule(tenant: Any, name: str, domain: list[Any]) -> None:
    """A read rule on `res.partner` for every internal user (base.group_user), committed."""
    with tenant.system("test adds a rule") as env:
        env["ir.rule"].create(
            {
                "name": name,
                "model": "res.partner",
                "domain": domain,
                "groups": [(6, 0, [ref(env, "base.group_user")])],
            }
        )
