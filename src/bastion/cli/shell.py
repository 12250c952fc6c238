"""`bastion shell`: an interactive Python prompt with a tenant and a user's environment.

Everything runs in one transaction, committed when the prompt ends normally (Ctrl-D, `exit()`)
and rolled back otherwise; every change and every `env.elevated(reason=...)` is audited.
"""

from __future__ import annotations

import code
from typing import Annotated

import typer

from bastion.bootstrap.users import find_user
from bastion.cli import output
from bastion.cli.common import opened, settings

BANNER = """Bastion shell: tenant '{tenant}', acting as '{login}' (uid {uid}).
  env["res.partner"].search_read([], ["name"])     access rules apply as for this user
  env.elevated(reason="why")                      bypass access checks: the reason is audited
Every change is audited. One transaction: committed when you leave with Ctrl-D or exit(),
rolled back by exit(1). While the shell is open it holds the tenant's write lock on SQLite."""


def shell(
    name: Annotated[str, typer.Argument(help="Tenant name.")],
    login: Annotated[str, typer.Option(help="Act as this user.")] = "admin",
) -> None:
    """Open a Python prompt with `tenant` and `env` (an environment of --login)."""
    with opened(settings(), name) as tenant:
        uid = find_user(tenant, login, "operator opens a shell")
        committed = False
        with tenant.transaction() as tx:
            env = tx.env(uid)
            banner = BANNER.format(tenant=name, login=output.safe(login), uid=uid)
            try:
                code.interact(banner=banner, local={"tenant": tenant, "env": env}, exitmsg="")
            except SystemExit as exc:
                if exc.code not in (None, 0):
                    output.warn("Leaving with an error status: the changes are rolled back.")
                    raise typer.Exit(1) from None
            committed = True
    if committed:
        output.say(("Committed", "bold green"), " the shell's transaction.")
