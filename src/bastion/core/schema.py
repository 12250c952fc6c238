"""Create and extend a tenant's tables from the registry's model definitions."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.schema import CreateIndex

from bastion.core.registry import Registry


def sync_schema(conn: sa.Connection, registry: Registry) -> list[str]:
    """Create missing tables, add missing columns and indexes; return what was done.

    Columns are only ever added: a field removed from a model keeps its data in the database.
    """
    done: list[str] = []
    inspector = sa.inspect(conn)
    existing = set(inspector.get_table_names())
    missing = [t for t in registry.metadata.sorted_tables if t.name not in existing]
    if missing:
        registry.metadata.create_all(conn, tables=missing)
        done.extend(f"created table {t.name}" for t in missing)
    for table in registry.metadata.sorted_tables:
        if table.name not in existing:
            continue
        have = {c["name"] for c in inspector.get_columns(table.name)}
        preparer = conn.dialect.identifier_preparer
        for column in table.columns:
            if column.name in have:
                continue
            ddl_type = column.type.compile(dialect=conn.dialect)
            conn.exec_driver_sql(
                f"ALTER TABLE {preparer.quote(table.name)} "
                f"ADD COLUMN {preparer.quote(column.name)} {ddl_type}"
            )
            done.append(f"added column {table.name}.{column.name}")
        indexed = {tuple(ix["column_names"]) for ix in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if tuple(c.name for c in index.columns) not in indexed:
                conn.execute(CreateIndex(index))
                done.append(f"created index {index.name}")
    return done
