"""Sales order lines: their amounts are computed by the server, and so are their orders'."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from bastion.apps.sales import amounts
from bastion.core import fields, relational
from bastion.core.environment import Environment
from bastion.core.model import Model
from bastion.core.orm_read import check_ids
from bastion.errors import ValidationError


class SaleOrderLine(Model):
    _name = "sale.order.line"
    _description = "Sales order line"
    _order = "order_id, sequence, id"

    order_id = relational.Many2one(
        "sale.order", "Order reference", required=True, ondelete="cascade"
    )
    sequence = fields.Integer(default=10)
    product_id = relational.Many2one("product.product", "Product", ondelete="restrict")
    name = fields.Text("Description", required=True)
    product_uom_qty = fields.Float("Quantity", default=1.0)
    price_unit = fields.Monetary("Unit price")
    discount = fields.Float("Discount (%)", default=0.0)
    tax_percent = fields.Float("Tax (%)", default=0.0)
    price_subtotal = fields.Monetary("Subtotal", readonly=True)
    price_tax = fields.Monetary("Total tax", readonly=True)
    price_total = fields.Monetary("Total", readonly=True)
    company_id = relational.Many2one("res.company", "Company", readonly=True)

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        #: order companies and product names and prices, looked up once per operation
        self._lookups: dict[tuple[str, int], Any] = {}

    # -- hooks ------------------------------------------------------------------------------

    def _prepare_create(self, vals: dict[str, Any]) -> dict[str, Any]:
        _check_percentages(vals)
        order_id = vals.get("order_id")
        vals["company_id"] = self._order_company(order_id) if order_id is not None else None
        product_id = vals.get("product_id")
        if product_id is not None and (not vals.get("name") or vals.get("price_unit") is None):
            name, price = self._product(product_id)
            if not vals.get("name"):
                vals["name"] = name
            if vals.get("price_unit") is None:
                vals["price_unit"] = price
        computed = amounts.line_amounts(*(vals.get(n) for n in amounts.LINE_INPUTS))
        for name, value in computed.items():
            vals[name] = self._fields[name].to_db(value)
        return vals

    def _prepare_write(self, vals: dict[str, Any]) -> dict[str, Any]:
        _check_percentages(vals)
        if vals.get("order_id") is not None:
            vals["company_id"] = self._order_company(vals["order_id"])
        return vals

    def _after_change(self, ids: Sequence[int], fields: frozenset[str], action: str) -> None:
        self._lookups.clear()
        if action == "create":
            amounts.recompute_orders(self.env, amounts.orders_of(self.env, ids))
        elif action == "write":
            if fields & set(amounts.LINE_INPUTS):
                amounts.recompute_lines(self.env, ids)
            if fields & {*amounts.LINE_INPUTS, "order_id"}:
                amounts.recompute_orders(self.env, amounts.orders_of(self.env, ids))

    # -- public methods ---------------------------------------------------------------------

    def write(self, ids: Sequence[int] | int, vals: Mapping[str, Any]) -> bool:
        moved: set[int] = set()
        if isinstance(vals, Mapping) and "order_id" in vals:
            moved = amounts.orders_of(self.env, check_ids(ids))
        super().write(ids, vals)
        if moved:
            amounts.recompute_orders(self.env, moved)
        return True

    def unlink(self, ids: Sequence[int] | int) -> bool:
        orders = amounts.orders_of(self.env, check_ids(ids))
        super().unlink(ids)
        amounts.recompute_orders(self.env, orders)
        return True

    # -- lookups (unchecked: the targets are checked for readability before the insert) ----

    def _order_company(self, order_id: int) -> int | None:
        key = ("sale.order", order_id)
        memo = self._lookups
        if key not in memo:
            table = self.env.registry["sale.order"]._table
            query = sa.select(table.c.company_id).where(table.c.id == order_id)
            memo[key] = self.env.conn.execute(query).scalar()
        company: int | None = memo[key]
        return company

    def _product(self, product_id: int) -> tuple[str | None, Decimal | None]:
        key = ("product.product", product_id)
        memo = self._lookups
        if key not in memo:
            table = self.env.registry["product.product"]._table
            query = sa.select(table.c.name, table.c.list_price).where(table.c.id == product_id)
            row = self.env.conn.execute(query).first()
            memo[key] = (row[0], row[1]) if row is not None else (None, None)
        found: tuple[str | None, Decimal | None] = memo[key]
        return found


def _check_percentages(vals: Mapping[str, Any]) -> None:
    for name in ("discount", "tax_percent"):
        value = vals.get(name)
        if value is not None and not 0 <= value <= 100:
            raise ValidationError(f"Field '{name}' of 'sale.order.line' must be between 0 and 100.")
