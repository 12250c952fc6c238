"""Tenants on disk and in databases: create, open, list and drop them from `Settings`.

Layout of the data directory (owner-only permissions):

    var/keys/audit.key                  HMAC key signing the audit checkpoints
    var/tenants/<name>/tenant.json      backend and installed modules
    var/tenants/<name>/db.sqlite3       the database, when the tenant lives in SQLite
    var/tenants/<name>/audit.checkpoint the signed head of the audit chain
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from bastion.audit.trail import CHECKPOINT_PURPOSE, AuditTrail
from bastion.core.clock import Clock
from bastion.core.database import (
    check_tenant_name,
    postgres_create_database,
    postgres_database_exists,
    postgres_drop_database,
    postgres_engine,
    sqlite_engine,
)
from bastion.core.install import install
from bastion.core.module import DemoOptions, Module
from bastion.core.registry import Registry
from bastion.core.tenant import Tenant
from bastion.crypto.keyfile import load_or_create_key
from bastion.crypto.signing import Signer
from bastion.errors import ConfigError, TenantError
from bastion.settings import Settings

DEFAULT_MODULES = ("base", "contacts", "sales", "hr")
MANIFEST = "tenant.json"


@dataclass(frozen=True, slots=True)
class TenantInfo:
    name: str
    backend: str
    modules: tuple[str, ...]


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def tenant_dir(settings: Settings, name: str) -> Path:
    return settings.tenants_dir / check_tenant_name(name)


def read_info(settings: Settings, name: str) -> TenantInfo:
    path = tenant_dir(settings, name) / MANIFEST
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise TenantError(f"There is no tenant named '{name}' in {settings.data_dir}.") from None
    except (OSError, ValueError):
        raise TenantError(f"The description of tenant '{name}' ({path}) is unreadable.") from None
    return TenantInfo(name, str(data["backend"]), tuple(data["modules"]))


def list_tenants(settings: Settings) -> list[TenantInfo]:
    """The tenants whose description reads; a damaged one does not hide the others."""
    if not settings.tenants_dir.is_dir():
        return []
    found = []
    for child in sorted(settings.tenants_dir.iterdir()):
        if (child / MANIFEST).is_file():
            try:
                found.append(read_info(settings, child.name))
            except TenantError:
                continue
    return found


def audit_trail(settings: Settings, name: str) -> AuditTrail:
    key = load_or_create_key(_private_dir(settings.keys_dir) / "audit.key")
    signer = Signer([key], purpose=CHECKPOINT_PURPOSE)
    return AuditTrail(name, signer, tenant_dir(settings, name) / "audit.checkpoint")


def _engine(settings: Settings, info: TenantInfo) -> sa.Engine:
    if info.backend == "sqlite":
        path = tenant_dir(settings, info.name) / "db.sqlite3"
        if not path.is_file():
            # connecting would silently create an empty database in its place
            raise TenantError(f"The database file of tenant '{info.name}' ({path}) is missing.")
        return sqlite_engine(path)
    if settings.database_url is None:
        raise ConfigError(
            f"Tenant '{info.name}' lives in PostgreSQL: set BASTION_DATABASE_URL to reach it."
        )
    return postgres_engine(settings.database_url, info.name)


def open_tenant(
    settings: Settings, name: str, *, clock: Clock | None = None, extra: Sequence[Module] = ()
) -> Tenant:
    info = read_info(settings, name)
    registry = Registry.for_modules(info.modules, extra)
    return Tenant(name, _engine(settings, info), registry, audit_trail(settings, name), clock)


def create_tenant(
    settings: Settings,
    name: str,
    *,
    modules: Sequence[str] = DEFAULT_MODULES,
    extra: Sequence[Module] = (),
    demo: DemoOptions | None = None,
    clock: Clock | None = None,
) -> Tenant:
    """Create the database, install the modules (and demo data); return the open tenant."""
    check_tenant_name(name)
    directory = tenant_dir(settings, name)
    if (directory / MANIFEST).exists():
        raise TenantError(f"Tenant '{name}' already exists.")
    backend = "postgresql" if settings.database_url else "sqlite"
    registry = Registry.for_modules(modules, extra)  # a bad module name fails before any change
    if settings.database_url is not None:
        if postgres_database_exists(settings.database_url, name):
            raise TenantError(f"A PostgreSQL database named '{name}' already exists.")
        postgres_create_database(settings.database_url, name)
    _private_dir(settings.data_dir)
    _private_dir(settings.tenants_dir)
    _private_dir(directory)
    if backend == "sqlite":
        # SQLite gives the -wal and -shm files the permissions of the database file
        (directory / "db.sqlite3").touch(mode=0o600)
    info = TenantInfo(name, backend, tuple(m.name for m in registry.modules))
    tenant = Tenant(name, _engine(settings, info), registry, audit_trail(settings, name), clock)
    try:
        install(tenant, demo=demo)
    except BaseException:
        tenant.dispose()
        drop_tenant(settings, name, backend=backend)
        raise
    manifest = {"name": name, "backend": backend, "modules": list(info.modules)}
    path = directory / MANIFEST
    path.write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    os.chmod(path, 0o600)
    return tenant


def drop_tenant(settings: Settings, name: str, *, backend: str | None = None) -> None:
    """Remove a tenant's database and files. Operators only (the CLI), never over HTTP."""
    directory = tenant_dir(settings, name)
    if backend is None:
        backend = read_info(settings, name).backend
    if backend == "postgresql" and settings.database_url is not None:
        postgres_drop_database(settings.database_url, name)
    if directory.exists():
        shutil.rmtree(directory)
