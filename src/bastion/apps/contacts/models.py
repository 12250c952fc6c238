"""Contact tags (`res.partner.category`) and the contact fields Odoo's Contacts app adds."""

from __future__ import annotations

from bastion.core import fields, relational
from bastion.core.model import Model

CATEGORY_REL = "res_partner_res_partner_category_rel"


class PartnerCategory(Model):
    _name = "res.partner.category"
    _description = "Partner tag"
    _order = "name, id"

    name = fields.Char("Tag name", required=True, index=True)
    color = fields.Integer("Color index", default=0)
    active = fields.Boolean(default=True)
    parent_id = relational.Many2one("res.partner.category", "Parent tag", ondelete="cascade")
    child_ids = relational.One2many("res.partner.category", "parent_id", "Child tags")
    partner_ids = relational.Many2many(
        "res.partner", CATEGORY_REL, "category_id", "partner_id", "Partners"
    )


class Partner(Model):
    _inherit = "res.partner"

    category_id = relational.Many2many(
        "res.partner.category", CATEGORY_REL, "partner_id", "category_id", "Tags"
    )
    function = fields.Char("Job position")
    mobile = fields.Char(pii=True)
    website = fields.Char("Website link")
