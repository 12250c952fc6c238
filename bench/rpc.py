"""RPC `search_read`: requests per second of Odoo's JSON-RPC `execute_kw` as a restricted user,
against a bare Starlette endpoint running the same query by hand, measured in the same run.

    .venv/bin/python bench/rpc.py [--quick] [--repeat N] [--seconds S] [--concurrency N]
        [--workers N] [--login L] [--limit N]

A demo tenant (`bastion init NAME --demo`, SQLite) is created in a temporary data directory and
served by a real `bastion serve --workers 2` on 127.0.0.1. On another loopback port, uvicorn
serves `bench/_rpc_ceiling.py` with as many workers and the same uvicorn settings: one Starlette
route that runs the hand-written SQL of the same answer (same columns, the filter that the
user's record rules imply, the same order and limit, many2one names) against the same SQLite
file, and replies in the same JSON-RPC shape. No sign-in, no access control, no middleware: the
practical ceiling.

The client signs in once (`common.login` with the user's password), then calls

    object.execute_kw(db, uid, password, "res.partner", "search_read", [[]],
                      {"fields": [...8 fields...], "limit": 80})

as Odoo's clients do: the password travels with every call. Both servers must give the same
80 records (the script refuses to compare otherwise). The load: a closed loop of N keep-alive
connections (`bench/_loadgen.py`, its own process), each sending the next call when the last
answer arrived; an answer counts only if it is byte for byte the expected one. The two sides
run alternately (Bastion, ceiling, Bastion, ...); the table gives the median requests per
second of each and their ratio (target >= 0.5), the latency, and how many cores the server,
the load generator and the rest of the machine used (from /proc). Nothing is asserted.
`--quick`: one 3 s run of each side. `--breakdown`: then the CPU of each step of one call,
measured in this process (bench/_rpc_breakdown.py).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import orjson

import _loadgen
from _common import (
    BASTION,
    Server,
    bastion_env,
    cores_between,
    cpu_snapshot,
    demo_tenant,
    free_port,
    load_average,
    percentile,
    random_password,
    report_server_errors,
    start_server,
    stop_server,
)
from _rpc_breakdown import breakdown
from _rpc_ceiling import FIELDS, MODEL

TARGET = 0.5
SIDES = ("bastion", "ceiling")
BENCH_DIR = Path(__file__).resolve().parent


# -- the servers ------------------------------------------------------------------------------


@contextlib.contextmanager
def servers(
    data_dir: Path, database: Path, companies: Sequence[int], workers: int
) -> Iterator[dict[str, Server]]:
    """Bastion and the ceiling, each in its own process group, until the block ends."""
    if BASTION is None:
        sys.exit("the bastion console script is not installed in this venv")
    started: dict[str, Server] = {}
    logs: list[IO[bytes]] = []
    try:
        port = free_port()
        log_path = data_dir / "bastion.log"
        logs.append(log_path.open("wb"))
        command = [BASTION, "serve", "--host", "127.0.0.1", "--port", str(port)]
        started["bastion"] = start_server(
            "bastion serve",
            [*command, "--workers", str(workers)],
            port=port,
            env=bastion_env(data_dir),
            cwd=data_dir,
            log_file=logs[-1],
            log_path=log_path,
            workers=workers,
            ready_path="/healthz",
        )
        port = free_port()
        log_path = data_dir / "ceiling.log"
        logs.append(log_path.open("wb"))
        env = bastion_env(data_dir) | {
            "BENCH_RPC_DATABASE": str(database),
            "BENCH_RPC_COMPANIES": ",".join(str(c) for c in companies),
        }
        # The same uvicorn settings as `bastion serve` (access log on, no server header).
        command = [sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH_DIR), "--factory"]
        command += ["_rpc_ceiling:create_app", "--host", "127.0.0.1", "--port", str(port)]
        command += ["--workers", str(workers), "--no-server-header", "--log-level", "info"]
        started["ceiling"] = start_server(
            "the ceiling",
            command,
            port=port,
            env=env,
            cwd=data_dir,
            log_file=logs[-1],
            log_path=log_path,
            workers=workers,
            ready_path="/healthz",
        )
        yield started
    finally:
        for server in started.values():
            stop_server(server.process)
            report_server_errors(server.name, server.log_path, "bastion-bench-rpc-")
        for log in logs:
            log.close()


# -- the call ---------------------------------------------------------------------------------


def jsonrpc(service: str, method: str, *args: Any) -> bytes:
    call = {"service": service, "method": method, "args": list(args)}
    return orjson.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": call})


def post(server: Server, body: bytes) -> httpx.Response:
    headers = {"content-type": "application/json"}
    response = httpx.post(server.url + "/jsonrpc", content=body, headers=headers, timeout=60)
    if response.status_code != 200:
        sys.exit(f"{server.name} answered {response.status_code}: {response.text[:300]}")
    return response


def result_of(server: Server, response: httpx.Response) -> Any:
    doc = response.json()
    if "error" in doc:
        sys.exit(f"{server.name} answered with an error: {str(doc['error'])[:300]}")
    return doc["result"]


def user_companies(database: Path, login: str) -> list[int]:
    """The companies of the acting user (what `company_ids` means in its record rules)."""
    with contextlib.closing(sqlite3.connect(database)) as conn:
        rows = conn.execute(
            "SELECT rel.cid FROM res_company_users_rel AS rel "
            "JOIN res_users AS u ON u.id = rel.user_id WHERE u.login = ? ORDER BY rel.cid",
            (login,),
        ).fetchall()
    if not rows:
        sys.exit(f"the demo tenant has no user '{login}' with a company")
    return [row[0] for row in rows]


def same_answer(servers: dict[str, Server], body: bytes, limit: int) -> dict[str, bytes]:
    """The expected body of each side, after checking that both give the same records."""
    expected = {side: post(servers[side], body).content for side in SIDES}
    results = {side: result_of(servers[side], post(servers[side], body)) for side in SIDES}
    if results["bastion"] != results["ceiling"]:
        first = next(
            (i for i, (a, b) in enumerate(zip(*results.values(), strict=False)) if a != b), None
        )
        sys.exit(
            "Bastion and the ceiling give different answers: the comparison would be unfair "
            f"({len(results['bastion'])} and {len(results['ceiling'])} records; first "
            f"difference at {first}: {results['bastion'][first] if first is not None else ''} "
            f"against {results['ceiling'][first] if first is not None else ''})"
        )
    if len(results["bastion"]) != limit:
        sys.exit(f"the user sees {len(results['bastion'])} partners, not {limit}")
    for side in SIDES:
        if orjson.loads(expected[side])["result"] != results[side]:
            sys.exit(f"{side}: two calls gave different answers")
    return expected


# -- the runs ---------------------------------------------------------------------------------


@dataclass
class Run:
    side: str
    rps: float
    latencies: list[float]
    errors: dict[str, int]
    server_cores: float
    worker_cores: list[float]
    client_cores: float
    other_cores: float


def one_run(
    side: str,
    server: Server,
    request: bytes,
    expected: bytes,
    loadgen: multiprocessing.connection.Connection,
    loadgen_pid: int,
    args: argparse.Namespace,
) -> Run:
    loadgen.send(
        ("run", server.port, request, expected, args.concurrency, args.lead_in, args.seconds)
    )
    first = loadgen.recv()
    if first != "measuring":
        sys.exit(f"the load generator failed: {first}")
    before = cpu_snapshot()
    if loadgen.recv() != "measured":
        sys.exit("the load generator lost step")
    after = cpu_snapshot()
    results = loadgen.recv()
    if "failed" in results:
        sys.exit(f"the load generator failed: {results['failed']}")
    group = server.process.pid
    cores = cores_between(before, after, [group], [os.getpid(), loadgen_pid])
    workers = sorted(
        (c for pid, c in cores.per_process.items() if pid != group and c > 0.01), reverse=True
    )
    return Run(
        side,
        results["requests"] / results["seconds"],
        results["latencies"],
        results["errors"],
        cores.groups[group],
        workers,
        results["client_cores"],
        cores.other(),
    )


def measure(
    servers: dict[str, Server], requests: dict[str, bytes], expected: dict[str, bytes],
    args: argparse.Namespace,
) -> list[Run]:  # fmt: skip
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_loadgen.main, args=(child,))
    process.start()
    runs: list[Run] = []
    try:
        for repeat in range(args.repeat):
            for side in SIDES:
                run = one_run(
                    side,
                    servers[side],
                    requests[side],
                    expected[side],
                    parent,
                    process.pid or 0,
                    args,
                )
                runs.append(run)
                split = "+".join(f"{c:.2f}" for c in run.worker_cores)
                print(
                    f"  run {repeat + 1}/{args.repeat} {side:<8} {run.rps:7.1f} req/s  "
                    f"p50 {percentile(run.latencies, 50) * 1000:6.1f} ms  "
                    f"cores: server {run.server_cores:.2f} (workers {split}), "
                    f"client {run.client_cores:.2f}, other {run.other_cores:.2f}"
                    + (f"  errors {run.errors}" if run.errors else ""),
                    flush=True,
                )
    finally:
        parent.send(("stop",))
        process.join(timeout=30)
        if process.is_alive():
            process.terminate()
    return runs


def report(runs: Sequence[Run], args: argparse.Namespace, loads: tuple[str, str]) -> None:
    by = {side: [r for r in runs if r.side == side] for side in SIDES}
    print()
    print(
        f"search_read of {args.limit} res.partner as '{args.login}' over /jsonrpc; "
        f"{args.workers} workers each; {args.concurrency} keep-alive connections; "
        f"{args.repeat} x {args.seconds:g} s per side, alternating; medians of the runs"
    )
    header = ("side", "req/s", "p50 ms", "p99 ms", "server", "client", "other", "errors")
    print("{:<8} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7} {:>7}".format(*header))
    medians = {}
    for side, side_runs in by.items():
        medians[side] = statistics.median(r.rps for r in side_runs)
        p50 = statistics.median(percentile(r.latencies, 50) for r in side_runs) * 1000
        p99 = statistics.median(percentile(r.latencies, 99) for r in side_runs) * 1000
        errors = sum(sum(r.errors.values()) for r in side_runs)
        print(
            f"{side:<8} {medians[side]:>8.1f} {p50:>8.1f} {p99:>8.1f} "
            f"{statistics.median(r.server_cores for r in side_runs):>7.2f} "
            f"{statistics.median(r.client_cores for r in side_runs):>7.2f} "
            f"{statistics.median(r.other_cores for r in side_runs):>7.2f} {errors:>7}"
        )
    ratio = medians["bastion"] / medians["ceiling"]
    per_run = [b.rps / c.rps for b, c in zip(by["bastion"], by["ceiling"], strict=True)]
    verdict = "ok" if ratio >= TARGET else "MISSED"
    print(
        f"ratio Bastion / ceiling: {ratio:.3f} (target >= {TARGET:g}: {verdict}); "
        f"per pair of runs: {', '.join(f'{r:.2f}' for r in per_run)}"
    )
    print(
        f"cores busy (of {os.cpu_count()}): server = its process group; client = the load "
        "generator; other = everything else on the machine"
    )
    print(f"load average at start: {loads[0]}; at the end: {loads[1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short run of each side")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each side")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per run")
    parser.add_argument("--lead-in", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per server")
    parser.add_argument("--login", default="sales", help="the demo user who calls")
    parser.add_argument("--limit", type=int, default=80, help="records per call")
    parser.add_argument(
        "--breakdown", action="store_true", help="then CPU per step of one call, in-process"
    )
    args = parser.parse_args()
    if args.quick:
        args.repeat, args.seconds = 1, 3.0
    loads_start = load_average()
    password = random_password()
    name = f"bench_rpc_{os.getpid()}"
    with demo_tenant("bastion-bench-rpc-", name, password) as data_dir:
        database = data_dir / "tenants" / name / "db.sqlite3"
        companies = user_companies(database, args.login)
        with servers(data_dir, database, companies, args.workers) as started:
            uid = result_of(
                started["bastion"],
                post(started["bastion"], jsonrpc("common", "login", name, args.login, password)),
            )
            if not isinstance(uid, int) or isinstance(uid, bool):
                sys.exit(f"signing in as {args.login} failed: {uid!r}")
            kwargs = {"fields": list(FIELDS), "limit": args.limit}
            body = jsonrpc(
                "object", "execute_kw", name, uid, password, MODEL, "search_read", [[]], kwargs
            )
            expected = same_answer(started, body, args.limit)
            requests = {
                side: _loadgen.http_request("127.0.0.1", started[side].port, "/jsonrpc", body)
                for side in SIDES
            }
            print(
                f"{args.login} (uid {uid}, companies {companies}) sees the same {args.limit} "
                f"partners on both sides; answer {len(expected['bastion'])} bytes "
                f"(Bastion), {len(expected['ceiling'])} bytes (ceiling)",
                flush=True,
            )
            started_at = time.monotonic()
            runs = measure(started, requests, expected, args)
            print(f"measured in {time.monotonic() - started_at:.0f} s")
        steps = []
        if args.breakdown:
            steps = breakdown(data_dir, name, args.login, password, args.limit)
    report(runs, args, (loads_start, load_average()))
    if steps:
        print()
        print("CPU per call, in this process, one thread (ms; steps nest as indented):")
        for label, ms in steps:
            print(f"  {label:<52} {ms:7.2f}")


if __name__ == "__main__":
    main()
