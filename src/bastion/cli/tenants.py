"""`bastion tenants` and `bastion drop`: list the tenants of the data directory, remove one."""

from __future__ import annotations

from typing import Annotated

import typer

from bastion.bootstrap.tenants import drop_tenant, list_tenants, read_info
from bastion.cli import output
from bastion.cli.common import settings
from bastion.errors import ValidationError


def tenants() -> None:
    """List the tenants with their backend and modules."""
    config = settings()
    found = list_tenants(config)
    if not found:
        output.say(f"No tenants in {config.data_dir} yet: create one with `bastion init NAME`.")
        return
    output.table(
        f"Tenants in {config.data_dir}",
        ("Name", "Backend", "Modules"),
        [(info.name, info.backend, ", ".join(info.modules)) for info in found],
    )


def drop(
    name: Annotated[str, typer.Argument(help="Tenant name.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Confirm: the database and its files are deleted.")
    ] = False,
) -> None:
    """Delete a tenant: its database, audit checkpoint and files. There is no undo."""
    config = settings()
    info = read_info(config, name)
    if not yes:
        raise ValidationError(
            f"Dropping tenant '{name}' deletes its data for good: add --yes to confirm."
        )
    drop_tenant(config, name, backend=info.backend)
    output.say(("Dropped", "bold red"), f" tenant '{name}' ({info.backend}).")
