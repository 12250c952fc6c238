"""`bastion audit verify`: exit 0 on an intact trail, exit 1 naming the entry once tampered."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Cli


def test_audit_verify_passes_on_an_intact_trail(acme: Cli) -> None:
    result = acme.ok("audit", "verify", "acme")
    assert "OK" in result.stdout and "entries" in result.stdout


def test_audit_verify_names_the_entry_edited_behind_its_back(cli: Cli) -> None:
    cli.ok("init", "acme", "-m", "base")
    path = cli.data_dir / "tenants" / "acme" / "db.sqlite3"
    conn = sqlite3.connect(path)
    with conn:  # what someone with the file does: drop the guard, then rewrite history
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 2")
    conn.close()

    result = cli("audit", "verify", "acme")
    assert result.returncode == 1
    cli.assert_one_clean_error(result)
    assert "Entry 2 was edited: its content no longer matches its hash." in result.stderr
