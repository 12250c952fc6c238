"""What the benchmarks that serve over HTTP share: a demo tenant in a temporary data directory,
servers in their own process groups, CPU use read from /proc, and small statistics.

Every server is started with `start_new_session=True`, so that its process group (the
supervisor and its workers) can be stopped and metered as one.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import httpx

BASTION = shutil.which("bastion", path=str(Path(sys.executable).parent))
LOOPBACK = ("127.0.0.1", "::1", "localhost")
READY_WITHIN = 60.0


# -- set-up -----------------------------------------------------------------------------------


def loopback_only(url: str | None, what: str) -> None:
    """Never load test anything but this machine: a shared or remote server is not ours to
    flood, and its numbers would measure the network."""
    if url is None:
        return
    host = urlsplit(url).hostname
    if host is not None and host not in LOOPBACK:
        sys.exit(f"{what} must be on loopback (127.0.0.1, ::1 or localhost), not {host}.")


def random_password() -> str:
    """A throwaway password the policy accepts (long, not common, not the login)."""
    letters = "abcdefghjkmnpqrstuvwxyz"
    return "bench " + "".join(random.SystemRandom().choice(letters) for _ in range(24))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bastion_env(data_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any BASTION_ setting, pointed at `data_dir`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    env |= {"BASTION_DATA_DIR": str(data_dir), "COLUMNS": "200", "NO_COLOR": "1"}
    return env | dict(extra or {})


def run_bastion(env: Mapping[str, str], *args: str) -> None:
    if BASTION is None:
        sys.exit("the bastion console script is not installed in this venv")
    result = subprocess.run(
        [BASTION, *args], env=dict(env), capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0:
        sys.exit(f"bastion {args[0]} failed:\n{result.stdout}\n{result.stderr}")


@contextlib.contextmanager
def demo_tenant(prefix: str, name: str, password: str) -> Iterator[Path]:
    """`bastion init NAME --demo` (SQLite) in a fresh data directory, every user with
    `password`; the directory is removed when the block ends."""
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    password_file = data_dir / "password.txt"
    password_file.write_text(password + "\n", "utf-8")
    password_file.chmod(0o600)
    try:
        print(f"creating demo tenant {name} (SQLite) in {data_dir}...", flush=True)
        run_bastion(
            bastion_env(data_dir),
            "init",
            name,
            "--demo",
            "--admin-password-file",
            str(password_file),
            "--demo-password-file",
            str(password_file),
        )
        password_file.unlink()
        yield data_dir
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


# -- servers ----------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path


def start_server(
    name: str,
    command: Sequence[str],
    *,
    port: int,
    env: Mapping[str, str],
    cwd: Path,
    log_file: IO[bytes],
    log_path: Path,
    workers: int,
    ready_path: str,
) -> Server:
    """Start `command` in its own process group; ready when `ready_path` answers (any status
    but a connection error) and every worker has logged uvicorn's startup line."""
    process = subprocess.Popen(
        list(command),
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopping it reaches the workers
    )
    server = Server(name, f"http://127.0.0.1:{port}", port, process, log_path)
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{name} exited with {process.returncode}:\n{log_path.read_text()}")
        with contextlib.suppress(httpx.TransportError):
            httpx.get(server.url + ready_path, timeout=2)
            log = log_path.read_text("utf-8", errors="replace")
            if log.count("Application startup complete") >= workers:
                return server
        time.sleep(0.2)
    stop_server(process)
    sys.exit(f"{name} was not ready within {READY_WITHIN:.0f} s:\n{log_path.read_text()}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group, then SIGKILL to whatever is left of it."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=15)


def report_server_errors(name: str, log_path: Path, prefix: str) -> int:
    """Errors a server logged are part of the result: say so, keep its log, return how many."""
    log = log_path.read_text("utf-8", errors="replace")
    # One line per failed request (a traceback may chain several exceptions).
    errors = len(re.findall(r"^(?:Unhandled|Unmapped) error on ", log, re.MULTILINE))
    errors = errors or log.count("Traceback (most recent call last)")
    if not errors:
        return 0
    kept = Path(tempfile.mkstemp(prefix=prefix, suffix=".log")[1])
    shutil.copyfile(log_path, kept)
    kinds: dict[str, int] = {}
    for line in log.splitlines():
        if re.match(r"^[a-zA-Z_.]+(Error|Exception)\b", line):
            kinds[line[:160]] = kinds.get(line[:160], 0) + 1
    print(f"{name} logged {errors} error(s); its log is kept in {kept}:")
    for kind, count in sorted(kinds.items(), key=lambda item: -item[1]):
        print(f"  {count} x {kind}")
    return errors


# -- CPU --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds used so far by every process (with its process group), and the machine's
    busy and total CPU seconds, read from /proc (empty where there is none)."""

    at: float
    processes: Mapping[int, tuple[int, float]]  # pid -> (process group, CPU seconds)
    busy: float
    total: float


def cpu_snapshot() -> CpuSnapshot:
    tick = float(os.sysconf("SC_CLK_TCK"))
    processes: dict[int, tuple[int, float]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            # utime + stime; fields[2] is the process group
            processes[int(stat.parent.name)] = (
                int(fields[2]),
                (int(fields[11]) + int(fields[12])) / tick,
            )
    busy = total = 0.0
    with contextlib.suppress(OSError, ValueError):
        # user nice system idle iowait irq softirq steal (guest time is already in user)
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        total = float(sum(values)) / tick
        busy = total - float(values[3] + values[4]) / tick  # minus idle and iowait
    return CpuSnapshot(time.monotonic(), processes, busy, total)


@dataclass(frozen=True)
class Cores:
    """Cores kept busy between two snapshots."""

    groups: Mapping[int, float]  # process group -> cores
    per_process: Mapping[int, float]  # pid (in those groups) -> cores
    pids: float  # the listed processes (the benchmark's own)
    machine: float  # everything

    def other(self) -> float:
        """Everything but the listed groups and processes: other people's work."""
        return self.machine - sum(self.groups.values()) - self.pids


def cores_between(
    before: CpuSnapshot, after: CpuSnapshot, groups: Collection[int], pids: Collection[int]
) -> Cores:
    wall = after.at - before.at
    per_group = dict.fromkeys(groups, 0.0)
    per_process: dict[int, float] = {}
    listed = 0.0
    for pid, (group, used) in after.processes.items():
        earlier = before.processes.get(pid)
        delta = (used - earlier[1] if earlier else used) / wall
        if group in per_group:
            per_group[group] += delta
            per_process[pid] = delta
        elif pid in pids:
            listed += delta
    span = after.total - before.total
    machine = (after.busy - before.busy) / span * (os.cpu_count() or 1) if span else 0.0
    return Cores(per_group, per_process, listed, machine)


# -- statistics -------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    return "n/a"
