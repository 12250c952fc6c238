"""What the web edge is built from: `Settings` -> `Services` (the data directory's tenants).

Tenants are found on disk at each call, so one made by `bastion init` while the server runs is
served without a restart, and opened once per process on first use. (The listing is kept while
the tenants directory's modification time stays the same, see `tenant_names`.)
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from bastion.auth.admission import HashGate, default_slots
from bastion.auth.hostslots import HostSlots, default_host_slots
from bastion.bootstrap.auth import (
    AuthKeys,
    TenantAuth,
    auth_log_for,
    build_tenant_auth,
    mailer_for,
    redis_client,
)
from bastion.bootstrap.geo import geo_resolver
from bastion.bootstrap.tenants import MANIFEST, open_tenant
from bastion.core.clock import Clock
from bastion.core.tenant import Tenant
from bastion.settings import Settings

log = logging.getLogger(__name__)

#: Host headers whose tenants are kept (past this, the kept answers are dropped).
MAX_HOSTS = 256


class Services:
    """The tenants of one data directory, opened on demand and shared by the requests."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self._tenants: dict[str, Tenant] = {}
        self._auth: dict[str, TenantAuth] = {}
        self._lock = threading.Lock()
        self._keys: AuthKeys | None = None
        self._redis: Any | None = None
        self._names: tuple[int, tuple[str, ...]] | None = None  # (directory mtime, names)
        # Host header -> (the listing it was filtered from, the tenants it may reach)
        self._by_host: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        # One gate for the process: every tenant's sign-ins share the same cores, and the
        # workers of this data directory share one machine-wide budget for unknown devices.
        self._gate = HashGate(
            default_slots(settings.workers),
            host=HostSlots(settings.data_dir / "run", default_host_slots()),
        )
        # One of each for the process, shared by every tenant: the geolocation database is
        # large (loaded once, in a thread, now), the mailer and auth log are the operator's.
        self.geo = geo_resolver(settings)
        self.mailer = mailer_for(settings, clock)
        self.auth_log = auth_log_for(settings)

    def tenants_for_host(self, host: str) -> list[str]:
        """The tenants `BASTION_DBFILTER` lets this host reach (Odoo's `%h` and `%d`).

        Kept per Host header for as long as the listing of tenants is (`tenant_names`): every
        request asks, and the filter is a regular expression made for the host."""
        names = self._listing()
        found = self._by_host.get(host)
        if found is not None and found[0] is names:
            return list(found[1])
        allowed = self._filter(host, names)
        if len(self._by_host) >= MAX_HOSTS:
            self._by_host = {}
        self._by_host[host] = (names, tuple(allowed))
        return allowed

    def _filter(self, host: str, names: tuple[str, ...]) -> list[str]:
        host = host.lower().split(":")[0] if not host.startswith("[") else host.lower()
        labels = host.split(".")
        first = labels[1] if labels[0] == "www" and len(labels) > 2 else labels[0]
        pattern = self.settings.dbfilter.replace("%h", re.escape(host)).replace(
            "%d", re.escape(first)
        )
        return [name for name in names if re.match(pattern, name)]

    def auth(self, name: str) -> TenantAuth:
        """The identity services of tenant `name` (its tables are created on first use)."""
        tenant = self.tenant(name)
        with self._lock:
            found = self._auth.get(name)
            if found is not None:
                return found
            if self._keys is None:
                self._keys = AuthKeys.load(self.settings)
            if self._redis is None and self.settings.redis_url:
                self._redis = redis_client(self.settings.redis_url)
            found = build_tenant_auth(
                self.settings,
                tenant,
                self._keys,
                self._redis,
                purge=True,
                gate=self._gate,
                geo=self.geo,
                mailer=self.mailer,
                auth_log=self.auth_log,
            )
            self._auth[name] = found
            return found

    def built_auth(self, name: str) -> TenantAuth | None:
        """The identity services of tenant `name` if already built, else None (no I/O)."""
        return self._auth.get(name)

    @property
    def keys(self) -> AuthKeys:
        with self._lock:
            if self._keys is None:
                self._keys = AuthKeys.load(self.settings)
            return self._keys

    def tenant_names(self) -> list[str]:
        """The tenants on disk (each a directory with a manifest), sorted.

        Every request asks (to pick its tenant), so the listing is kept under the tenants
        directory's modification time, which adding or removing a tenant changes; one stat
        instead of a listing and a stat per tenant. It is kept only when every directory is a
        finished tenant (one being made gets its manifest without touching the directory above)
        and the modification time is over a second old: file systems stamp times with a coarse
        clock, so a change in the same tick as the listing could leave the time unchanged.
        """
        return list(self._listing())

    def _listing(self) -> tuple[str, ...]:
        """`tenant_names` as a tuple: the same object for as long as the listing is kept."""
        root = self.settings.tenants_dir
        try:
            stamp = os.stat(root).st_mtime_ns
        except OSError:
            return ()
        kept = self._names
        if kept is not None and kept[0] == stamp:
            return kept[1]
        if not root.is_dir():
            return ()
        children = [p for p in root.iterdir() if p.is_dir()]
        names = tuple(sorted(p.name for p in children if (p / MANIFEST).is_file()))
        # The file system's clock, not a tenant's: the comparison is with its own timestamps.
        settled = time.time_ns() - stamp > 1_000_000_000
        self._names = (stamp, names) if settled and len(names) == len(children) else None
        return names

    def tenant(self, name: str) -> Tenant:
        """The open tenant `name`; raises `TenantError` if the data directory has none."""
        with self._lock:
            tenant = self._tenants.get(name)
            if tenant is None:
                tenant = open_tenant(self.settings, name, clock=self.clock)
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
            self._auth = {}
            redis, self._redis = self._redis, None
        if redis is not None:
            redis.close()
        for tenant in tenants:
            tenant.dispose()

    def _forget(self, name: str) -> None:
        with self._lock:
            tenant = self._tenants.pop(name, None)
            self._auth.pop(name, None)
        if tenant is not None:
            tenant.dispose()
