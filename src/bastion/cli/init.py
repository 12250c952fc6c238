"""`bastion init`: create a tenant, install its modules (and demo data), add its administrator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bastion.bootstrap.tenants import (
    DEFAULT_MODULES,
    MANIFEST,
    create_tenant,
    drop_tenant,
    tenant_dir,
)
from bastion.bootstrap.users import add_user, all_group_xmlids, check_password
from bastion.cli import output
from bastion.cli.common import base_url, settings
from bastion.cli.demo import credentials_path, demo_logins, write_credentials
from bastion.cli.passwords import password_for, read_password_file
from bastion.core.database import check_tenant_name
from bastion.core.module import DemoOptions
from bastion.core.registry import resolve_modules
from bastion.errors import ValidationError

FROM_FILE = "(from the password file)"


def init(
    name: Annotated[str, typer.Argument(help="Tenant name: lowercase letters, digits, _.")],
    *,
    demo: Annotated[bool, typer.Option("--demo", help="Add demo records and demo users.")] = False,
    admin_login: Annotated[str, typer.Option(help="Login of the administrator.")] = "admin",
    admin_password_file: Annotated[
        Path | None,
        typer.Option(help="File whose first line is the admin password ('-': stdin)."),
    ] = None,
    demo_password_file: Annotated[
        Path | None, typer.Option(help="File whose first line is every demo user's password.")
    ] = None,
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Do nothing if the tenant already exists.")
    ] = False,
    modules: Annotated[
        list[str] | None,
        typer.Option("--module", "-m", help="Module to install (repeatable).", show_default=False),
    ] = None,
) -> None:
    """Create a tenant with its administrator; generated passwords are printed once."""
    config = settings()
    check_tenant_name(name)
    if if_missing and (tenant_dir(config, name) / MANIFEST).exists():
        _report_existing(name, credentials_path(config, name))
        return
    if demo_password_file is not None and not demo:
        raise ValidationError("--demo-password-file only makes sense with --demo.")
    admin_password, admin_generated = password_for(admin_login, admin_password_file)
    logins = demo_logins() if demo else ()
    if admin_login in logins:
        raise ValidationError(f"'{admin_login}' is a demo login: choose another admin login.")
    demo_passwords = _demo_passwords(logins, demo_password_file)

    # Resolve the modules before anything is created: a typo must not leave a database behind.
    resolve_modules(modules or DEFAULT_MODULES)
    options = DemoOptions(passwords={k: v[0] for k, v in demo_passwords.items()}) if demo else None
    with output.out.status(f"Creating tenant {name}..."):
        tenant = create_tenant(config, name, modules=modules or DEFAULT_MODULES, demo=options)
        try:
            groups = all_group_xmlids(tenant)
            add_user(
                tenant,
                admin_login,
                admin_password,
                name="Administrator",
                groups=groups,
                reason="bastion init adds the administrator",
            )
        except BaseException:
            tenant.dispose()
            drop_tenant(config, name)  # no half-made tenant without an administrator
            raise
        tenant.dispose()

    url = base_url(config)
    shown = [(admin_login, admin_password if admin_generated else FROM_FILE)]
    shown += [
        (login, pw if generated else FROM_FILE) for login, (pw, generated) in demo_passwords.items()
    ]
    output.say(("Created", "bold green"), f" tenant '{name}' ({config.data_dir}).")
    if demo:
        path = write_credentials(config, name, url, shown)
        output.say(f"Demo credentials saved (owner-only) in {path}.")
        if not logins:
            output.warn("This version has no demo users yet: only the administrator can sign in.")
    _show_admin(name, url, admin_login, admin_password if admin_generated else None, demo)
    if any(generated for _, generated in demo_passwords.values()):
        output.table(
            "Demo users",
            ("Login", "Password"),
            [(login, pw) for login, (pw, _) in demo_passwords.items()],
        )
    elif logins:
        source = "standard input" if str(demo_password_file) == "-" else demo_password_file
        output.say(f"Demo logins: {', '.join(logins)} (password from {source}).")


def _demo_passwords(logins: tuple[str, ...], path: Path | None) -> dict[str, tuple[str, bool]]:
    """(password, generated) per demo login: one from `path` for all, or one generated each."""
    if path is None:
        return {login: password_for(login, None) for login in logins}
    password = read_password_file(path)  # read once: `-` (stdin) has only one line for it
    for login in logins:
        check_password(password, login)
    return {login: (password, False) for login in logins}


def _show_admin(name: str, url: str, login: str, password: str | None, demo: bool) -> None:
    rows = [("Tenant", name), ("URL", url), ("Login", login)]
    if password is None:
        output.secret_panel("Administrator", rows, "The password is the one in the password file.")
        return
    rows.append(("Password", password))
    note = (
        "Also in the demo credentials file above."
        if demo
        else "This password is shown once: store it in a password manager."
    )
    output.secret_panel("Administrator", rows, note)


def _report_existing(name: str, credentials: Path) -> None:
    if credentials.exists():
        output.say(f"Tenant '{name}' already exists; its demo credentials are in {credentials}.")
    else:
        output.say(f"Tenant '{name}' already exists; nothing to do.")
