"""`make security`: sqlmap against every API endpoint of a real `bastion serve`; zero injectable
parameters, or the job fails.

A demo tenant is made in a temporary data directory and served on 127.0.0.1 only. The scan acts
as the restricted demo user `sales`: a scoped API key for the RPC, /json/2 and REST endpoints,
a cookie session for /web/dataset/call_kw. Each endpoint (see `targets.py`) gets one sqlmap run
on a raw request with `*` markers; `results.py` decides whether the run found anything and
whether it proves anything. Exit status: 0 pass (or sqlmap missing outside CI), 1 fail.

    .venv/bin/python tests/security/sqlmap/scan.py [--only json] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for `support`

from results import Outcome, judge, table
from targets import Caller, Target, targets

from bastion.settings import Settings
from support.live_server import PASSWORD, LiveServer, init_tenant, serve
from support.rpc import make_key, user_id

DB = "demo"
#: The restricted demo user: internal, sales rights only, no second factor (a cookie session).
LOGIN = "sales"
#: The scan's own user agent, also on the session sign-in: a session is bound to its device.
USER_AGENT = "bastion-security-scan (sqlmap)"
CI = os.environ.get("CI", "").lower() == "true"
#: Per sqlmap run: far above what a run needs (about half a minute), so only a hang trips it.
RUN_TIMEOUT = 600.0

# Why these options (the whole job must stay within about five minutes on two shared cores):
# --level 2   more boundaries (prefix/suffix pairs) than level 1 for every payload, cheap on
#             marked points; level 3+ adds User-Agent/Referer/Host places we do not mark and
#             triples the requests per point for boundaries no ORM query has.
# --risk 1    risk 2 adds heavy time-based queries, risk 3 OR-based payloads that would update
#             every row if they ever worked: neither adds a way in that risk 1 does not test.
# --technique BEUST   all five detection techniques. Time-based (T) and stacked queries (S)
#             cost requests, not sleeps, when nothing is injectable; a slow response under
#             load is re-verified by sqlmap before it is believed.
# No --dbms: the server must resist payloads for every DBMS (the demo runs SQLite, production
#             PostgreSQL); heuristics would narrow it if an error ever leaked one.
SQLMAP_OPTIONS = (
    "--batch",
    "--level=2",
    "--risk=1",
    "--technique=BEUST",
    "--flush-session",
    "--disable-coloring",
    # The scan's cookies are the signed-in session's; whatever the server sets must not
    # replace them halfway through.
    "--drop-set-cookie",
    "--timeout=30",
    "--retries=1",
    # sqlmap's threads speed up data retrieval, not detection: the scan runs targets side by
    # side instead (--jobs, two by default, with as many server workers).
    "--threads=1",
    # Not a terminal: without this sqlmap reads its targets from the (empty) standard input.
    "--ignore-stdin",
    # If one point is injectable, test the others too (batch mode would stop there).
    "--answers=keep testing=Y",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="scan only targets whose name contains this")
    parser.add_argument("--jobs", type=int, default=2, help="sqlmap runs at once (and workers)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    sqlmap = shutil.which("sqlmap")
    if sqlmap is None:
        if CI:
            print("FAIL: sqlmap is required under CI=true (Debian package `sqlmap`).")
            return 1
        print("SKIPPED: sqlmap is not installed (Debian package `sqlmap`).")
        return 0
    work = Path(tempfile.mkdtemp(prefix="bastion-sqlmap-"))
    try:
        return scan(Path(sqlmap), work, args.only, args.jobs)
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def scan(sqlmap: Path, work: Path, only: str, jobs: int) -> int:
    started = time.monotonic()
    data_dir = work / "var"
    init_tenant(data_dir, DB, demo=True)
    settings = Settings(data_dir=data_dir)
    # Scoped as a real integration would be: one model, so the key's scope is exercised too.
    key = make_key(settings, LOGIN, now=dt.datetime.now(dt.UTC), models=("res.partner",))
    uid = user_id(settings, LOGIN)
    with serve(data_dir, workers=jobs) as server:
        caller, record_id = sign_in(server, uid, key)
        chosen = [t for t in targets(caller, record_id) if only in t.name]
        if not chosen:
            print(f"FAIL: no target's name contains {only!r}")
            return 1
        print(f"sqlmap {sqlmap_version(sqlmap)}; {len(chosen)} targets at {server.url}")
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            outcomes = list(pool.map(lambda t: run_target(sqlmap, work, server, t), chosen))
        server_log = server.log()
    problems = server_problems(server_log)
    print()
    print(table(outcomes))
    for problem in problems:
        print(f"server: {problem}")
    passed = all(o.passed for o in outcomes) and not problems
    injectable = sum(len(o.injectable) for o in outcomes)
    tested = sum(len(o.tested) for o in outcomes)
    verdict = "PASS" if passed else "FAIL"
    print(
        f"\n{verdict}: {injectable} injectable of {tested} tested parameters on "
        f"{len(outcomes)} targets in {time.monotonic() - started:.0f} s"
    )
    return 0 if passed else 1


def sign_in(server: LiveServer, uid: int, key: str) -> tuple[Caller, int]:
    """A cookie session of LOGIN, and the id of a partner LOGIN can read (for the REST id)."""
    headers = {"user-agent": USER_AGENT}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        params = {"db": DB, "login": LOGIN, "password": PASSWORD}
        call = {"jsonrpc": "2.0", "method": "call", "params": params, "id": 1}
        response = client.post("/web/session/authenticate", json=call)
        if response.status_code != 200 or "result" not in response.json():
            raise SystemExit(f"FAIL: {LOGIN} could not sign in: HTTP {response.status_code}")
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        listed = client.get(
            "/api/v1/res.partner", params={"limit": "1"}, headers={"authorization": f"bearer {key}"}
        )
        if listed.status_code != 200 or not listed.json().get("records"):
            raise SystemExit(f"FAIL: the API key cannot list partners: HTTP {listed.status_code}")
        record_id = int(listed.json()["records"][0]["id"])
    return Caller(server.url, DB, uid, key, cookie, USER_AGENT), record_id


def run_target(sqlmap: Path, work: Path, server: LiveServer, target: Target) -> Outcome:
    slug = re.sub(r"[^a-z0-9]+", "-", target.name.lower()).strip("-")
    folder = work / slug
    folder.mkdir()
    started = time.monotonic()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        baseline = target.send_baseline(client)
    if not target.succeeded(baseline.status_code, baseline.text):
        outcome = Outcome(target.name, len(target.points))
        outcome.problems.append(
            f"the unmodified request failed: HTTP {baseline.status_code} {baseline.text[:300]!r}"
        )
        return outcome
    request_file = folder / "request.txt"
    request_file.write_text(target.raw_request(f"127.0.0.1:{server.port}"), "utf-8")
    request_file.chmod(0o600)  # it holds the key (the tenant and the key die with the scan)
    traffic = folder / "traffic.txt"
    command = [str(sqlmap), "-r", str(request_file), *SQLMAP_OPTIONS]
    command += [f"--output-dir={folder / 'output'}", f"-t{traffic}"]
    # sqlmap keeps history and sessions under $HOME: keep them in the work directory too.
    env = {**os.environ, "HOME": str(folder), "TERM": "dumb"}
    try:
        done = subprocess.run(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        console, code = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as exc:
        console, code = f"{exc.stdout or ''}{exc.stderr or ''}", -1
    (folder / "console.txt").write_text(console, "utf-8")
    recorded = traffic.read_text("utf-8", errors="replace") if traffic.exists() else ""
    outcome = judge(
        target.name, len(target.points), console, recorded, target.succeeded, exit_code=code
    )
    outcome.seconds = time.monotonic() - started
    print(f"  {target.name}: {'pass' if outcome.passed else 'FAIL'} ({outcome.seconds:.0f} s)")
    return outcome


def sqlmap_version(sqlmap: Path) -> str:
    done = subprocess.run(
        [str(sqlmap), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    return done.stdout.strip().splitlines()[0] if done.stdout.strip() else "(unknown version)"


def server_problems(log: str) -> list[str]:
    """5xx answers and tracebacks the server logged while it was scanned."""
    errors = re.findall(r'.*" 5\d\d .*', log)
    problems = [f"answered {line.strip()}" for line in errors[:10]]
    if len(errors) > 10:
        problems.append(f"... {len(errors) - 10} more 5xx answers")
    if "Traceback" in log:
        problems.append("logged a traceback (see serve.log with --keep)")
    return problems


if __name__ == "__main__":
    sys.exit(main())
