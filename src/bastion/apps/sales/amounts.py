"""Server-computed amounts of sales order lines and orders (exact decimals, half-even cents)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from bastion.core import orm_write
from bastion.core.idlist import id_in
from bastion.core.orm_read import chunks
from bastion.errors import ValidationError

if TYPE_CHECKING:
    from bastion.core.environment import Environment

CENT = Decimal("0.01")
ZERO = Decimal(0)
HUNDRED = Decimal(100)
#: line fields whose change changes the line's amounts
LINE_INPUTS = ("product_uom_qty", "price_unit", "discount", "tax_percent")
LINE_AMOUNTS = ("price_subtotal", "price_tax", "price_total")
ORDER_AMOUNTS = ("amount_untaxed", "amount_tax", "amount_total")


def _decimal(value: Any) -> Decimal:
    if value is None:
        return ZERO
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def line_amounts(qty: Any, price_unit: Any, discount: Any, tax_percent: Any) -> dict[str, Decimal]:
    """Subtotal, tax and total of one line, each rounded half-even to the cent."""
    try:
        factor = 1 - _decimal(discount) / HUNDRED
        subtotal = (_decimal(qty) * _decimal(price_unit) * factor).quantize(CENT, ROUND_HALF_EVEN)
        tax = (subtotal * _decimal(tax_percent) / HUNDRED).quantize(CENT, ROUND_HALF_EVEN)
    except InvalidOperation:
        raise ValidationError("The amounts of this sales order line are too large.") from None
    return {"price_subtotal": subtotal, "price_tax": tax, "price_total": subtotal + tax}


def orders_of(env: Environment, line_ids: Iterable[int]) -> set[int]:
    """The orders the given lines belong to (read without access checks: for recomputing)."""
    table = env.registry["sale.order.line"]._table
    out: set[int] = set()
    for part in chunks(sorted(set(line_ids))):
        query = sa.select(table.c.order_id).where(id_in(env.conn, table.c.id, part))
        out.update(i for i in env.conn.execute(query).scalars() if i is not None)
    return out


def recompute_lines(env: Environment, line_ids: Iterable[int]) -> None:
    """Recompute the stored amounts of lines whose inputs changed."""
    lines = env["sale.order.line"]
    table = lines._table
    groups: dict[tuple[Decimal, ...], list[int]] = {}
    for part in chunks(sorted(set(line_ids))):
        cols = [table.c[n] for n in ("id", *LINE_INPUTS, *LINE_AMOUNTS)]
        for row in env.conn.execute(sa.select(*cols).where(id_in(env.conn, table.c.id, part))):
            amounts = line_amounts(*row[1:5])
            new = tuple(amounts[n] for n in LINE_AMOUNTS)
            if new != tuple(row[5:8]):
                groups.setdefault(new, []).append(row[0])
    for values, ids in groups.items():
        orm_write.write(lines, ids, dict(zip(LINE_AMOUNTS, values, strict=True)), internal=True)


def recompute_orders(env: Environment, order_ids: Iterable[int]) -> None:
    """Set each order's untaxed, tax and total amounts to the sums over its lines."""
    orders = env["sale.order"]
    otable = orders._table
    ltable = env.registry["sale.order.line"]._table
    current: dict[int, tuple[Any, ...]] = {}
    sums: dict[int, list[Decimal]] = {}
    for part in chunks(sorted(set(order_ids))):
        cols = [otable.c[n] for n in ("id", *ORDER_AMOUNTS)]
        # lock the orders first (PostgreSQL): a concurrent transaction adding lines to the
        # same order waits, then sums the lines this one committed; no total is lost
        query = sa.select(*cols).where(id_in(env.conn, otable.c.id, part))
        for row in env.conn.execute(query.order_by(otable.c.id).with_for_update()):
            current[row[0]] = tuple(row[1:])
            sums[row[0]] = [ZERO, ZERO]
        query = sa.select(ltable.c.order_id, ltable.c.price_subtotal, ltable.c.price_tax).where(
            id_in(env.conn, ltable.c.order_id, part)
        )
        for order_id, subtotal, tax in env.conn.execute(query):
            if order_id in sums:
                sums[order_id][0] += subtotal or ZERO
                sums[order_id][1] += tax or ZERO
    for order_id, (untaxed, tax) in sums.items():
        new = (untaxed, tax, untaxed + tax)
        if new != current[order_id]:
            vals = dict(zip(ORDER_AMOUNTS, new, strict=True))
            orm_write.write(orders, [order_id], vals, internal=True)
