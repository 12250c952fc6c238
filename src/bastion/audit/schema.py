"""The audit tables, in their own MetaData, and the triggers that make `audit_log` append-only.

The triggers stop accidents and ordinary SQL users. A superuser (or anyone holding a SQLite
file) can remove them: the hash chain and the signed checkpoint are what detect that.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from bastion.audit.chain import GENESIS_HASH

APPEND_ONLY_MESSAGE = "audit_log is append-only"

metadata = MetaData()

_Seq = BigInteger().with_variant(Integer(), "sqlite")

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", _Seq, primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),
    Column("tenant", String(255), nullable=False),
    Column("uid", BigInteger, nullable=True),
    Column("action", String(32), nullable=False),
    Column("model", String(255), nullable=True),
    Column("res_ids", Text, nullable=False),
    Column("changes", Text, nullable=False),
    Column("reason", Text, nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", _Seq, nullable=False),
    Column("hash", String(64), nullable=False),
    CheckConstraint("id = 1", name="audit_head_single_row"),
)

_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION bastion_audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}';
END;
$$
"""

_PG_TRIGGERS = (
    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION bastion_audit_log_append_only()",
    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION bastion_audit_log_append_only()",
)

_SQLITE_TRIGGERS = tuple(
    f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
    for verb in ("UPDATE", "DELETE")
)


def install(conn: Connection) -> None:
    """Create the audit tables, the head row and the append-only triggers (idempotent)."""
    metadata.create_all(conn)
    _insert_genesis_head(conn)
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.exec_driver_sql(_PG_FUNCTION)
        for statement in _PG_TRIGGERS:
            conn.exec_driver_sql(statement)
    elif dialect == "sqlite":
        for statement in _SQLITE_TRIGGERS:
            conn.exec_driver_sql(statement)


def _insert_genesis_head(conn: Connection) -> None:
    values = {"id": 1, "seq": 0, "hash": GENESIS_HASH}
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(postgresql.insert(audit_head).values(values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        conn.execute(sqlite.insert(audit_head).values(values).on_conflict_do_nothing())
    elif conn.execute(select(audit_head.c.id)).first() is None:
        conn.execute(audit_head.insert().values(values))
