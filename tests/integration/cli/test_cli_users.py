"""`bastion users`: add, list, passwd, disable; a disabled user can no longer get an env."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bastion.bootstrap.users import find_user
from bastion.errors import AccessError, VerificationError

if TYPE_CHECKING:
    from conftest import Cli


def test_users_add_with_password_file_then_list_shows_the_user(acme: Cli) -> None:
    password = "bob's long password"
    added = acme.ok(
        "users",
        "add",
        "acme",
        "bob",
        "--name",
        "Bob Builder",
        "--group",
        "base.group_user",
        "--password-file",
        acme.secret_file("bob.pw", password),
    )
    assert password not in added.stdout + added.stderr

    listed = acme.ok("users", "list", "acme").stdout
    bob = next(line for line in listed.splitlines() if " bob " in line)
    assert "Bob Builder" in bob and "yes" in bob and "base.group_user" in bob
    assert "base.group_system" not in bob
    acme.assert_password("acme", "bob", password)


def test_users_add_without_password_file_prints_generated_password_once(acme: Cli) -> None:
    result = acme.ok("users", "add", "acme", "gina")
    (password,) = acme.printed_passwords(result)
    assert (result.stdout + result.stderr).count(password) == 1
    acme.assert_password("acme", "gina", password)


def test_users_add_with_weak_password_is_refused(acme: Cli) -> None:
    result = acme(
        "users", "add", "acme", "weak", "--password-file", acme.secret_file("weak.pw", "short")
    )
    acme.assert_one_clean_error(result)
    assert "12" in result.stderr and "short" not in result.stderr


def test_users_passwd_from_file_replaces_the_password(acme: Cli) -> None:
    old, new = "carol's first password", "carol's second password"
    acme.ok("users", "add", "acme", "carol", "--password-file", acme.secret_file("old.pw", old))
    result = acme.ok(
        "users", "passwd", "acme", "carol", "--password-file", acme.secret_file("new.pw", new)
    )
    assert new not in result.stdout + result.stderr
    acme.assert_password("acme", "carol", new)
    with pytest.raises(VerificationError):
        acme.assert_password("acme", "carol", old)


def test_users_passwd_without_file_or_terminal_is_refused(acme: Cli) -> None:
    result = acme("users", "passwd", "acme", "admin", stdin="typed password\ntyped password\n")
    acme.assert_one_clean_error(result)
    assert "not a terminal" in result.stderr


def test_users_passwd_for_unknown_login_is_refused(acme: Cli) -> None:
    result = acme(
        "users",
        "passwd",
        "acme",
        "nobody",
        "--password-file",
        acme.secret_file("x.pw", "a password nobody uses"),
    )
    acme.assert_one_clean_error(result)
    assert "nobody" in result.stderr


def test_disabled_user_cannot_get_an_environment(acme: Cli) -> None:
    acme.ok("users", "add", "acme", "dave")
    tenant = acme.tenant("acme")
    try:
        uid = find_user(tenant, "dave", "test looks up dave")
        with tenant.env(uid) as env:  # allowed while active
            assert env.uid == uid

        acme.ok("users", "disable", "acme", "dave")
        with pytest.raises(AccessError), tenant.env(uid):  # denied once disabled
            pass
        dave = next(
            line
            for line in acme.ok("users", "list", "acme").stdout.splitlines()
            if " dave " in line
        )
        assert " no " in dave
    finally:
        tenant.dispose()
