"""The tenant and its server: `bastion init`, the simulated people added as users (with e-mail
addresses, some with an authenticator app), the geo table, and `bastion serve --workers 2` on
127.0.0.1 behind a trusted proxy header, on the benchmark's clock."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pyotp
from bench._common import (
    BASTION,
    Server,
    bastion_env,
    free_port,
    random_password,
    report_server_errors,
    run_bastion,
    start_server,
    stop_server,
)
from bench.detection.population import Person
from bench.detection.sched import ClockFile
from bench.detection.world import World

from bastion.bootstrap.auth import auth_for
from bastion.bootstrap.tenants import open_tenant
from bastion.bootstrap.users import add_user
from bastion.core.clock import FAKE_CLOCK_ACK, FAKE_CLOCK_ACK_ENV, FAKE_CLOCK_FILE_ENV, FixedClock
from bastion.settings import load_settings

TENANT = "detect"


@dataclass
class Stage:
    data_dir: Path
    env: dict[str, str]
    clock: ClockFile
    geo_table: Path

    @property
    def outbox(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def database(self) -> Path:
        return self.data_dir / "tenants" / TENANT / "db.sqlite3"


@contextlib.contextmanager
def staged(world: World, start: float, keep: bool) -> Iterator[Stage]:
    """A fresh data directory with the tenant, the geo table and the clock file."""
    data_dir = Path(tempfile.mkdtemp(prefix="bastion-bench-detection-"))
    try:
        clock = ClockFile(data_dir / "clock")
        clock.freeze(start)
        geo = data_dir / "geo.csv"
        world.write_geo_table(geo)
        env = bastion_env(
            data_dir,
            {
                "BASTION_TRUSTED_PROXIES": "127.0.0.1",
                "BASTION_GEO_TABLE": str(geo),
                FAKE_CLOCK_FILE_ENV: str(clock.path),
                FAKE_CLOCK_ACK_ENV: FAKE_CLOCK_ACK,
            },
        )
        password_file = data_dir / "admin.txt"
        password_file.write_text(random_password() + "\n", "utf-8")
        password_file.chmod(0o600)
        print(f"creating tenant {TENANT} (SQLite) in {data_dir}...", flush=True)
        run_bastion(env, "init", TENANT, "--admin-password-file", str(password_file))
        password_file.unlink()
        yield Stage(data_dir, env, clock, geo)
    finally:
        if keep:
            print(f"kept the data directory {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


def add_people(stage: Stage, people: list[Person], start: float) -> dict[int, str]:
    """Create every person as a user (in this process, before the server starts); enrol an
    authenticator app for those who use one. Returns person index -> TOTP secret."""
    settings = load_settings(stage.env)
    at = dt.datetime.fromtimestamp(start, dt.UTC)
    tenant = open_tenant(settings, TENANT, clock=FixedClock(at))
    secrets: dict[int, str] = {}
    try:
        for person in people:
            person.uid = add_user(
                tenant, person.login, person.password, name=person.name, email=person.email
            )
        auth = auth_for(settings, tenant)
        for person in people:
            if person.totp:
                secret = auth.totp.begin(person.uid, at)
                auth.totp.confirm(person.uid, pyotp.TOTP(secret).at(at), at)
                secrets[person.index] = secret
    finally:
        tenant.dispose()
    return secrets


@contextlib.contextmanager
def served(stage: Stage, workers: int, extra: Mapping[str, str] | None = None) -> Iterator[Server]:
    if BASTION is None:
        raise SystemExit("the bastion console script is not installed in this venv")
    port = free_port()
    log_path = stage.data_dir / "serve.log"
    command = [
        BASTION,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    env = {**stage.env, **(extra or {})}
    with log_path.open("wb") as log_file:
        server = start_server(
            "bastion",
            command,
            port=port,
            env=env,
            cwd=stage.data_dir,
            log_file=log_file,
            log_path=log_path,
            workers=workers,
            ready_path="/healthz",
        )
        try:
            yield server
        finally:
            stop_server(server.process)
            report_server_errors("the server", log_path, "bastion-bench-detection-")
