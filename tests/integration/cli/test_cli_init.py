"""`bastion init`: a tenant with its administrator; passwords from files are never printed,
generated ones are printed exactly once; demo tenants get an owner-only credentials file."""

from __future__ import annotations

import stat
from typing import TYPE_CHECKING

import pytest

from bastion.bootstrap.tenants import DEFAULT_MODULES, read_info
from bastion.errors import BastionError

if TYPE_CHECKING:
    from conftest import Cli


def test_init_with_password_file_creates_tenant_and_prints_no_password(cli: Cli) -> None:
    password_file = cli.secret_file("admin.pw", cli.admin_password)
    result = cli.ok("init", "acme", "-m", "base", "--admin-password-file", password_file)

    assert cli.admin_password not in result.stdout + result.stderr
    assert cli.printed_passwords(result) == []
    assert read_info(cli.settings, "acme").modules == ("base",)
    cli.assert_password("acme", "admin", cli.admin_password)
    # Not a demo: no credentials file is left lying around.
    assert not (cli.data_dir / "tenants" / "acme" / "demo-credentials.txt").exists()


def test_init_without_password_file_prints_generated_password_once(cli: Cli) -> None:
    result = cli.ok("init", "acme", "-m", "base", "--admin-login", "root")

    (password,) = cli.printed_passwords(result)
    assert len(password) >= 20
    assert (result.stdout + result.stderr).count(password) == 1
    assert "http://localhost:8069" in result.stdout
    cli.assert_password("acme", "root", password)


def _skip_unless_default_modules_load() -> None:
    from bastion.core.registry import resolve_modules

    try:
        resolve_modules(DEFAULT_MODULES)
    except (BastionError, ImportError) as exc:  # modules still being written by others
        pytest.skip(f"the default modules do not load yet: {exc}")


def test_init_demo_writes_owner_only_credentials_and_if_missing_reports_them(cli: Cli) -> None:
    _skip_unless_default_modules_load()
    result = cli.ok("init", "demo", "--demo")

    path = cli.data_dir / "tenants" / "demo" / "demo-credentials.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text("utf-8")
    assert "DEMO" in text
    rows = dict(line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
    rows.pop("login")
    admin_password = rows.pop("admin")
    assert cli.printed_passwords(result) == [admin_password]
    cli.assert_password("demo", "admin", admin_password)
    for login, password in list(rows.items())[:2]:  # hashing is slow on purpose: sample two
        cli.assert_password("demo", login, password)
        assert result.stdout.count(password) == 1  # in the table, once

    again = cli.ok("init", "demo", "--demo", "--if-missing")
    assert str(path) in again.stdout
    assert admin_password not in again.stdout
