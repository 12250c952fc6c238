"""`bastion serve`: run the ASGI app under uvicorn for the tenants of the data directory."""

from __future__ import annotations

import dataclasses
import os
from typing import Annotated

import typer
import uvicorn

from bastion.bootstrap.tenants import list_tenants
from bastion.cli import output
from bastion.cli.common import base_url, settings
from bastion.cli.demo import credentials_path, read_logins
from bastion.settings import Settings

APP_FACTORY = "bastion.web.app:create_app"


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [BASTION_HOST].")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port to listen on [BASTION_PORT].")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
) -> None:
    """Serve every tenant found in the data directory."""
    config = settings()
    config = dataclasses.replace(
        config,
        host=config.host if host is None else host,
        port=config.port if port is None else port,
    )
    _print_welcome(config)
    # Each worker sizes its password-hashing gate to its share of the cores.
    os.environ["BASTION_WORKERS"] = str(workers)
    uvicorn.run(
        APP_FACTORY,  # an import string: each worker builds its own app (no shared state)
        factory=True,
        host=config.host,
        port=config.port,
        workers=workers,
        # Forwarded headers are ignored: trusting them needs an explicit proxy setting, or any
        # client could claim to be another address or to have come over https.
        proxy_headers=False,
        server_header=False,
        log_level="info",
    )


def _print_welcome(config: Settings) -> None:
    url = base_url(config)
    output.say(("Bastion", "bold"), f" is starting on {url} (data in {config.data_dir}).")
    found = list_tenants(config)
    if not found:
        output.warn("No tenants yet: create one with `bastion init NAME` (or `make run`).")
    for info in found:
        credentials = credentials_path(config, info.name)
        if credentials.is_file():
            logins = ", ".join(read_logins(credentials))
            output.say(f"  demo tenant '{info.name}': logins {logins}; passwords in {credentials}")
        else:
            output.say(f"  tenant '{info.name}' ({info.backend}): users via `bastion users list`")
    output.say(f"Sign in at {url}/web/login (health: {url}/healthz).")
    if config.host not in ("127.0.0.1", "localhost", "::1"):
        output.warn(
            "Listening beyond loopback: set BASTION_ALLOWED_HOSTS to the names clients use "
            "(and BASTION_TRUSTED_PROXIES for a TLS proxy), or every request gets 400."
        )
