"""Products that can be sold (Odoo's `product.product`, without variants)."""

from __future__ import annotations

from bastion.core import fields, relational
from bastion.core.model import Model


class Product(Model):
    _name = "product.product"
    _description = "Product"
    _order = "default_code, name, id"

    name = fields.Char("Name", required=True, index=True)
    default_code = fields.Char("Internal reference", index=True)
    barcode = fields.Char(index=True)
    list_price = fields.Monetary("Sales price", default=0)
    type = fields.Selection(
        [("consu", "Goods"), ("service", "Service")], "Product type", required=True, default="consu"
    )
    sale_ok = fields.Boolean("Can be sold", default=True)
    active = fields.Boolean(default=True)
    company_id = relational.Many2one("res.company", "Company")
    description = fields.Text()
    description_sale = fields.Text("Sales description")
