"""Sales roles on the demo tenant: each role gets its rights, and its neighbour is denied."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bastion.core.install import ref
from bastion.core.tenant import Tenant
from bastion.errors import AccessError

UidOf = Callable[[Tenant, str], int]


def system_search(tenant: Tenant, model: str, domain: list[Any]) -> list[int]:
    with tenant.system("test counts records") as env:
        return sorted(env[model].search(domain))


def company(tenant: Tenant, xmlid: str) -> int:
    with tenant.system("test looks up a company") as env:
        return ref(env, xmlid)


def an_order_of(tenant: Tenant, uid: int) -> int:
    return system_search(tenant, "sale.order", [("user_id", "=", uid)])[0]


def a_customer(tenant: Tenant, xmlid: str) -> int:
    return system_search(
        tenant, "res.partner", [("ref", "!=", False), ("company_id", "=", company(tenant, xmlid))]
    )[0]


# -- salesman -----------------------------------------------------------------------------


def test_salesman_reads_exactly_his_own_orders(demo_tenant: Tenant, uid_of: UidOf) -> None:
    uid = uid_of(demo_tenant, "sales")
    expected = system_search(demo_tenant, "sale.order", [("user_id", "=", uid)])
    with demo_tenant.env(uid) as env:
        seen = sorted(env["sale.order"].search([]))
        count = env["sale.order"].search_count([])
        rows = env["sale.order"].search_read([], ["user_id"])
    assert len(expected) > 50
    assert seen == expected
    assert count == len(expected)
    assert {r["user_id"][0] for r in rows} == {uid}


def test_salesman_reads_only_lines_of_his_orders(demo_tenant: Tenant, uid_of: UidOf) -> None:
    uid = uid_of(demo_tenant, "sales")
    expected = system_search(demo_tenant, "sale.order.line", [("order_id.user_id", "=", uid)])
    with demo_tenant.env(uid) as env:
        assert sorted(env["sale.order.line"].search([])) == expected
    assert expected


def test_salesman_cannot_read_or_change_another_salespersons_order(
    demo_tenant: Tenant, uid_of: UidOf
) -> None:
    uid = uid_of(demo_tenant, "sales")
    other = an_order_of(demo_tenant, uid_of(demo_tenant, "salesmanager"))
    with pytest.raises(AccessError), demo_tenant.env(uid) as env:
        env["sale.order"].read([other], ["name"])
    with pytest.raises(AccessError), demo_tenant.env(uid) as env:
        env["sale.order"].write([other], {"note": "mine now"})
    with pytest.raises(AccessError), demo_tenant.env(uid) as env:
        env["sale.order"].unlink([other])
    line = system_search(demo_tenant, "sale.order.line", [("order_id", "=", other)])[0]
    with pytest.raises(AccessError), demo_tenant.env(uid) as env:
        env["sale.order.line"].read([line], ["name"])
    with pytest.raises(AccessError), demo_tenant.env(uid) as env:
        env["sale.order.line"].create({"order_id": other, "name": "extra", "price_unit": 1})
    with demo_tenant.env(uid) as env:
        assert env["sale.order"].search([("id", "=", other)]) == []


def test_salesman_changes_his_own_order(demo_tenant: Tenant, uid_of: UidOf, scratch: Any) -> None:
    uid = uid_of(demo_tenant, "sales")
    mine = an_order_of(demo_tenant, uid)
    with scratch(demo_tenant, uid) as env:
        env["sale.order"].write([mine], {"note": "Deliver before noon."})
        assert env["sale.order"].read([mine], ["note"])[0]["note"] == "Deliver before noon."


def test_salesman_creates_orders_for_himself_only(
    demo_tenant: Tenant, uid_of: UidOf, scratch: Any
) -> None:
    uid = uid_of(demo_tenant, "sales")
    colleague = uid_of(demo_tenant, "salesmanager")
    customer = a_customer(demo_tenant, "base.main_company")
    with scratch(demo_tenant, uid) as env:
        oid = env["sale.order"].create({"partner_id": customer})
        row = env["sale.order"].read([oid], ["user_id", "name", "company_id", "state"])[0]
    assert row["user_id"][0] == uid
    assert row["name"] == f"S{oid:05d}"
    assert row["company_id"][0] == company(demo_tenant, "base.main_company")
    assert row["state"] == "draft"
    with pytest.raises(AccessError), demo_tenant.env(uid) as env:
        env["sale.order"].create({"partner_id": customer, "user_id": colleague})
    with pytest.raises(AccessError), demo_tenant.env(uid) as env:
        env["sale.order"].create({"partner_id": customer, "user_id": False})


def test_salesman_cannot_reassign_his_order(demo_tenant: Tenant, uid_of: UidOf) -> None:
    uid = uid_of(demo_tenant, "sales")
    mine = an_order_of(demo_tenant, uid)
    for new_owner in (uid_of(demo_tenant, "salesmanager"), False):
        with pytest.raises(AccessError), demo_tenant.env(uid) as env:
            env["sale.order"].write([mine], {"user_id": new_owner})
    assert system_search(demo_tenant, "sale.order", [("id", "=", mine), ("user_id", "=", uid)])


def test_salesman_reads_products_but_does_not_change_them(
    demo_tenant: Tenant, uid_of: UidOf
) -> None:
    uid = uid_of(demo_tenant, "sales")
    with demo_tenant.env(uid) as env:
        products = env["product.product"].search([])
    assert products
    with pytest.raises(AccessError), demo_tenant.env(uid) as env:
        env["product.product"].write([products[0]], {"list_price": 1})
    with pytest.raises(AccessError), demo_tenant.env(uid) as env:
        env["product.product"].create({"name": "Free lunch"})


# -- manager ------------------------------------------------------------------------------


def test_manager_sees_every_order_of_his_company_and_none_of_the_other(
    demo_tenant: Tenant, uid_of: UidOf
) -> None:
    uid = uid_of(demo_tenant, "salesmanager")
    c1, c2 = company(demo_tenant, "base.main_company"), company(demo_tenant, "base.demo_company_2")
    expected = system_search(demo_tenant, "sale.order", [("company_id", "=", c1)])
    foreign = system_search(demo_tenant, "sale.order", [("company_id", "=", c2)])
    with demo_tenant.env(uid) as env:
        seen = sorted(env["sale.order"].search([]))
        owners = {r["user_id"][0] for r in env["sale.order"].search_read([], ["user_id"])}
    assert seen == expected
    assert len(owners) >= 2
    assert foreign and not set(foreign) & set(seen)
    with pytest.raises(AccessError), demo_tenant.env(uid) as env:
        env["sale.order"].read([foreign[0]], ["name"])
    with pytest.raises(AccessError), demo_tenant.env(uid) as env:
        env["sale.order"].write([foreign[0]], {"note": "hello"})


def test_manager_reassigns_and_manages_products(
    demo_tenant: Tenant, uid_of: UidOf, scratch: Any
) -> None:
    uid = uid_of(demo_tenant, "salesmanager")
    order = an_order_of(demo_tenant, uid_of(demo_tenant, "sales"))
    with scratch(demo_tenant, uid) as env:
        env["sale.order"].write([order], {"user_id": uid})
        pid = env["product.product"].create({"name": "Gift card", "list_price": "25.00"})
        env["product.product"].unlink([pid])
    # a salesperson of the other company is not someone he can hand an order to
    foreigner = uid_of(demo_tenant, "sales2")
    with pytest.raises(AccessError), demo_tenant.env(uid) as env:
        env["sale.order"].write([order], {"user_id": foreigner})


# -- accountant ---------------------------------------------------------------------------


def test_accountant_reads_every_order_of_his_company(demo_tenant: Tenant, uid_of: UidOf) -> None:
    uid = uid_of(demo_tenant, "accountant")
    c1 = company(demo_tenant, "base.main_company")
    expected = system_search(demo_tenant, "sale.order", [("company_id", "=", c1)])
    with demo_tenant.env(uid) as env:
        rows = env["sale.order"].search_read([], ["amount_total", "order_line"])
        lines = env["sale.order.line"].search_count([])
    assert sorted(r["id"] for r in rows) == expected
    assert lines == len(system_search(demo_tenant, "sale.order.line", [("company_id", "=", c1)]))


def test_accountant_changes_nothing(demo_tenant: Tenant, uid_of: UidOf) -> None:
    uid = uid_of(demo_tenant, "accountant")
    order = an_order_of(demo_tenant, uid_of(demo_tenant, "sales"))
    line = system_search(demo_tenant, "sale.order.line", [("order_id", "=", order)])[0]
    customer = a_customer(demo_tenant, "base.main_company")
    attempts: list[Callable[[Any], object]] = [
        lambda env: env["sale.order"].write([order], {"note": "audited"}),
        lambda env: env["sale.order"].create({"partner_id": customer, "user_id": uid}),
        lambda env: env["sale.order"].unlink([order]),
        lambda env: env["sale.order.line"].write([line], {"product_uom_qty": 2.0}),
        lambda env: env["sale.order.line"].unlink([line]),
        lambda env: env["product.product"].create({"name": "Ledger"}),
    ]
    for attempt in attempts:
        with pytest.raises(AccessError), demo_tenant.env(uid) as env:
            attempt(env)


# -- everyone else -------------------------------------------------------------------------


def test_plain_employee_has_no_access_to_orders(demo_tenant: Tenant, uid_of: UidOf) -> None:
    uid = uid_of(demo_tenant, "employee")
    with demo_tenant.env(uid) as env:
        assert env["product.product"].search_count([]) > 0
        assert not env["sale.order"].check_access_rights("read", raise_exception=False)
    with pytest.raises(AccessError), demo_tenant.env(uid) as env:
        env["sale.order"].search([])
    with pytest.raises(AccessError), demo_tenant.env(uid) as env:
        env["sale.order.line"].search([])


def test_second_company_salesman_sees_only_his_own(demo_tenant: Tenant, uid_of: UidOf) -> None:
    uid = uid_of(demo_tenant, "sales2")
    expected = system_search(demo_tenant, "sale.order", [("user_id", "=", uid)])
    with demo_tenant.env(uid) as env:
        assert sorted(env["sale.order"].search([])) == expected
        products = env["product.product"].search_read([], ["default_code"])
    assert expected
    codes = {p["default_code"] for p in products}
    assert "GMBH-0001" in codes and "LTD-0001" not in codes
