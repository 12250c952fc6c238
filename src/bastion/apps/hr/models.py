"""Employees (Odoo's `hr.employee`), with private fields only HR officers may see."""

from __future__ import annotations

from bastion.core import fields, relational
from bastion.core.model import Model

OFFICER = "hr.group_hr_user"


class Employee(Model):
    _name = "hr.employee"
    _description = "Employee"
    _order = "name, id"

    name = fields.Char("Employee name", required=True, index=True)
    active = fields.Boolean(default=True)
    user_id = relational.Many2one("res.users", "User")
    company_id = relational.Many2one("res.company", "Company", required=True)
    job_title = fields.Char("Job title")
    department = fields.Char("Department", index=True)
    work_email = fields.Char("Work email", pii=True)
    work_phone = fields.Char("Work phone", pii=True)
    mobile_phone = fields.Char("Work mobile", pii=True)
    parent_id = relational.Many2one("hr.employee", "Manager")
    child_ids = relational.One2many("hr.employee", "parent_id", "Direct subordinates")
    # private information: HR officers only
    salary = fields.Monetary("Monthly salary", groups=OFFICER)
    bank_account = fields.Char("Bank account number", groups=OFFICER, pii=True)
    identification_id = fields.Char("Identification number", groups=OFFICER, pii=True)
    private_email = fields.Char("Private email", groups=OFFICER, pii=True)
    private_phone = fields.Char("Private phone", groups=OFFICER, pii=True)
    birthday = fields.Date("Date of birth", groups=OFFICER, pii=True)


class Users(Model):
    _inherit = "res.users"

    employee_ids = relational.One2many("hr.employee", "user_id", "Related employees")
