"""The `bastion` console script: the Typer app and the one place errors become exit codes.

    0  done
    1  a BastionError (bad input, unknown tenant, broken audit trail, ...): one sentence
    2  anything unexpected: the exception's type only, the traceback with BASTION_DEBUG=1

A traceback can carry values (SQL parameters, file contents), so it is not shown by default.
"""

from __future__ import annotations

import os
import sys
import traceback

import typer

from bastion.cli import audit, output, users
from bastion.cli.init import init
from bastion.cli.serve import serve
from bastion.cli.shell import shell
from bastion.cli.tenants import drop, tenants
from bastion.errors import BastionError

app = typer.Typer(
    name="bastion",
    help="Bastion: a secure-by-default business application server.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command()(init)
app.command()(serve)
app.add_typer(users.app, name="users")
app.add_typer(audit.app, name="audit")
app.command()(shell)
app.command()(tenants)
app.command()(drop)


def run(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    try:
        app(args=argv, prog_name="bastion")
    except BastionError as exc:
        output.error(exc.message)
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("BASTION_DEBUG") == "1":
            traceback.print_exc()
        output.error(
            f"Unexpected error ({type(exc).__name__}); see the server log, "
            "or run again with BASTION_DEBUG=1 for details."
        )
        sys.exit(2)


if __name__ == "__main__":
    run()
