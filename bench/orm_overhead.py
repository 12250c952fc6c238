"""ORM overhead: Bastion's access-checked ORM against hand-written SQLAlchemy Core, same run.

    .venv/bin/python bench/orm_overhead.py [--rows N] [--repeat N] [--backend B]

(B: sqlite, postgresql or both, the default.)

1. read: a restricted user's `search_read` (record rules and field groups active) of the
   ~half of the rows they may see, against the equivalent Core query written by hand (same
   filter, same columns, same many2one names, same list of dicts). Target ratio <= 1.2.
2. write: `write` of 10,000+ rows with the audit trail against the same `write` with the
   audit sink switched off (the ORM still reads the old values, which it needs for the record
   rules anyway; chaining, storing and checkpointing are what is switched off). Target <= 1.3.
   For information, the audited write is also compared with one bare hand-written UPDATE.

Prints medians (ms) and ratios; nothing is asserted. PostgreSQL: BASTION_BENCH_PG_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bastion.bootstrap.tenants import create_tenant, drop_tenant
from bastion.bootstrap.users import add_user
from bastion.core import fields, relational
from bastion.core.events import AuditEvent, ChainHead
from bastion.core.model import Model
from bastion.core.module import Access, GroupDef, Module, Ref, Rule
from bastion.core.tenant import Tenant
from bastion.settings import Settings

PG_URL = os.environ.get(
    "BASTION_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
READ_FIELDS = ["name", "code", "qty", "amount", "partner_id", "company_id", "state"]


class BenchRecord(Model):
    _name = "bench.record"
    _description = "Benchmark record"
    name = fields.Char(required=True)
    code = fields.Char(index=True)
    qty = fields.Integer()
    amount = fields.Monetary()
    state = fields.Selection([("draft", "Draft"), ("done", "Done")], default="draft")
    secret = fields.Char(groups="bench.group_manager")
    owner_id = relational.Many2one("res.users")
    partner_id = relational.Many2one("res.partner")
    company_id = relational.Many2one("res.company")


BENCH = Module(
    name="bench",
    depends=("base",),
    models=(BenchRecord,),
    groups=(
        GroupDef("bench.group_user", "Bench user", implied=("base.group_user",)),
        GroupDef("bench.group_manager", "Bench manager", implied=("bench.group_user",)),
    ),
    access=(Access("bench.record", "bench.group_user", True, True, True, True),),
    rules=(
        Rule(
            "bench.own_records",
            "bench.record",
            [("owner_id", "=", Ref("user.id"))],
            groups=("bench.group_user",),
        ),
    ),
)


class NullSink:
    """The audit sink switched off: events are dropped."""

    def install(self, conn: sa.Connection) -> None:
        pass

    def append(self, conn: sa.Connection, events: Sequence[AuditEvent]) -> ChainHead | None:
        return None

    def anchor(self, head: ChainHead) -> None:
        pass


def interleaved(
    first: Callable[[], Any], second: Callable[[], Any], repeat: int
) -> tuple[float, float]:
    """Median ms of each, run alternately so that load on the machine hits both alike."""
    first(), second()  # warm caches and connections
    a: list[float] = []
    b: list[float] = []
    for _ in range(repeat):
        for fn, samples in ((first, a), (second, b)):
            start = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(a), statistics.median(b)


def populate(tenant: Tenant, rows: int) -> tuple[int, int]:
    uid = add_user(tenant, "reader", "bench-password-1234", groups=["bench.group_user"])
    other = add_user(tenant, "other", "bench-password-5678", groups=["bench.group_user"])
    with tenant.system("benchmark data") as env:
        partners = env["res.partner"].create([{"name": f"Partner {i}"} for i in range(200)])
        company = env["res.company"].search([], limit=1)[0]
        table = env.registry["bench.record"]._table
        env.conn.execute(
            sa.insert(table),
            [
                {
                    "name": f"Record {i}",
                    "code": f"C{i:06d}",
                    "qty": i % 97,
                    "amount": Decimal(i % 1000) / 4,
                    "state": "draft" if i % 3 else "done",
                    "secret": "s",
                    "owner_id": uid if i % 2 == 0 else other,
                    "partner_id": partners[i % len(partners)],
                    "company_id": company,
                }
                for i in range(rows)
            ],
        )
    return uid, company


def hand_written_read(tenant: Tenant, uid: int, company: int) -> list[dict[str, Any]]:
    """What a careful developer writes by hand for the same answer."""
    reg = tenant.registry
    t = reg["bench.record"]._table
    partner, comp = reg["res.partner"]._table, reg["res.company"]._table
    with tenant.engine.connect() as conn:
        query = (
            sa.select(t.c.id, *(t.c[n] for n in READ_FIELDS))
            .where(
                t.c.owner_id == uid, sa.or_(t.c.company_id.is_(None), t.c.company_id.in_([company]))
            )
            .order_by(t.c.id)
        )
        names = ["id", *READ_FIELDS]
        records = [dict(zip(names, row, strict=True)) for row in conn.execute(query)]
        for fname, table in (("partner_id", partner), ("company_id", comp)):
            ids = {r[fname] for r in records if r[fname] is not None}
            lookup = dict(
                conn.execute(sa.select(table.c.id, table.c.name).where(table.c.id.in_(ids))).all()
            )
            for r in records:
                if r[fname] is not None:
                    r[fname] = (r[fname], lookup.get(r[fname]))
    return records


def orm_read(tenant: Tenant, uid: int) -> list[dict[str, Any]]:
    with tenant.env(uid) as env:
        return env["bench.record"].search_read([], READ_FIELDS, order="id")


def run_backend(backend: str, rows: int, repeat: int) -> dict[str, float]:
    data_dir = Path(tempfile.mkdtemp(prefix="bastion-bench-"))
    settings = Settings(data_dir=data_dir, database_url=PG_URL if backend == "postgresql" else None)
    name = f"bench_{os.getpid()}"
    tenant = create_tenant(settings, name, modules=["base"], extra=[BENCH])
    try:
        uid, company = populate(tenant, rows)
        orm_rows, raw_rows = orm_read(tenant, uid), hand_written_read(tenant, uid, company)
        if orm_rows != raw_rows:
            sys.exit("the ORM and the hand-written query disagree: the comparison would be unfair")
        read_orm, read_raw = interleaved(
            lambda: orm_read(tenant, uid), lambda: hand_written_read(tenant, uid, company), repeat
        )
        with tenant.system("benchmark ids") as env:
            ids = env["bench.record"].search([("owner_id", "=", uid)])
        counter = iter(range(10**9))
        audited = tenant.audit

        def write(sink: Any) -> None:
            tenant.audit = sink
            try:
                with tenant.env(uid) as env:
                    env["bench.record"].write(ids, {"qty": next(counter) % 1000, "state": "done"})
            finally:
                tenant.audit = audited

        write_audit, write_plain = interleaved(
            lambda: write(audited), lambda: write(NullSink()), repeat
        )
        table = tenant.registry["bench.record"]._table

        def hand_written_write() -> None:
            with tenant.engine.begin() as conn:
                conn.execute(
                    sa.update(table)
                    .where(table.c.id.in_(ids))
                    .values(qty=next(counter) % 1000, state="done")
                )

        write_full, write_raw = interleaved(lambda: write(audited), hand_written_write, repeat)
        return {
            "write_full": write_full,
            "write_raw": write_raw,
            "rows_read": len(orm_rows),
            "rows_written": len(ids),
            "read_orm": read_orm,
            "read_raw": read_raw,
            "write_audit": write_audit,
            "write_plain": write_plain,
        }
    finally:
        tenant.dispose()
        drop_tenant(settings, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(f"ORM overhead, {args.rows} rows, median of {args.repeat} runs")
    header = ("backend", "what", "bastion ms", "baseline ms", "ratio", "target")
    print("{:<11} {:<34} {:>11} {:>12} {:>6} {:>7}".format(*header))
    for backend in backends:
        r = run_backend(backend, args.rows, args.repeat)
        read_ratio = r["read_orm"] / r["read_raw"]
        write_ratio = r["write_audit"] / r["write_plain"]
        print(
            f"{backend:<11} {'search_read ' + str(int(r['rows_read'])) + ' rows vs Core':<34} "
            f"{r['read_orm']:>11.1f} {r['read_raw']:>12.1f} {read_ratio:>6.2f} {'<= 1.2':>7}"
        )
        print(
            f"{backend:<11} {'write ' + str(int(r['rows_written'])) + ' rows audited vs not':<34} "
            f"{r['write_audit']:>11.1f} {r['write_plain']:>12.1f} {write_ratio:>6.2f} {'<= 1.3':>7}"
        )
        full_ratio = r["write_full"] / r["write_raw"]
        print(
            f"{backend:<11} {'write audited vs one bare UPDATE':<34} "
            f"{r['write_full']:>11.1f} {r['write_raw']:>12.1f} {full_ratio:>6.2f} {'(info)':>7}"
        )


if __name__ == "__main__":
    main()
