"""Failures end in one `Error:` sentence and a non-zero exit, never a traceback."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from bastion.cli.main import app

if TYPE_CHECKING:
    from conftest import Cli

COMMANDS = [
    [],
    ["init"],
    ["serve"],
    ["users"],
    ["users", "add"],
    ["users", "list"],
    ["users", "passwd"],
    ["users", "disable"],
    ["users", "enable"],
    ["audit"],
    ["audit", "verify"],
    ["shell"],
    ["tenants"],
    ["drop"],
]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["init", "acme"], "already exists"),
        (["init", "Not-A-Name"], "not a valid tenant name"),
        (["init", "beta", "--admin-password-file", "/nonexistent/admin.pw"], "does not exist"),
        (["init", "beta", "-m", "nosuchmodule"], "no module named 'nosuchmodule'"),
        (["init", "beta", "--demo-password-file", "/tmp/x"], "only makes sense with --demo"),
        (["users", "list", "nosuch"], "no tenant named 'nosuch'"),
        (["users", "disable", "acme", "nobody"], "no user with login 'nobody'"),
        (["drop", "acme"], "--yes"),
    ],
)
def test_operator_mistake_is_one_sentence(acme: Cli, args: list[str], says: str) -> None:
    result = acme(*args)
    acme.assert_one_clean_error(result)
    assert result.returncode == 1
    assert says in result.stderr


def test_failed_init_leaves_no_tenant_behind(acme: Cli) -> None:
    acme.assert_one_clean_error(acme("init", "beta", "-m", "nosuchmodule"))
    assert "beta" not in acme.ok("tenants").stdout


def test_unexpected_error_names_only_its_type(cli: Cli) -> None:
    # Nothing listens on port 1: the driver's own exception, which is not a BastionError.
    unreachable = dataclasses.replace(cli, database_url="postgresql://postgres@127.0.0.1:1/")
    result = unreachable("init", "acme", "-m", "base")
    unreachable.assert_one_clean_error(result)
    assert result.returncode == 2
    assert "Unexpected error (OperationalError)" in result.stderr
    assert "127.0.0.1" not in result.stderr


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a) or "bastion")
def test_help_works_for_every_command(args: list[str]) -> None:
    result = CliRunner().invoke(app, [*args, "--help"], prog_name="bastion")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
