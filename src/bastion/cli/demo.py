"""Demo tenants: which demo logins exist, and the credentials file `make run` relies on.

The file holds live passwords in clear text. It is written only for `--demo` tenants, created
owner-only (0600) in one step so no other local user can read it even briefly, and it says it is
for a demonstration. Real tenants never get one.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path

from bastion.bootstrap.tenants import tenant_dir
from bastion.settings import Settings

CREDENTIALS_FILE = "demo-credentials.txt"
_DEMO_MODULE = "bastion.apps.base.demo"


def demo_logins() -> tuple[str, ...]:
    """The logins the demo data creates; empty while the demo module is not there."""
    try:
        module = importlib.import_module(_DEMO_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != _DEMO_MODULE:
            raise  # a broken import inside the demo module is a bug, not an absence
        return ()
    return tuple(str(login) for login in getattr(module, "DEMO_LOGINS", ()))


def credentials_path(settings: Settings, name: str) -> Path:
    return tenant_dir(settings, name) / CREDENTIALS_FILE


def write_credentials(
    settings: Settings, name: str, url: str, credentials: Sequence[tuple[str, str]]
) -> Path:
    """Write (login, password) pairs for a demo tenant; the file must not exist yet."""
    path = credentials_path(settings, name)
    lines = [
        f"# Bastion DEMO tenant '{name}': credentials for trying Bastion out, nothing else.",
        "# Anyone who can read this file can sign in. Never keep real data in a demo tenant.",
        f"# URL: {url}",
        "login\tpassword",
        *(f"{login}\t{password}" for login, password in credentials),
    ]
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def read_logins(path: Path) -> list[str]:
    """The logins listed in a credentials file (its passwords stay where they are)."""
    logins = []
    for line in path.read_text("utf-8").splitlines():
        if line and not line.startswith("#") and line != "login\tpassword":
            logins.append(line.split("\t", 1)[0])
    return logins
