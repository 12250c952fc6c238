"""The demo data: the documented logins with their roles, two companies, and enough records."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from bastion.apps.base.demo import DEMO_LOGINS
from bastion.core.install import ref
from bastion.core.module import DemoOptions
from bastion.core.tenant import Tenant
from bastion.crypto.passwords import verify_password
from bastion.errors import ValidationError

#: login -> (company xmlid, groups it must have, groups it must not have)
ROLES = {
    "sales": ("base.main_company", ["sales.group_sale_salesman"], ["sales.group_sale_manager"]),
    "salesmanager": ("base.main_company", ["sales.group_sale_manager"], ["hr.group_hr_user"]),
    "hr": ("base.main_company", ["hr.group_hr_user"], ["sales.group_sale_salesman"]),
    "accountant": (
        "base.main_company",
        ["sales.group_account_readonly"],
        ["sales.group_sale_salesman"],
    ),
    "employee": (
        "base.main_company",
        ["base.group_user"],
        ["sales.group_sale_salesman", "hr.group_hr_user", "base.group_system"],
    ),
    "sales2": ("base.demo_company_2", ["sales.group_sale_salesman"], ["sales.group_sale_manager"]),
    "salesmanager2": ("base.demo_company_2", ["sales.group_sale_manager"], ["hr.group_hr_user"]),
    "hr2": ("base.demo_company_2", ["hr.group_hr_user"], ["sales.group_sale_salesman"]),
    "accountant2": (
        "base.demo_company_2",
        ["sales.group_account_readonly"],
        ["sales.group_sale_salesman"],
    ),
    "employee2": (
        "base.demo_company_2",
        ["base.group_user"],
        ["sales.group_sale_salesman", "hr.group_hr_user", "base.group_system"],
    ),
}


def test_demo_logins_are_documented() -> None:
    assert set(DEMO_LOGINS) == set(ROLES)
    assert "admin" not in DEMO_LOGINS


@pytest.mark.parametrize("login", sorted(ROLES))
def test_each_demo_user_has_its_role_company_password_and_employee(
    demo_tenant: Tenant, uid_of: Callable[[Tenant, str], int], login: str
) -> None:
    xmlid, has, lacks = ROLES[login]
    uid = uid_of(demo_tenant, login)
    with demo_tenant.system("test inspects a demo user") as env:
        company = ref(env, xmlid)
        table = env.registry["res.users"]._table
        stored = env.conn.execute(sa.select(table.c.password).where(table.c.id == uid)).scalar()
        employees = env["hr.employee"].search_read(
            [("user_id", "=", uid)], ["company_id", "salary", "bank_account"]
        )
    verify_password(f"demo password of {login}!", stored)
    with demo_tenant.env(uid) as env:
        assert env.company_ids == (company,)
        assert all(env.has_group(g) for g in has)
        assert not any(env.has_group(g) for g in lacks)
    assert len(employees) == 1
    assert employees[0]["company_id"][0] == company
    assert employees[0]["salary"] > 0 and employees[0]["bank_account"]


def test_demo_companies_and_volumes(demo_tenant: Tenant) -> None:
    with demo_tenant.system("test counts demo records") as env:
        c1, c2 = ref(env, "base.main_company"), ref(env, "base.demo_company_2")
        names = {c["id"]: c["name"] for c in env["res.company"].search_read([], ["name"])}
        partners = env["res.partner"].search_read(
            [("ref", "!=", False)], ["company_id", "parent_id"]
        )
        orders = env["sale.order"].search_read(
            [], ["state", "company_id", "user_id", "amount_total"]
        )
        lines = env["sale.order.line"].search_count([])
        products = env["product.product"].search_count([])
        tagged = env["res.partner"].search_count([("category_id", "!=", False)])
    assert names == {c1: "Bastion Demo Ltd", c2: "Bastion Demo GmbH"}
    assert len(partners) >= 300
    owners = {p["company_id"][0] if p["company_id"] else None for p in partners}
    assert owners == {c1, c2, None}
    assert any(p["parent_id"] for p in partners)
    assert tagged > 20
    assert 35 <= products <= 45
    assert len(orders) == 400
    assert 2000 <= lines <= 3000
    assert {o["state"] for o in orders} == {"draft", "sent", "sale", "cancel"}
    assert {o["company_id"][0] for o in orders} == {c1, c2}
    assert len({o["user_id"][0] for o in orders}) == 4
    assert all(o["amount_total"] > 0 for o in orders)


def test_demo_needs_every_password(make_tenant: Callable[..., Tenant]) -> None:
    missing = {login: "a long enough password" for login in DEMO_LOGINS if login != "hr2"}
    with pytest.raises(ValidationError, match="hr2"):
        make_tenant(modules=("base",), demo=DemoOptions(passwords=missing))
