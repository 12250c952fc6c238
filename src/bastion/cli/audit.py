"""`bastion audit verify`: walk a tenant's audit chain and check its signed checkpoint."""

from __future__ import annotations

from typing import Annotated

import typer

from bastion.audit.verify import VerifyReport
from bastion.bootstrap.tenants import audit_trail
from bastion.cli import output
from bastion.cli.common import opened, settings

app = typer.Typer(help="Check the tamper-evident audit trail.", no_args_is_help=True)


@app.command("verify")
def verify(name: Annotated[str, typer.Argument(help="Tenant name.")]) -> None:
    """Verify every entry, the head row and the checkpoint; exit 1 if anything was tampered with."""
    config = settings()
    trail = audit_trail(config, name)
    with opened(config, name) as tenant:
        conn = tenant.engine.connect()
        if conn.dialect.name == "postgresql":
            # One snapshot for the whole walk while the server keeps appending.
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn, conn.begin():
            report = trail.verify(conn)
    _print(name, report)


def _print(name: str, report: VerifyReport) -> None:
    if report.ok:
        output.say(
            ("OK", "bold green"),
            f": the audit trail of tenant '{name}' verifies ({report.entries} entries, "
            f"head at {report.head_seq}).",
        )
        return
    output.error(f"The audit trail of tenant '{name}' is broken. {report.problem}")
    raise typer.Exit(1)
