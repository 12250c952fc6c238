"""A real `bastion serve` in a subprocess on 127.0.0.1, for browser and multi-worker tests.

`init_tenant` runs `bastion init` (the demo one once per session: copy its data directory with
`copy_data_dir` for each test), `serve` runs a server of a data directory until the block ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

BASTION = shutil.which("bastion", path=str(Path(sys.executable).parent))
#: One password for the administrator and every demo user (passes the password policy).
PASSWORD = "e2e correct horse battery staple"
READY_WITHIN = 30.0
STOP_WITHIN = 15.0


def _env(data_dir: Path, extra: Mapping[str, str | None]) -> dict[str, str]:
    # The caller's BASTION_* settings must not leak into the server under test.
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    env |= {"BASTION_DATA_DIR": str(data_dir), "COLUMNS": "200", "NO_COLOR": "1"}
    env |= {k: v for k, v in extra.items() if v is not None}
    return env


def bastion(
    data_dir: Path, *args: str, database_url: str | None = None, timeout: float = 300.0
) -> subprocess.CompletedProcess[str]:
    """Run the `bastion` console script; fail with its output if it does not succeed."""
    assert BASTION is not None, "the bastion console script is not installed in this venv"
    result = subprocess.run(
        [BASTION, *args],
        env=_env(data_dir, {"BASTION_DATABASE_URL": database_url}),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"bastion {' '.join(args)} exited with {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result


def init_tenant(
    data_dir: Path,
    name: str,
    *,
    demo: bool = False,
    admin_login: str = "admin",
    database_url: str | None = None,
) -> None:
    """`bastion init name` with PASSWORD for the administrator (and the demo users)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    password_file = data_dir / "e2e-password.txt"
    password_file.write_text(PASSWORD + "\n", "utf-8")
    args = ["init", name, "--admin-login", admin_login, "--admin-password-file", str(password_file)]
    if demo:
        args += ["--demo", "--demo-password-file", str(password_file)]
    try:
        bastion(data_dir, *args, database_url=database_url)
    finally:
        password_file.unlink()


def copy_data_dir(source: Path, target: Path) -> Path:
    """A private copy of an initialised SQLite data directory (keys, tenants, databases)."""
    shutil.copytree(source, target, symlinks=True)
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    """A running server: `url` is `http://127.0.0.1:<port>`."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")


@contextlib.contextmanager
def serve(
    data_dir: Path,
    *,
    workers: int = 1,
    database_url: str | None = None,
    redis_url: str | None = None,
    trusted_proxies: str | None = None,
) -> Iterator[LiveServer]:
    """Serve `data_dir` until the block ends; the server's output is printed if anything fails."""
    extra = {
        "BASTION_DATABASE_URL": database_url,
        "BASTION_REDIS_URL": redis_url,
        "BASTION_TRUSTED_PROXIES": trusted_proxies,
    }
    # A file, not a pipe: a chatty server must never block on a pipe nobody reads. It stays
    # in the data directory after the block, for tests that look at what the server logged.
    log_path = data_dir / "serve.log"
    with log_path.open("wb") as log_file:
        server = _start(data_dir, workers, _env(data_dir, extra), log_file, log_path)
        try:
            yield server
        except BaseException:
            _print_log(server, "while the test ran")
            raise
        finally:
            _stop(server.process)


def _start(
    data_dir: Path, workers: int, env: dict[str, str], log_file: IO[bytes], log_path: Path
) -> LiveServer:
    assert BASTION is not None, "the bastion console script is not installed in this venv"
    for _attempt in range(3):  # another process may take the free port before the server does
        port = free_port()
        command = [BASTION, "serve", "--host", "127.0.0.1", "--port", str(port)]
        process = subprocess.Popen(
            [*command, "--workers", str(workers)],
            env=env,
            cwd=data_dir,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            # Its own process group: stopping it reaches the uvicorn workers too.
            start_new_session=True,
        )
        server = LiveServer(port, process, log_path)
        try:
            _wait_ready(server, workers)
            return server
        except _PortTaken:
            _stop(process)
            continue
        except BaseException:
            _stop(process)
            _print_log(server, "while it started")
            raise
    raise AssertionError("no free port for the server after 3 attempts")


class _PortTaken(Exception):
    pass


def _wait_ready(server: LiveServer, workers: int) -> None:
    deadline = time.monotonic() + READY_WITHIN
    last = "no answer"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            if "address already in use" in server.log().lower():
                raise _PortTaken
            raise AssertionError(f"the server exited with {server.process.returncode}")
        try:
            response = httpx.get(f"{server.url}/healthz", timeout=2)
        except httpx.TransportError as exc:
            last = type(exc).__name__
        else:
            if response.status_code == 200:
                # With several workers each one reports its start; wait for all of them, or
                # the first requests would all reach the one worker that was ready.
                if server.log().count("Application startup complete") >= workers:
                    return
                last = "workers still starting"
            else:
                last = f"HTTP {response.status_code}: {response.text[:200]}"
        time.sleep(0.1)
    raise AssertionError(f"the server was not ready within {READY_WITHIN:.0f} s ({last})")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group, SIGKILL if it has not gone within STOP_WITHIN."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_WITHIN)
    # Workers left behind by a supervisor that died first are in the same group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=STOP_WITHIN)


def _print_log(server: LiveServer, when: str) -> None:
    print(f"--- bastion serve output ({when}, port {server.port}) ---\n{server.log()}\n---")
