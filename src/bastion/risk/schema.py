"""The tables of `bastion.risk`, kept in each tenant's own database.

Every risk module that stores rows declares its tables on `METADATA`; `create_risk_tables`
imports them all and creates what is missing (idempotent, as `create_auth_tables`).
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa

METADATA = sa.MetaData()

#: The modules that declare tables on METADATA.
TABLE_MODULES = (
    "bastion.risk.events",
    "bastion.risk.state_sql",
)


def create_risk_tables(engine: sa.Engine) -> None:
    """Create the risk tables that do not exist yet (idempotent)."""
    for name in TABLE_MODULES:
        importlib.import_module(name)
    METADATA.create_all(engine, checkfirst=True)
