"""Records every tenant starts with: the main company."""

from __future__ import annotations

from bastion.core.environment import Environment
from bastion.core.install import ref, set_xmlid


def load(env: Environment) -> None:
    partner = env["res.partner"].create({"name": "My Company", "is_company": True})
    company = env["res.company"].create({"name": "My Company", "partner_id": partner})
    env["res.partner"].write([partner], {"company_id": company})
    set_xmlid(env, "base.main_company", "res.company", company)
    set_xmlid(env, "base.main_partner", "res.partner", partner)
    # Administrators hold the keys to everything: they must enrol a second factor.
    env["res.groups"].write(
        [ref(env, "base.group_system")], {"mfa_required": True, "key_lifetime_days": 365}
    )
