"""Sales amounts are computed by the server and stay right whatever changes; business rules."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from bastion.bootstrap.users import add_user
from bastion.core.environment import Environment
from bastion.core.tenant import Tenant
from bastion.errors import UserError, ValidationError

D = Decimal
AMOUNTS = ["amount_untaxed", "amount_tax", "amount_total"]


@pytest.fixture
def shop(make_tenant: Callable[..., Tenant]) -> tuple[Tenant, int, int, int]:
    """A sales tenant with one salesman, one customer and one product."""
    tenant = make_tenant(modules=("sales",))
    uid = add_user(tenant, "seller", "a long enough password", groups=["sales.group_sale_salesman"])
    with tenant.system("test makes a customer and a product") as env:
        customer = env["res.partner"].create({"name": "Customer Ltd", "is_company": True})
        product = env["product.product"].create({"name": "Widget", "list_price": "12.50"})
    return tenant, uid, customer, product


def totals(env: Environment, oid: int) -> tuple[Decimal, Decimal, Decimal]:
    row = env["sale.order"].read([oid], AMOUNTS)[0]
    return row["amount_untaxed"], row["amount_tax"], row["amount_total"]


def line_totals(env: Environment, lid: int) -> tuple[Decimal, Decimal, Decimal]:
    row = env["sale.order.line"].read([lid], ["price_subtotal", "price_tax", "price_total"])[0]
    return row["price_subtotal"], row["price_tax"], row["price_total"]


def test_amounts_follow_every_change_of_the_lines(shop: Any) -> None:
    tenant, uid, customer, product = shop
    with tenant.env(uid) as env:
        orders, lines = env["sale.order"], env["sale.order.line"]
        oid = orders.create({"partner_id": customer})
        assert totals(env, oid) == (D("0.00"), D("0.00"), D("0.00"))
        # product price and description are taken from the product when not given
        first = lines.create(
            {"order_id": oid, "product_id": product, "product_uom_qty": 2.0, "tax_percent": 20.0}
        )
        row = lines.read([first], ["name", "price_unit", "company_id"])[0]
        assert (row["name"], row["price_unit"]) == ("Widget", D("12.50"))
        assert row["company_id"] == env["sale.order"].read([oid], ["company_id"])[0]["company_id"]
        assert line_totals(env, first) == (D("25.00"), D("5.00"), D("30.00"))
        assert totals(env, oid) == (D("25.00"), D("5.00"), D("30.00"))
        # 3 x 0.35 at 50% off is 0.525: half-even to 0.52; 10% tax 0.052 to 0.05
        second = lines.create(
            {
                "order_id": oid,
                "name": "Odd",
                "product_uom_qty": 3.0,
                "price_unit": "0.35",
                "discount": 50.0,
                "tax_percent": 10.0,
            }
        )
        assert line_totals(env, second) == (D("0.52"), D("0.05"), D("0.57"))
        assert totals(env, oid) == (D("25.52"), D("5.05"), D("30.57"))
        lines.write([first], {"product_uom_qty": 4.0})
        assert totals(env, oid) == (D("50.52"), D("10.05"), D("60.57"))
        lines.write([first, second], {"tax_percent": 0.0})
        assert totals(env, oid) == (D("50.52"), D("0.00"), D("50.52"))
        lines.write([second], {"discount": 0.0, "price_unit": "0.25"})
        assert line_totals(env, second) == (D("0.75"), D("0.00"), D("0.75"))
        lines.unlink([first])
        assert totals(env, oid) == (D("0.75"), D("0.00"), D("0.75"))
        lines.unlink([second])
        assert totals(env, oid) == (D("0.00"), D("0.00"), D("0.00"))


def test_amounts_follow_order_line_commands(shop: Any) -> None:
    tenant, uid, customer, product = shop
    with tenant.env(uid) as env:
        orders = env["sale.order"]
        oid = orders.create(
            {
                "partner_id": customer,
                "order_line": [
                    (0, 0, {"product_id": product, "product_uom_qty": 1.0, "tax_percent": 19.0}),
                    (
                        0,
                        0,
                        {
                            "name": "Setup",
                            "price_unit": "0.25",
                            "discount": 10.0,
                            "tax_percent": 20.0,
                        },
                    ),
                ],
            }
        )
        # 12.50 + 19% = 2.375 -> 2.38 (half-even at the third decimal 5 with 7 before it)
        # 0.225 -> 0.22 (half-even); 20% of 0.22 = 0.044 -> 0.04
        assert totals(env, oid) == (D("12.72"), D("2.42"), D("15.14"))
        widget, setup = orders.read([oid], ["order_line"])[0]["order_line"]
        orders.write([oid], {"order_line": [(1, widget, {"product_uom_qty": 2.0}), (2, setup)]})
        assert totals(env, oid) == (D("25.00"), D("4.75"), D("29.75"))
        orders.write([oid], {"order_line": [(0, 0, {"name": "Fee", "price_unit": "5"})]})
        assert totals(env, oid) == (D("30.00"), D("4.75"), D("34.75"))


def test_moving_a_line_recomputes_both_orders(shop: Any) -> None:
    tenant, uid, customer, product = shop
    with tenant.env(uid) as env:
        orders, lines = env["sale.order"], env["sale.order.line"]
        a = orders.create({"partner_id": customer})
        b = orders.create({"partner_id": customer})
        lid = lines.create({"order_id": a, "product_id": product})
        lines.write([lid], {"order_id": b})
        assert totals(env, a)[2] == D("0.00")
        assert totals(env, b)[2] == D("12.50")


def test_users_cannot_write_computed_amounts(shop: Any) -> None:
    tenant, uid, customer, product = shop
    with tenant.env(uid) as env:
        oid = env["sale.order"].create({"partner_id": customer})
        lid = env["sale.order.line"].create({"order_id": oid, "product_id": product})
    attempts: list[Callable[[Environment], object]] = [
        lambda env: env["sale.order"].write([oid], {"amount_total": "1.00"}),
        lambda env: env["sale.order"].write([oid], {"amount_untaxed": 0}),
        lambda env: env["sale.order"].create({"partner_id": customer, "amount_tax": 5}),
        lambda env: env["sale.order.line"].write([lid], {"price_subtotal": "0.01"}),
        lambda env: env["sale.order.line"].create(
            {"order_id": oid, "product_id": product, "price_total": 1}
        ),
        lambda env: env["sale.order.line"].write([lid], {"company_id": False}),
        lambda env: env["sale.order.line"].write([lid], {"discount": 150.0}),
    ]
    for attempt in attempts:
        with pytest.raises(ValidationError), tenant.env(uid) as env:
            attempt(env)
    with tenant.env(uid) as env:
        assert totals(env, oid) == (D("12.50"), D("0.00"), D("12.50"))


def test_only_draft_or_cancelled_orders_may_be_deleted(shop: Any) -> None:
    tenant, uid, customer, product = shop
    with tenant.env(uid) as env:
        orders = env["sale.order"]
        line = {"product_id": product}
        draft, confirmed, cancelled, sent = orders.create(
            [{"partner_id": customer, "order_line": [(0, 0, line)]} for _ in range(4)]
        )
        orders.action_confirm([confirmed])  # type: ignore[attr-defined]
        orders.action_cancel([cancelled])  # type: ignore[attr-defined]
        orders.write([sent], {"state": "sent"})
        line_ids = env["sale.order.line"].search([("order_id", "in", [draft, cancelled])])
    for oid in (confirmed, sent):
        with pytest.raises(UserError), tenant.env(uid) as env:
            env["sale.order"].unlink([oid])
    with pytest.raises(UserError), tenant.env(uid) as env:
        env["sale.order"].action_draft([draft])  # type: ignore[attr-defined]
    with tenant.env(uid) as env:
        env["sale.order"].unlink([draft, cancelled])
        assert sorted(env["sale.order"].search([])) == sorted([confirmed, sent])
        assert env["sale.order.line"].search([("id", "in", line_ids)]) == []
        env["sale.order"].action_cancel([confirmed])  # type: ignore[attr-defined]
        env["sale.order"].unlink([confirmed])


def test_orders_are_numbered_from_their_id(shop: Any) -> None:
    tenant, uid, customer, _ = shop
    with tenant.env(uid) as env:
        first, second = env["sale.order"].create([{"partner_id": customer}] * 2)
        named = env["sale.order"].create({"partner_id": customer, "name": "WEB-42"})
        rows = env["sale.order"].read([first, second, named], ["name"])
    assert [r["name"] for r in rows] == [f"S{first:05d}", f"S{second:05d}", "WEB-42"]


def test_lines_follow_the_company_of_their_order(shop: Any) -> None:
    tenant, uid, customer, product = shop
    with tenant.env(uid) as env:
        oid = env["sale.order"].create(
            {"partner_id": customer, "order_line": [(0, 0, {"product_id": product})]}
        )
    with tenant.system("test moves an order to another company") as env:
        other = env["res.company"].create({"name": "Other Co"})
        env["sale.order"].write([oid], {"company_id": other})
        lines = env["sale.order.line"].search_read([("order_id", "=", oid)], ["company_id"])
    assert [line["company_id"][0] for line in lines] == [other]


def test_concurrent_lines_on_one_order_are_all_counted(shop: Any) -> None:
    """Two transactions adding lines to one order at once: neither total is lost."""
    tenant, uid, customer, _ = shop
    with tenant.env(uid) as env:
        oid = env["sale.order"].create({"partner_id": customer})
    first_done = threading.Event()
    errors: list[BaseException] = []

    def slow_writer() -> None:
        try:
            with tenant.env(uid) as env:
                env["sale.order.line"].create({"order_id": oid, "name": "A", "price_unit": "1"})
                first_done.set()
                time.sleep(0.5)  # hold the transaction open while the other one runs
        except BaseException as exc:
            errors.append(exc)
            first_done.set()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    first_done.wait(10)
    with tenant.env(uid) as env:
        env["sale.order.line"].create({"order_id": oid, "name": "B", "price_unit": "10"})
    thread.join(10)
    assert not errors
    with tenant.env(uid) as env:
        assert totals(env, oid) == (D("11.00"), D("0.00"), D("11.00"))
