"""Run the real `bastion` console script in a subprocess against a temporary data directory.

Tests get everything through the `cli` and `acme` fixtures; they import `Cli` from conftest only
under TYPE_CHECKING, because at run time several conftest modules share that name.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bastion.bootstrap.tenants import open_tenant
from bastion.core.tenant import Tenant
from bastion.crypto.passwords import verify_password
from bastion.settings import Settings

BASTION = shutil.which("bastion", path=str(Path(sys.executable).parent))
_PASSWORD_LINE = re.compile(r"Password: (\S+)")

Result = subprocess.CompletedProcess[str]


@dataclass(frozen=True)
class Cli:
    """`cli("users", "list", "acme")` runs `bastion users list acme` and returns the result."""

    data_dir: Path
    database_url: str | None = None
    admin_password: str = "admin password for tests"

    @property
    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir, database_url=self.database_url)

    def __call__(self, *args: str, stdin: str = "") -> Result:
        assert BASTION is not None, "the bastion console script is not installed in this venv"
        env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
        env |= {"BASTION_DATA_DIR": str(self.data_dir), "COLUMNS": "200", "NO_COLOR": "1"}
        if self.database_url is not None:
            env["BASTION_DATABASE_URL"] = self.database_url
        return subprocess.run(
            [BASTION, *args],
            env=env,
            input=stdin,  # a pipe: standard input is never a terminal here
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def ok(self, *args: str, stdin: str = "") -> Result:
        result = self(*args, stdin=stdin)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def tenant(self, name: str) -> Tenant:
        return open_tenant(self.settings, name)

    def secret_file(self, name: str, password: str) -> str:
        path = self.data_dir.parent / "secrets" / name
        path.parent.mkdir(mode=0o700, exist_ok=True)
        path.write_text(password + "\n", "utf-8")
        return str(path)

    @staticmethod
    def printed_passwords(result: Result) -> list[str]:
        return _PASSWORD_LINE.findall(result.stdout)

    def assert_password(self, tenant: str, login: str, password: str) -> None:
        """Raises `VerificationError` unless `password` is `login`'s (SQLite tenants)."""
        path = self.data_dir / "tenants" / tenant / "db.sqlite3"
        conn = sqlite3.connect(path)
        try:
            row = conn.execute(
                "SELECT password FROM res_users WHERE login = ?", (login,)
            ).fetchone()
        finally:
            conn.close()
        verify_password(password, str(row[0]))

    @staticmethod
    def assert_one_clean_error(result: Result) -> None:
        """Failed, with one `Error: ...` line on stderr and no traceback anywhere."""
        assert result.returncode != 0, result.stdout
        assert "Traceback" not in result.stdout + result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "var")


@pytest.fixture(scope="module")
def acme(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """One SQLite tenant 'acme' (base module, admin password from a file) per test module."""
    cli = Cli(tmp_path_factory.mktemp("cli") / "var")
    admin_file = cli.secret_file("admin.pw", cli.admin_password)
    cli.ok("init", "acme", "--module", "base", "--admin-password-file", admin_file)
    yield cli
