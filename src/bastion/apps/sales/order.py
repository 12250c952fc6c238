"""Sales orders: numbered after insert, amounts summed from their lines by the server."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from bastion.core import fields, orm_write, relational
from bastion.core.environment import Environment
from bastion.core.idlist import id_in
from bastion.core.model import Model
from bastion.core.orm_read import check_ids, chunks
from bastion.errors import UserError

NEW = "New"
STATES = (
    ("draft", "Quotation"),
    ("sent", "Quotation sent"),
    ("sale", "Sales order"),
    ("cancel", "Cancelled"),
)
DELETABLE = frozenset({"draft", "cancel"})


def _acting_user(env: Environment) -> int | None:
    return env.uid


def _now(env: Environment) -> Any:
    return env.now()


class SaleOrder(Model):
    _name = "sale.order"
    _description = "Sales order"
    _order = "date_order desc, id desc"
    _rpc = frozenset({"action_confirm", "action_cancel", "action_draft"})

    name = fields.Char("Order reference", required=True, index=True, default=NEW)
    partner_id = relational.Many2one("res.partner", "Customer", required=True, ondelete="restrict")
    user_id = relational.Many2one("res.users", "Salesperson", default=_acting_user)
    company_id = relational.Many2one("res.company", "Company", required=True)
    client_order_ref = fields.Char("Customer reference")
    date_order = fields.Datetime("Order date", required=True, index=True, default=_now)
    validity_date = fields.Date("Expiration")
    state = fields.Selection(STATES, "Status", required=True, index=True, default="draft")
    order_line = relational.One2many("sale.order.line", "order_id", "Order lines")
    note = fields.Text("Terms and conditions")
    amount_untaxed = fields.Monetary("Untaxed amount", readonly=True, default=0)
    amount_tax = fields.Monetary("Taxes", readonly=True, default=0)
    amount_total = fields.Monetary("Total", readonly=True, default=0)

    # -- hooks ------------------------------------------------------------------------------

    def _after_change(self, ids: Sequence[int], fields: frozenset[str], action: str) -> None:
        if action == "create":
            self._number(ids)
        elif action == "write" and "company_id" in fields:
            self._company_to_lines(ids)
        elif action == "unlink":
            self._check_deletable(ids)

    def _number(self, ids: Sequence[int]) -> None:
        """Orders created without a reference get one from their id: S00001, S00002, ..."""
        table = self._table
        for part in chunks(list(ids)):
            query = sa.select(table.c.id).where(
                id_in(self.env.conn, table.c.id, part), table.c.name == NEW
            )
            for oid in self.env.conn.execute(query).scalars():
                orm_write.write(self, [oid], {"name": f"S{oid:05d}"}, internal=True)

    def _company_to_lines(self, ids: Sequence[int]) -> None:
        table = self._table
        lines = self.env["sale.order.line"]
        ltable = lines._table
        for part in chunks(list(ids)):
            query = sa.select(table.c.id, table.c.company_id).where(
                id_in(self.env.conn, table.c.id, part)
            )
            for oid, company in self.env.conn.execute(query):
                stale = sa.select(ltable.c.id).where(
                    ltable.c.order_id == oid,
                    sa.or_(ltable.c.company_id.is_(None), ltable.c.company_id != company),
                )
                line_ids = list(self.env.conn.execute(stale).scalars())
                if line_ids:
                    orm_write.write(lines, line_ids, {"company_id": company}, internal=True)

    def _check_deletable(self, ids: Sequence[int]) -> None:
        table = self._table
        for part in chunks(list(ids)):
            query = sa.select(sa.func.count()).where(
                id_in(self.env.conn, table.c.id, part), table.c.state.not_in(DELETABLE)
            )
            if self.env.conn.execute(query).scalar_one():
                raise UserError(
                    "You cannot delete a sent quotation or a confirmed sales order: "
                    "cancel it first."
                )

    # -- actions (callable remotely; they go through the user's access checks) ---------------

    def _move(self, ids: Sequence[int] | int, allowed: frozenset[str], state: str) -> bool:
        wanted = check_ids(ids)
        for row in self.read(wanted, ["state"]):
            if row["state"] not in allowed:
                raise UserError(
                    f"Sales order {row['id']} is in state '{row['state']}' and cannot become "
                    f"'{state}'."
                )
        self.write(wanted, {"state": state})
        return True

    def action_confirm(self, ids: Sequence[int] | int) -> bool:
        """Turn quotations into confirmed sales orders."""
        return self._move(ids, frozenset({"draft", "sent"}), "sale")

    def action_cancel(self, ids: Sequence[int] | int) -> bool:
        return self._move(ids, frozenset({"draft", "sent", "sale"}), "cancel")

    def action_draft(self, ids: Sequence[int] | int) -> bool:
        """Set cancelled or sent orders back to quotation."""
        return self._move(ids, frozenset({"sent", "cancel"}), "draft")
