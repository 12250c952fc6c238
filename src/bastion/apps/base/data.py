"""Records every tenant starts with: the main company."""

from __future__ import annotations

from bastion.core.environment import Environment
from bastion.core.install import set_xmlid


def load(env: Environment) -> None:
    partner = env["res.partner"].create({"name": "My Company", "is_company": True})
    company = env["res.company"].create({"name": "My Company", "partner_id": partner})
    env["res.partner"].write([partner], {"company_id": company})
    set_xmlid(env, "base.main_company", "res.company", company)
    set_xmlid(env, "base.main_partner", "res.partner", partner)
