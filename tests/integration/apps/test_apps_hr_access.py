"""Employees on the demo tenant: a plain employee sees only himself and no private field;
an HR officer sees everyone of his company with their private fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bastion.core.install import ref
from bastion.core.tenant import Tenant
from bastion.errors import AccessError

UidOf = Callable[[Tenant, str], int]
PRIVATE = ("salary", "bank_account", "identification_id", "private_email", "birthday")


def system_search(tenant: Tenant, model: str, domain: list[Any]) -> list[int]:
    with tenant.system("test counts records") as env:
        return sorted(env[model].search(domain))


def company(tenant: Tenant, xmlid: str) -> int:
    with tenant.system("test looks up a company") as env:
        return ref(env, xmlid)


@pytest.mark.parametrize("login", ["employee", "sales", "accountant", "employee2"])
def test_internal_user_reads_only_his_own_employee(
    demo_tenant: Tenant, uid_of: UidOf, login: str
) -> None:
    uid = uid_of(demo_tenant, login)
    own = system_search(demo_tenant, "hr.employee", [("user_id", "=", uid)])
    with demo_tenant.env(uid) as env:
        assert env["hr.employee"].search([]) == own
        row = env["hr.employee"].read(own, None)[0]
        user = env["res.users"].read([uid], ["employee_ids"])[0]
    assert len(own) == 1
    assert row["user_id"][0] == uid and row["job_title"]
    assert not set(PRIVATE) & set(row)
    assert user["employee_ids"] == own


def test_plain_employee_cannot_touch_private_fields_even_his_own(
    demo_tenant: Tenant, uid_of: UidOf
) -> None:
    uid = uid_of(demo_tenant, "employee")
    own = system_search(demo_tenant, "hr.employee", [("user_id", "=", uid)])
    with demo_tenant.env(uid) as env:
        described = env["hr.employee"].fields_get()
    assert "name" in described
    assert not set(PRIVATE) & set(described)
    attempts: list[Callable[[Any], object]] = [
        lambda env: env["hr.employee"].read(own, ["salary"]),
        lambda env: env["hr.employee"].read(own, ["bank_account"]),
        lambda env: env["hr.employee"].search_read([], ["name", "birthday"]),
        lambda env: env["hr.employee"].search([("salary", ">", 0)]),
        lambda env: env["hr.employee"].search([], order="salary desc"),
        lambda env: env["hr.employee"].write(own, {"bank_account": "GB00 MINE"}),
        lambda env: env["hr.employee"].write(own, {"job_title": "Director"}),
    ]
    for attempt in attempts:
        with pytest.raises(AccessError), demo_tenant.env(uid) as env:
            attempt(env)


def test_plain_employee_cannot_read_a_colleague(demo_tenant: Tenant, uid_of: UidOf) -> None:
    uid = uid_of(demo_tenant, "employee")
    colleague = system_search(
        demo_tenant, "hr.employee", [("user_id", "=", uid_of(demo_tenant, "sales"))]
    )
    with pytest.raises(AccessError), demo_tenant.env(uid) as env:
        env["hr.employee"].read(colleague, ["name"])


def test_hr_officer_reads_salaries_of_everyone_in_his_company(
    demo_tenant: Tenant, uid_of: UidOf
) -> None:
    uid = uid_of(demo_tenant, "hr")
    c1 = company(demo_tenant, "base.main_company")
    expected = system_search(demo_tenant, "hr.employee", [("company_id", "=", c1)])
    with demo_tenant.env(uid) as env:
        rows = env["hr.employee"].search_read([], ["name", *PRIVATE])
        described = env["hr.employee"].fields_get()
    assert len(expected) > 10
    assert sorted(r["id"] for r in rows) == expected
    assert all(r["salary"] > 0 and r["bank_account"] for r in rows)
    assert set(PRIVATE) <= set(described)


def test_hr_officer_changes_but_does_not_delete(
    demo_tenant: Tenant, uid_of: UidOf, scratch: Any
) -> None:
    uid = uid_of(demo_tenant, "hr")
    c1, c2 = company(demo_tenant, "base.main_company"), company(demo_tenant, "base.demo_company_2")
    someone = system_search(demo_tenant, "hr.employee", [("company_id", "=", c1)])[0]
    abroad = system_search(demo_tenant, "hr.employee", [("company_id", "=", c2)])[0]
    with scratch(demo_tenant, uid) as env:
        env["hr.employee"].write([someone], {"salary": "4321.00"})
        assert str(env["hr.employee"].read([someone], ["salary"])[0]["salary"]) == "4321.00"
        env["hr.employee"].create({"name": "New Hire", "salary": 3000})
    with pytest.raises(AccessError), demo_tenant.env(uid) as env:
        env["hr.employee"].unlink([someone])
    with pytest.raises(AccessError), demo_tenant.env(uid) as env:
        env["hr.employee"].read([abroad], ["salary"])
