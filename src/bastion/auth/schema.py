"""The tables of `bastion.auth`, kept in each tenant's own database beside its records.

Every auth module declares its tables on `METADATA`; `create_auth_tables` imports them all and
creates what is missing, so a tenant made before a table existed gains it when next opened.
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa

METADATA = sa.MetaData()

#: The modules that declare tables on METADATA.
TABLE_MODULES = (
    "bastion.auth.counters",
    "bastion.auth.sessions",
    "bastion.auth.devices",
    "bastion.auth.apikeys",
    "bastion.auth.totp",
    "bastion.auth.recovery",
    "bastion.auth.passkeys",
    "bastion.auth.emailcodes",
)


def create_auth_tables(engine: sa.Engine) -> None:
    """Create the auth tables that do not exist yet (idempotent)."""
    for name in TABLE_MODULES:
        importlib.import_module(name)
    METADATA.create_all(engine, checkfirst=True)
