"""Base models: companies, partners, users, groups, and the access data tables."""

from __future__ import annotations

from bastion.core import fields, relational
from bastion.core.model import Model


class Company(Model):
    _name = "res.company"
    _description = "Company"
    _order = "name, id"

    name = fields.Char(required=True)
    partner_id = relational.Many2one("res.partner", "Partner", ondelete="restrict")
    email = fields.Char()
    phone = fields.Char()
    vat = fields.Char("Tax ID")
    currency = fields.Char(size=3, default="EUR")


class Partner(Model):
    _name = "res.partner"
    _description = "Contact"
    _order = "name, id"

    name = fields.Char(required=True, index=True)
    email = fields.Char(pii=True, index=True)
    phone = fields.Char(pii=True)
    street = fields.Char(pii=True)
    city = fields.Char()
    zip = fields.Char()
    country_code = fields.Char("Country", size=2)
    vat = fields.Char("Tax ID")
    ref = fields.Char("Reference", index=True)
    comment = fields.Text("Notes")
    is_company = fields.Boolean(default=False)
    active = fields.Boolean(default=True)
    parent_id = relational.Many2one("res.partner", "Related company", ondelete="cascade")
    child_ids = relational.One2many("res.partner", "parent_id", "Contacts")
    company_id = relational.Many2one("res.company", "Company")


class Groups(Model):
    _name = "res.groups"
    _description = "Access group"
    _order = "name, id"

    name = fields.Char(required=True)
    comment = fields.Text()
    implied_ids = relational.Many2many(
        "res.groups", "res_groups_implied_rel", "gid", "hid", "Implied groups"
    )
    users = relational.Many2many("res.users", "res_groups_users_rel", "gid", "uid", "Users")
    #: Members must sign in with a second factor (and are sent to enrol until they have one).
    mfa_required = fields.Boolean("Require two-factor sign-in", default=False)
    #: The longest lifetime of an API key a member may create; 0 means the default (90 days).
    key_lifetime_days = fields.Integer("Longest API key lifetime (days)", default=0)
    #: Risk policy of members (bastion.auth.riskpolicy): the sign-in risk score (0-100) that asks
    #: for a second factor, and the one that refuses; empty means the default (40 and 90). A
    #: member of several groups with a policy gets the strictest.
    risk_challenge_at = fields.Float("Risk score that asks for a second factor")
    risk_deny_at = fields.Float("Risk score that refuses the sign-in")
    #: Ask members for a second factor (or an e-mail code) at every sign-in, whatever the risk.
    risk_always_mfa = fields.Boolean("Always ask for a second check at sign-in", default=False)


class Users(Model):
    _name = "res.users"
    _description = "User"
    _order = "login, id"

    name = fields.Char(required=True)
    login = fields.Char(required=True, unique=True)
    password = relational.Password()
    email = fields.Char(pii=True)
    active = fields.Boolean(default=True)
    partner_id = relational.Many2one("res.partner", "Related partner", ondelete="restrict")
    company_id = relational.Many2one("res.company", "Company")
    company_ids = relational.Many2many(
        "res.company", "res_company_users_rel", "user_id", "cid", "Companies"
    )
    groups_id = relational.Many2many("res.groups", "res_groups_users_rel", "uid", "gid", "Groups")


class ModelAccess(Model):
    _name = "ir.model.access"
    _description = "Model access"
    _order = "model, id"

    name = fields.Char(required=True)
    model = fields.Char(required=True, index=True)
    group_id = relational.Many2one("res.groups", "Group", ondelete="cascade")
    perm_read = fields.Boolean("Read", default=False)
    perm_write = fields.Boolean("Write", default=False)
    perm_create = fields.Boolean("Create", default=False)
    perm_unlink = fields.Boolean("Delete", default=False)


class Rule(Model):
    _name = "ir.rule"
    _description = "Record rule"
    _order = "model, id"

    name = fields.Char(required=True)
    model = fields.Char(required=True, index=True)
    domain = fields.Json("Domain", required=True)
    groups = relational.Many2many("res.groups", "rule_group_rel", "rule_group_id", "group_id")
    active = fields.Boolean(default=True)
    perm_read = fields.Boolean("Read", default=True)
    perm_write = fields.Boolean("Write", default=True)
    perm_create = fields.Boolean("Create", default=True)
    perm_unlink = fields.Boolean("Delete", default=True)


class ModelData(Model):
    _name = "ir.model.data"
    _description = "External identifier"
    _order = "module, name, id"

    module = fields.Char(required=True, index=True)
    name = fields.Char(required=True, index=True)
    model = fields.Char(required=True)
    res_id = fields.Integer(required=True)


class ModuleRecord(Model):
    _name = "ir.module.module"
    _description = "Installed module"
    _order = "name, id"

    name = fields.Char(required=True, index=True)
    state = fields.Selection([("installed", "Installed")], default="installed")
    summary = fields.Char()
