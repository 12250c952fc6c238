"""What the web edge is built from: `Settings` -> `Services` (the data directory's tenants).

Tenants are found on disk at each call, so one made by `bastion init` while the server runs is
served without a restart, and opened once per process on first use.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from bastion.bootstrap.tenants import MANIFEST, open_tenant
from bastion.core.tenant import Tenant
from bastion.settings import Settings

log = logging.getLogger(__name__)


class Services:
    """The tenants of one data directory, opened on demand and shared by the requests."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._tenants: dict[str, Tenant] = {}
        self._lock = threading.Lock()

    def tenant_names(self) -> list[str]:
        root = self.settings.tenants_dir
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if (p / MANIFEST).is_file())

    def tenant(self, name: str) -> Tenant:
        """The open tenant `name`; raises `TenantError` if the data directory has none."""
        with self._lock:
            tenant = self._tenants.get(name)
            if tenant is None:
                tenant = open_tenant(self.settings, name)
                self._tenants[name] = tenant
            return tenant

    def ping(self, name: str) -> bool:
        """True if the tenant's database answers `SELECT 1`. Blocking: run it in a thread."""
        try:
            tenant = self.tenant(name)
            database = tenant.engine.url.database
            if tenant.engine.dialect.name == "sqlite" and not (
                database and Path(database).is_file()
            ):
                # Connecting would create an empty file and call that healthy.
                raise FileNotFoundError("the tenant's SQLite file is missing")
            # A DBAPI connection, not `engine.connect()`: on SQLite that would begin an
            # IMMEDIATE transaction and take the write lock just to say hello.
            raw = tenant.engine.raw_connection()
            try:
                cursor = raw.cursor()
                cursor.execute("SELECT 1")
                cursor.fetchall()
                cursor.close()
            finally:
                raw.close()
        except Exception as exc:  # any failure means unhealthy, whatever the driver raised
            # Type only: driver messages may name hosts, users or paths.
            log.warning("Tenant %s is unreachable (%s).", name, type(exc).__name__)
            self._forget(name)
            return False
        return True

    def close(self) -> None:
        with self._lock:
            tenants, self._tenants = list(self._tenants.values()), {}
        for tenant in tenants:
            tenant.dispose()

    def _forget(self, name: str) -> None:
        with self._lock:
            tenant = self._tenants.pop(name, None)
        if tenant is not None:
            tenant.dispose()
