"""Operator-level user management: the admin account and the `bastion users` commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bastion.core.install import ref
from bastion.core.tenant import Tenant
from bastion.errors import ValidationError

MIN_PASSWORD, MAX_PASSWORD = 12, 256


def check_password(password: str, login: str) -> None:
    """The part of the password policy the operator's commands apply."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValidationError(
            f"A password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long."
        )
    if password.strip().lower() == login.strip().lower():
        raise ValidationError("A password must not be the same as the login.")


def add_user(
    tenant: Tenant,
    login: str,
    password: str,
    *,
    name: str | None = None,
    groups: Sequence[str] = ("base.group_user",),
    company: str = "base.main_company",
    email: str | None = None,
    reason: str = "operator adds a user",
) -> int:
    check_password(password, login)
    with tenant.system(reason) as env:
        if env["res.users"].search([("login", "=", login)], limit=1):
            raise ValidationError(f"A user with login '{login}' already exists.")
        company_id = ref(env, company)
        partner = env["res.partner"].create(
            {"name": name or login, "email": email, "company_id": company_id}
        )
        vals: dict[str, Any] = {
            "name": name or login,
            "login": login,
            "password": password,
            "email": email,
            "partner_id": partner,
            "company_id": company_id,
            "company_ids": [(6, 0, [company_id])],
            "groups_id": [(6, 0, [ref(env, g) for g in groups])],
        }
        return env["res.users"].create(vals)


def all_group_xmlids(tenant: Tenant) -> list[str]:
    with tenant.system("list groups for the administrator") as env:
        rows = env["ir.model.data"].search_read([("model", "=", "res.groups")], ["module", "name"])
    return [f"{r['module']}.{r['name']}" for r in rows]


def find_user(tenant: Tenant, login: str, reason: str) -> int:
    with tenant.system(reason) as env:
        ids = env.with_context(active_test=False)["res.users"].search(
            [("login", "=", login)], limit=1
        )
    if not ids:
        raise ValidationError(f"There is no user with login '{login}'.")
    return ids[0]


def set_password(tenant: Tenant, login: str, password: str) -> None:
    check_password(password, login)
    uid = find_user(tenant, login, "operator looks up a user")
    with tenant.system("operator sets a password") as env:
        env["res.users"].write([uid], {"password": password})


def set_active(tenant: Tenant, login: str, active: bool) -> None:
    uid = find_user(tenant, login, "operator looks up a user")
    with tenant.system(
        "operator disables a user" if not active else "operator enables a user"
    ) as env:
        env["res.users"].write([uid], {"active": active})


def list_users(tenant: Tenant) -> list[dict[str, Any]]:
    with tenant.system("operator lists users") as env:
        users = env.with_context(active_test=False)["res.users"]
        return users.search_read([], ["login", "name", "active", "company_id", "groups_id"])
