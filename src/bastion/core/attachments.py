"""Binary field content, kept in the `ir_attachment` table beside the records it belongs to."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from bastion.core.idlist import id_in
from bastion.crypto.digest import sha256_hex

TABLE = "ir_attachment"


def declare(metadata: sa.MetaData) -> sa.Table:
    """The attachment table, declared in `metadata` (the registry's, or a throwaway one)."""
    return sa.Table(
        TABLE,
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("res_model", sa.String(), nullable=False),
        sa.Column("res_field", sa.String(), nullable=False),
        sa.Column("res_id", sa.Integer(), nullable=False),
        sa.Column("datas", sa.LargeBinary(), nullable=False),
        sa.Column("file_size", sa.Integer(), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Index("ir_attachment_res_idx", "res_model", "res_field", "res_id", unique=True),
    )


def load_binaries(
    conn: sa.Connection, model: str, field: str, ids: Sequence[int]
) -> dict[int, bytes]:
    table = _QUERY_TABLE
    query = sa.select(table.c.res_id, table.c.datas).where(
        table.c.res_model == model,
        table.c.res_field == field,
        id_in(conn, table.c.res_id, ids),
    )
    return {res_id: bytes(data) for res_id, data in conn.execute(query)}


def store_binary(
    conn: sa.Connection, model: str, field: str, ids: Sequence[int], data: bytes | None
) -> None:
    table = _QUERY_TABLE
    conn.execute(
        sa.delete(table).where(
            table.c.res_model == model,
            table.c.res_field == field,
            id_in(conn, table.c.res_id, ids),
        )
    )
    if data is None:
        return
    checksum = sha256_hex(data)
    conn.execute(
        sa.insert(table),
        [
            {
                "res_model": model,
                "res_field": field,
                "res_id": i,
                "datas": data,
                "file_size": len(data),
                "checksum": checksum,
            }
            for i in ids
        ],
    )


def drop_binaries(conn: sa.Connection, model: str, ids: Sequence[int]) -> None:
    table = _QUERY_TABLE
    conn.execute(
        sa.delete(table).where(table.c.res_model == model, id_in(conn, table.c.res_id, ids))
    )


_QUERY_TABLE = declare(sa.MetaData())
