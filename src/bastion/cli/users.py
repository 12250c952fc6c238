"""`bastion users`: add, list, set passwords of, disable and enable a tenant's users."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from bastion.bootstrap.auth import auth_for, revoke_sessions
from bastion.bootstrap.users import add_user, find_user, list_users, set_active, set_password
from bastion.cli import output
from bastion.cli.common import base_url, opened, settings
from bastion.cli.passwords import password_for, prompt_password, read_password_file
from bastion.core.tenant import Tenant

app = typer.Typer(help="Manage a tenant's users.", no_args_is_help=True)

TenantArg = Annotated[str, typer.Argument(help="Tenant name.")]
LoginArg = Annotated[str, typer.Argument(help="The user's login.")]
PasswordFile = Annotated[
    Path | None, typer.Option(help="File whose first line is the password ('-': stdin).")
]


@app.command("add")
def add(
    name: TenantArg,
    login: LoginArg,
    full_name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    groups: Annotated[
        list[str] | None,
        typer.Option("--group", "-g", help="Group xmlid (repeatable).", show_default=False),
    ] = None,
    password_file: PasswordFile = None,
) -> None:
    """Add a user (group base.group_user unless --group is given)."""
    config = settings()
    password, generated = password_for(login, password_file)
    with opened(config, name) as tenant:
        add_user(
            tenant,
            login,
            password,
            name=full_name,
            groups=groups or ("base.group_user",),
        )
    output.say(("Added", "bold green"), f" user '{login}' to tenant '{name}'.")
    if generated:
        output.secret_panel(
            "New user",
            [("Tenant", name), ("URL", base_url(config)), ("Login", login), ("Password", password)],
            "This password is shown once: hand it over safely.",
        )


@app.command("list")
def list_(name: TenantArg) -> None:
    """List the users of a tenant, disabled ones included."""
    with opened(settings(), name) as tenant:
        users = list_users(tenant)
        names = _group_xmlids(tenant)
    rows = [
        (
            user["login"],
            user["name"],
            "yes" if user["active"] else "no",
            _display(user["company_id"]),
            ", ".join(sorted(names.get(gid, str(gid)) for gid in user["groups_id"] or ())),
        )
        for user in users
    ]
    output.table(f"Users of {name}", ("Login", "Name", "Active", "Company", "Groups"), rows)


@app.command("passwd")
def passwd(name: TenantArg, login: LoginArg, password_file: PasswordFile = None) -> None:
    """Set a user's password: from --password-file, or asked twice on the terminal."""
    password = (
        read_password_file(password_file) if password_file is not None else prompt_password(login)
    )
    config = settings()
    with opened(config, name) as tenant:
        set_password(tenant, login, password)
        uid = find_user(tenant, login, "operator looks up a user")
        ended = revoke_sessions(config, tenant, uid, f"password set by operator for uid {uid}")
    output.say(
        ("Changed", "bold green"),
        f" the password of '{login}' in tenant '{name}'; {ended} session(s) signed out.",
    )


@app.command("disable")
def disable(name: TenantArg, login: LoginArg) -> None:
    """Disable a user: it can no longer act (its records stay)."""
    config = settings()
    with opened(config, name) as tenant:
        set_active(tenant, login, False)
        uid = find_user(tenant, login, "operator looks up a user")
        ended = revoke_sessions(config, tenant, uid, f"user {uid} disabled by operator")
    output.say(
        ("Disabled", "bold yellow"),
        f" user '{login}' in tenant '{name}'; {ended} session(s) signed out.",
    )


@app.command("enable")
def enable(name: TenantArg, login: LoginArg) -> None:
    """Enable a disabled user again."""
    with opened(settings(), name) as tenant:
        set_active(tenant, login, True)
    output.say(("Enabled", "bold green"), f" user '{login}' in tenant '{name}'.")


@app.command("sessions")
def sessions(name: TenantArg, login: LoginArg) -> None:
    """List a user's live sessions (device, address, browser, last activity)."""
    config = settings()
    with opened(config, name) as tenant:
        uid = find_user(tenant, login, "operator lists a user's sessions")
        auth = auth_for(config, tenant)
        found = auth.sessions.list_for_user(uid, tenant.clock.now())
    rows = [
        (s.sid[:12], _when(s.created), _when(s.last_seen), s.ip, s.user_agent[:60]) for s in found
    ]
    output.table(
        f"Sessions of {login} in {name}", ("Id", "Started", "Last seen", "Address", "Browser"), rows
    )


@app.command("signout")
def signout(name: TenantArg, login: LoginArg) -> None:
    """End every session of a user, on every device."""
    config = settings()
    with opened(config, name) as tenant:
        uid = find_user(tenant, login, "operator signs a user out")
        ended = revoke_sessions(config, tenant, uid, f"operator signed out uid {uid}")
    output.say(("Signed out", "bold yellow"), f" {ended} session(s) of '{login}' in '{name}'.")


@app.command("reset-mfa")
def reset_mfa(name: TenantArg, login: LoginArg) -> None:
    """Remove a user's second factors (lost phone): they enrol again at next sign-in."""
    config = settings()
    with opened(config, name) as tenant:
        uid = find_user(tenant, login, "operator resets a user's second factors")
        auth = auth_for(config, tenant)
        auth.mfa.remove_all(uid)
        auth.devices.forget_trust(uid, None)
        ended = revoke_sessions(config, tenant, uid, f"second factors of uid {uid} reset")
    output.say(
        ("Reset", "bold yellow"),
        f" the second factors of '{login}' in '{name}'; {ended} session(s) signed out.",
    )


def _when(epoch: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _group_xmlids(tenant: Tenant) -> dict[int, str]:
    with tenant.system("operator lists users") as env:
        rows = env["ir.model.data"].search_read(
            [("model", "=", "res.groups")], ["module", "name", "res_id"]
        )
    return {int(r["res_id"]): f"{r['module']}.{r['name']}" for r in rows}


def _display(value: Any) -> str:
    """A many2one as read: (id, name), or False/None when empty."""
    if isinstance(value, list | tuple) and len(value) == 2:
        return str(value[1])
    return "" if not value else str(value)
