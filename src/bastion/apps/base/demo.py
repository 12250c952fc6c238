"""Demo data of the base module: two companies and one internal user per demo role.

The users start as plain internal users; the modules that define the roles (sales, hr) give
them their groups in their own demo loaders. The administrator is not a demo user: the
operator's tool creates it.
"""

from __future__ import annotations

from typing import Any

from bastion.core.environment import Environment
from bastion.core.install import ref, set_xmlid
from bastion.core.module import DemoOptions
from bastion.errors import ValidationError

MAIN_COMPANY = "base.main_company"
COMPANY_2 = "base.demo_company_2"

#: (login, name, company xmlid) of every demo user, company 1 first.
DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    ("sales", "Sarah Seller", MAIN_COMPANY),
    ("salesmanager", "Marcus Manning", MAIN_COMPANY),
    ("hr", "Helen Ross", MAIN_COMPANY),
    ("accountant", "Adam Counter", MAIN_COMPANY),
    ("employee", "Eve Miller", MAIN_COMPANY),
    ("sales2", "Stefan Verkauf", COMPANY_2),
    ("salesmanager2", "Monika Leiter", COMPANY_2),
    ("hr2", "Heike Personal", COMPANY_2),
    ("accountant2", "Anton Buchhalter", COMPANY_2),
    ("employee2", "Emil Schmidt", COMPANY_2),
)

#: Logins of the demo users, for tools that generate their passwords.
DEMO_LOGINS: tuple[str, ...] = tuple(login for login, _, _ in DEMO_USERS)

_COMPANIES: dict[str, dict[str, Any]] = {
    MAIN_COMPANY: {
        "name": "Bastion Demo Ltd",
        "email": "info@demo-ltd.example.com",
        "phone": "+44 20 7946 0000",
        "vat": "GB000000000",
        "currency": "GBP",
        "city": "London",
        "country_code": "GB",
    },
    COMPANY_2: {
        "name": "Bastion Demo GmbH",
        "email": "info@demo-gmbh.example.com",
        "phone": "+49 30 0000000",
        "vat": "DE000000000",
        "currency": "EUR",
        "city": "Berlin",
        "country_code": "DE",
    },
}


def demo_user_id(env: Environment, login: str) -> int:
    """The id of a demo user (they are made by this module's demo loader)."""
    found = env.with_context(active_test=False)["res.users"].search(
        [("login", "=", login)], limit=1
    )
    if not found:
        raise ValidationError(f"The demo user '{login}' does not exist.")
    return found[0]


def _companies(env: Environment) -> dict[str, int]:
    out: dict[str, int] = {}
    for xmlid, info in _COMPANIES.items():
        company_vals = {k: info[k] for k in ("name", "email", "phone", "vat", "currency")}
        partner_vals = {
            "name": info["name"],
            "email": info["email"],
            "phone": info["phone"],
            "vat": info["vat"],
            "city": info["city"],
            "country_code": info["country_code"],
            "is_company": True,
        }
        if xmlid == MAIN_COMPANY:
            company = ref(env, xmlid)
            partner = env["res.company"].read([company], ["partner_id"])[0]["partner_id"][0]
            env["res.partner"].write([partner], partner_vals)
            env["res.company"].write([company], company_vals)
        else:
            partner = env["res.partner"].create(partner_vals)
            company = env["res.company"].create({**company_vals, "partner_id": partner})
            env["res.partner"].write([partner], {"company_id": company})
            set_xmlid(env, xmlid, "res.company", company)
            set_xmlid(env, "base.demo_company_2_partner", "res.partner", partner)
        out[xmlid] = company
    return out


def _password(options: DemoOptions, login: str) -> str:
    password = options.passwords.get(login)
    if not isinstance(password, str) or not password:
        raise ValidationError(
            f"Demo data needs a password for the demo user '{login}': "
            "give one in DemoOptions.passwords."
        )
    return password


def load(env: Environment, options: DemoOptions) -> None:
    passwords = {login: _password(options, login) for login in DEMO_LOGINS}
    companies = _companies(env)
    group_user = ref(env, "base.group_user")
    partners = env["res.partner"].create(
        [
            {
                "name": name,
                "email": f"{login}@{_COMPANIES[company]['email'].split('@')[1]}",
                "company_id": companies[company],
            }
            for login, name, company in DEMO_USERS
        ]
    )
    env["res.users"].create(
        [
            {
                "name": name,
                "login": login,
                "password": passwords[login],
                "email": f"{login}@{_COMPANIES[company]['email'].split('@')[1]}",
                "partner_id": partner,
                "company_id": companies[company],
                "company_ids": [(6, 0, [companies[company]])],
                "groups_id": [(6, 0, [group_user])],
            }
            for (login, name, company), partner in zip(DEMO_USERS, partners, strict=True)
        ]
    )
