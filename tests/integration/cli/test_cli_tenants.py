"""`bastion tenants`, `bastion drop` and `bastion shell`, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import os
import uuid
from typing import TYPE_CHECKING

from bastion.bootstrap.tenants import drop_tenant, list_tenants
from bastion.bootstrap.users import find_user

if TYPE_CHECKING:
    from conftest import Cli

PG_SERVER = os.environ.get("BASTION_TEST_CLI_PG_URL", "postgresql://postgres@127.0.0.1:5432/")


def test_tenants_lists_backend_and_modules(acme: Cli) -> None:
    line = next(line for line in acme.ok("tenants").stdout.splitlines() if " acme " in line)
    assert "sqlite" in line and "base" in line


def test_init_verify_and_drop_on_each_backend(backend: str, cli: Cli) -> None:
    url = PG_SERVER if backend == "postgresql" else None
    cli = dataclasses.replace(cli, database_url=url)
    name = f"bastion_cli_{uuid.uuid4().hex[:10]}"
    try:
        cli.ok(
            "init",
            name,
            "-m",
            "base",
            "--admin-password-file",
            cli.secret_file("admin.pw", cli.admin_password),
        )
        assert backend in cli.ok("tenants").stdout
        assert "OK" in cli.ok("audit", "verify", name).stdout

        cli.assert_one_clean_error(cli("drop", name))  # refused without --yes
        assert list_tenants(cli.settings)
        cli.ok("drop", name, "--yes")
        assert list_tenants(cli.settings) == []
    finally:
        if list_tenants(cli.settings):
            drop_tenant(cli.settings, name)


def test_shell_commits_when_left_normally(acme: Cli) -> None:
    script = 'env["res.partner"].create({"name": "Made in the shell"})\n'
    result = acme.ok("shell", "acme", stdin=script)
    assert "audited" in result.stderr  # the banner
    assert _partner_count(acme, "Made in the shell") == 1


def test_shell_rolls_back_when_left_with_an_error_status(acme: Cli) -> None:
    script = 'env["res.partner"].create({"name": "Never kept"})\nexit(3)\n'
    result = acme("shell", "acme", stdin=script)
    assert result.returncode == 1
    assert "rolled back" in result.stderr
    assert _partner_count(acme, "Never kept") == 0


def _partner_count(cli: Cli, name: str) -> int:
    tenant = cli.tenant("acme")
    try:
        admin = find_user(tenant, "admin", "test counts partners")
        with tenant.env(admin) as env:
            return len(env["res.partner"].search([("name", "=", name)]))
    finally:
        tenant.dispose()
