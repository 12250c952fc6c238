"""The risk engine's own cost per sign-in, in this process, without any password hash: the
tenant's detectors over a realistic state (users with weeks of history, counters filled by
failures), on SQLite and on Redis, as the server runs them: each decision's row is inserted
in the transaction of the attempt's audit entry (opened and committed around it here, not
timed: the sign-in writes that entry with or without the engine), and a completed sign-in
is learnt after its response has gone (timed apart: "learn")."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench._common import percentile
from bench.detection.agents import DESKTOP_MIX, pick
from bench.detection.agents import Agent as SimAgent

from bastion.bootstrap.risk import default_detectors
from bastion.core.database import sqlite_engine
from bastion.risk.engine import RiskEngine
from bastion.risk.events import RiskEvents
from bastion.risk.geo import place
from bastion.risk.schema import create_risk_tables
from bastion.risk.signals import Agent, BrowserSignals, LoginSignal
from bastion.risk.state import RiskState
from bastion.risk.state_redis import RedisRiskState
from bastion.risk.state_sql import SqlRiskState
from bastion.risk.useragent import parse_agent

_NETWORKS = [(3215, "Orange S.A.", "FR"), (12322, "Free SAS", "FR"), (15557, "SFR", "FR"),
             (5432, "Proximus NV", "BE"), (8220, "COLT", "FR")]  # fmt: skip
_REPORT = BrowserSignals(present=True, pointer_events=20, key_events=30, fill_ms=6000)


@dataclass
class _User:
    uid: int
    login: str
    ip: str
    network: tuple[int, str, str]
    agent: Agent
    device: str


@dataclass
class Timings:
    before: list[float] = field(default_factory=list)
    succeeded: list[float] = field(default_factory=list)
    learn: list[float] = field(default_factory=list)
    failed: list[float] = field(default_factory=list)
    per_login: list[float] = field(default_factory=list)  # before + succeeded: the request path
    calls: dict[str, float] = field(default_factory=dict)  # state operations per stage (mean)

    def summary(self) -> dict[str, tuple[float, float]]:
        """(p50, p99) in milliseconds per stage."""
        return {
            name: (percentile(values, 50) * 1000, percentile(values, 99) * 1000)
            for name, values in (
                ("before", self.before),
                ("succeeded", self.succeeded),
                ("learn", self.learn),
                ("failed", self.failed),
                ("per sign-in", self.per_login),
            )
        }


class Counting:
    """A state that counts the calls asked of it: each is one round trip on Redis, one or a
    few statements in SQL (where a stage's calls share one read and, if it writes, one
    write transaction). Opening a batch is not a call."""

    def __init__(self, state: RiskState) -> None:
        self._state = state
        self.count = 0

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._state, name)
        if not callable(found) or name == "batch":
            return found

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return found(*args, **kwargs)

        return counted


def _users(rng: random.Random, count: int) -> list[_User]:
    users = []
    for uid in range(1, count + 1):
        network = rng.choice(_NETWORKS)
        browser = SimAgent.new(pick(DESKTOP_MIX, rng), rng, "Europe/Paris", "fr-FR,fr")
        users.append(
            _User(uid, f"user{uid}@acme.example", f"10.{uid % 200}.{rng.randrange(256)}.7",
                  network, parse_agent(browser.user_agent(0)), uuid.uuid4().hex)
        )  # fmt: skip
    return users


def _signal(user: _User, at: float) -> LoginSignal:
    asn, name, country = user.network
    return LoginSignal(
        tenant="bench",
        login=user.login,
        at=dt.datetime.fromtimestamp(at, dt.UTC),
        place=place(user.ip, asn, name, country),
        agent=user.agent,
        uid=user.uid,
        device=user.device,
        device_known=True,
        browser=_REPORT,
    )


def _fill(
    engine: RiskEngine, users: list[_User], rng: random.Random, rounds: int, at: float
) -> float:
    """Weeks of sign-ins (each learnt) and a background of failures from many addresses."""
    for _ in range(rounds):
        for user in users:
            at += rng.uniform(5, 60)
            before = _signal(user, at)
            engine.assess(before)
            succeeded = replace(before, stage="succeeded")
            engine.assess(succeeded)
            engine.learn(succeeded)
        for _ in range(len(users) // 2):
            at += rng.uniform(1, 10)
            ip = f"10.{rng.randrange(200, 250)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            signal = LoginSignal(
                tenant="bench", login=f"x{rng.randrange(10**6)}@mail.example",
                at=dt.datetime.fromtimestamp(at, dt.UTC), place=place(ip, 7922, "Comcast", "US"),
                agent=Agent(browser="Chrome", browser_major="141", os="Windows", device="desktop"),
            )  # fmt: skip
            engine.assess(signal)
            engine.assess(replace(signal, stage="failed", attempt_tag=f"{rng.randrange(10**9):x}"))
    return at


def measure(state: RiskState, events: RiskEvents, users: int, rounds: int, samples: int) -> Timings:
    rng = random.Random(7)
    engine = RiskEngine(default_detectors(), state, None, events)
    people = _users(rng, users)
    at = _fill(engine, people, rng, rounds, 1_900_000_000.0)
    timings = Timings()
    timings.calls = _count_calls(state, events, people, rng, at)
    at += 86_400
    for _ in range(samples):
        user = rng.choice(people)
        at += rng.uniform(5, 60)
        before = _signal(user, at)
        first = _timed(engine, events, before)
        succeeded = replace(before, stage="succeeded")
        second = _timed(engine, events, succeeded)
        t0 = time.perf_counter()
        engine.learn(succeeded)
        timings.learn.append(time.perf_counter() - t0)
        timings.before.append(first)
        timings.succeeded.append(second)
        timings.per_login.append(first + second)
        wrong = replace(before, login=f"y{rng.randrange(10**6)}@mail.example", uid=None)
        failed = replace(wrong, stage="failed", attempt_tag=f"{rng.randrange(16**16):016x}")
        timings.failed.append(_timed(engine, events, failed))
    return timings


def _timed(engine: RiskEngine, events: RiskEvents, signal: LoginSignal) -> float:
    """Seconds the engine adds to one stage: its assessment, and its decision's row inserted
    in the audit entry's transaction (which the sign-in opens and commits anyway)."""
    t0 = time.perf_counter()
    assessment = engine.assess(signal, record=False)
    assessed = time.perf_counter() - t0
    with events.engine.begin() as conn:  # stands for the audit entry's transaction
        t1 = time.perf_counter()
        engine.record(signal, assessment, conn)
        return assessed + time.perf_counter() - t1


def _count_calls(
    state: RiskState, events: RiskEvents, people: list[_User], rng: random.Random, at: float
) -> dict[str, float]:
    counting = Counting(state)
    engine = RiskEngine(default_detectors(), counting, None, events)
    totals = {"before": 0, "succeeded": 0, "learn": 0, "failed": 0}
    rounds = 50
    for _ in range(rounds):
        user = rng.choice(people)
        at += rng.uniform(5, 60)
        before = _signal(user, at)
        succeeded = replace(before, stage="succeeded")
        failed = replace(before, stage="failed", attempt_tag=f"{rng.randrange(16**16):016x}")
        for name in totals:
            counting.count = 0
            if name == "learn":
                engine.learn(succeeded)
            else:
                engine.assess({"before": before, "succeeded": succeeded, "failed": failed}[name])
            totals[name] += counting.count
    return {name: total / rounds for name, total in totals.items()}


@contextlib.contextmanager
def _sqlite() -> Iterator[Any]:
    with tempfile.TemporaryDirectory(prefix="bastion-bench-latency-") as directory:
        engine = sqlite_engine(Path(directory) / "risk.sqlite3")
        create_risk_tables(engine)
        try:
            yield engine
        finally:
            engine.dispose()


def run(redis_url: str | None, users: int, rounds: int, samples: int) -> dict[str, Timings]:
    results: dict[str, Timings] = {}
    with _sqlite() as engine:
        print(f"latency: SQLite state, {users} users x {rounds} sign-ins...", flush=True)
        results["SQLite"] = measure(
            SqlRiskState(engine), RiskEvents(engine), users, rounds, samples
        )
    if redis_url:
        import redis

        client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=2)
        prefix = f"bastion-bench-latency:{uuid.uuid4().hex}:"
        try:
            client.ping()
        except redis.RedisError:
            print(f"latency: Redis at {redis_url} is not reachable; skipped", flush=True)
            return results
        try:
            with _sqlite() as engine:
                print(f"latency: Redis state, {users} users x {rounds} sign-ins...", flush=True)
                state = RedisRiskState(client, prefix)
                results["Redis"] = measure(state, RiskEvents(engine), users, rounds, samples)
        finally:
            keys = list(client.scan_iter(match=prefix + "*", count=1000))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start : start + 500])
            client.close()
    return results


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000 if values else float("nan")


def run_apart(redis_url: str | None, users: int, rounds: int, samples: int) -> dict[str, Timings]:
    """`run` in a process of its own: the caller's heap (a whole simulation's log) would
    make every collection of the garbage collector scan it, and those pauses are the
    bench's, not the engine's."""
    command = [sys.executable, "-m", "bench.detection.latency", str(users), str(rounds),
               str(samples), redis_url or ""]  # fmt: skip
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    lines = done.stdout.splitlines()
    print("\n".join(lines[:-1]), flush=True)
    return {state: Timings(**fields) for state, fields in json.loads(lines[-1]).items()}


if __name__ == "__main__":
    found = run(sys.argv[4] or None, int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
    print(json.dumps({state: dataclasses.asdict(t) for state, t in found.items()}))
