"""Detection benchmark (issue 5): a tenant's people and attackers through the real server on a
simulated clock, and the same attempts through Odoo's, fail2ban's and Keycloak's policies.

    .venv/bin/python -m bench.detection [--quick] [--seed N] [--users N] [--no-bot]
        [--no-latency] [--redis-url redis://127.0.0.1:6379/0] [--markdown FILE] [--keep]

See docs/benchmarks.md, "Detection". Nothing is asserted; the targets are printed with the table.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass

import httpx
from bench._common import loopback_only
from bench.detection import attacks, report
from bench.detection.attribution import explain, read_events
from bench.detection.bot import run_bot
from bench.detection.browser import TIMINGS
from bench.detection.flows import Env, attack_flow, replay_flow, visit_flow
from bench.detection.latency import run_apart as run_latency
from bench.detection.metrics import baseline_results, bastion_rows
from bench.detection.outbox import Outbox
from bench.detection.outcomes import Log
from bench.detection.population import (
    Person,
    Visit,
    build_town,
    plan_trips,
    plan_visits,
    zone_epoch,
)
from bench.detection.sched import ClockFile, Scheduler
from bench.detection.server import add_people, served, staged
from bench.detection.world import World


@dataclass(frozen=True)
class Size:
    users: int
    days: int  # from a Monday
    measured_from: int  # the first measured day (a Monday)
    naive_per_ip: int
    distributed: int
    takeovers: int  # per variant
    replays: int
    latency_users: int
    latency_rounds: int
    latency_samples: int


FULL = Size(80, 19, 14, 100, 1000, 80, 30, 60, 6, 2000)  # 2,000: a p99 of 400 moved 1.3x
QUICK = Size(30, 10, 7, 40, 300, 20, 6, 30, 3, 100)
SMOKE = Size(10, 9, 7, 10, 40, 5, 3, 10, 2, 20)  # does every part run? (numbers mean nothing)


def sim_start() -> dt.datetime:
    """A Monday 00:00 UTC four to five weeks ahead: every time the server sees is in its future
    (so Redis expiry, which runs on real time, never ends a simulated flag early)."""
    day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=28)
    day += dt.timedelta(days=(7 - day.weekday()) % 7)
    return dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)


@dataclass
class Plan:
    people: list[Person]
    visits: list[Visit]
    attempts: list[attacks.Attempt]
    replays: list[attacks.Replay]
    end: float


def plan(size: Size, seed: int, start: dt.datetime, world: World) -> Plan:
    rng = random.Random(seed)
    town = build_town(world, rng, size.users)
    plan_trips(town, world, rng, size.days)
    visits = plan_visits(town, world, rng, start, size.days, size.measured_from)
    people, m = town.people, size.measured_from

    def at(day: int, hour: float) -> float:
        return zone_epoch(start, day, hour, "Europe/Paris")

    attempts = attacks.naive_stuffing(world, people, rng, at(m, 10.5), size.naive_per_ip, 4)
    attempts += attacks.distributed_stuffing(
        world, people, rng, at(m + 1, 1.0), size.distributed, 6.0, 10
    )
    attempts += attacks.spraying(world, people, rng, at(m + 2, 14.0), 10.0)
    days = range(m, size.days)
    for abroad in (False, True):
        times = sorted(at(rng.choice(days), rng.uniform(8.5, 18)) for _ in range(size.takeovers))
        attempts += attacks.targeted(world, people, rng, times, abroad)
    candidates = [v for v in visits if v.measured and v.where != "trip"]
    victims = rng.sample(candidates, min(size.replays, len(candidates)))
    replays = attacks.replays(world, victims, rng)
    end = max([v.at for v in visits] + [a.at for a in attempts]) + 3 * 3600
    return Plan(people, visits, attempts, replays, end)


async def simulate(
    base_url: str, outbox: Outbox, p: Plan, totp: dict[int, str], clock: ClockFile, seed: int
) -> tuple[Log, int]:
    log = Log()
    scheduler = Scheduler(clock)
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(
        base_url=base_url, timeout=120.0, limits=limits, follow_redirects=False
    ) as client:
        env = Env(scheduler, client, asyncio.Semaphore(12), outbox, random.Random(seed), log)
        env.victims = {r.victim.id for r in p.replays}
        for visit in p.visits:
            scheduler.spawn(visit_flow(env, visit, totp))
        by_client: dict[str, list[attacks.Attempt]] = {}
        for attempt in sorted(p.attempts, key=lambda a: a.at):
            by_client.setdefault(attempt.client, []).append(attempt)
        for client_attempts in by_client.values():
            scheduler.spawn(attack_flow(env, client_attempts))
        for replay in p.replays:
            scheduler.spawn(replay_flow(env, replay))
        await scheduler.run()
    return log, scheduler.batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 people, 10 days (~2 minutes)")
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--users", type=int, help="people in the tenant (default 80, quick 30)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-bot", action="store_true", help="skip the headless Chromium bot")
    parser.add_argument("--no-latency", action="store_true", help="skip the in-process timing")
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/0",
        help="Redis on loopback, for the latency on the Redis state ('' to skip)",
    )
    parser.add_argument("--markdown", help="also write the tables to this file")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument("--save", help="write every attempt and visit to this JSON file")
    args = parser.parse_args()
    loopback_only(args.redis_url or None, "--redis-url")
    size = SMOKE if args.smoke else QUICK if args.quick else FULL
    if args.users:
        size = Size(args.users, *list(size.__dict__.values())[1:])
    began = time.monotonic()
    start = sim_start()
    world = World.build()
    p = plan(size, args.seed, start, world)
    print(
        f"{len(p.people)} people, {len(p.visits)} visits over {size.days} days "
        f"(measured from day {size.measured_from}), {len(p.attempts)} attack attempts, "
        f"{len(p.replays)} stolen sessions",
        flush=True,
    )
    bot_tries = []
    with staged(world, start.timestamp() - 3600, args.keep) as stage:
        totp = add_people(stage, p.people, start.timestamp() - 3600)
        with served(stage, args.workers) as server:
            print(f"serving on {server.url}; simulating...", flush=True)
            sim_began = time.monotonic()
            log, batches = asyncio.run(
                simulate(server.url, Outbox(stage.outbox), p, totp, stage.clock, args.seed)
            )
            sim_seconds = time.monotonic() - sim_began
            print(f"simulated in {sim_seconds:.0f} s ({batches} batches)", flush=True)
            if not args.no_bot:
                breached = next((x for x in p.people if x.breached), p.people[0])
                credentials = [
                    (breached.login, breached.password, True),
                    ("j.smith1984@gmail.com", "Password123!", False),
                ]
                rng = random.Random(args.seed + 1)
                addresses = [world.address("us-digitalocean", rng) for _ in range(4)]
                stage.clock.run_from(p.end)
                try:
                    bot_tries = asyncio.run(run_bot(server.url, credentials, addresses))
                finally:
                    stage.clock.stop()
        events = read_events(stage.database)
    whys = explain(log, events)
    bastion = bastion_rows(log)
    baselines = baseline_results(log)
    timings = {}
    if not args.no_latency:
        timings = run_latency(
            args.redis_url or None, size.latency_users, size.latency_rounds, size.latency_samples
        )
    text = report.render(
        size=size,
        log=log,
        bastion=bastion,
        baselines=baselines,
        whys=whys,
        events=events,
        bot=bot_tries,
        timings=timings,
        seconds=time.monotonic() - began,
        anonymous=world.anonymous,
    )
    print(text)
    print("Requests (count, median ms): " + ", ".join(
        f"{name} {len(times)}, {statistics.median(times) * 1000:.0f}"
        for name, times in sorted(TIMINGS.items())
    ))  # fmt: skip
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as handle:
            handle.write(text)
    if args.save:
        with open(args.save, "w", encoding="utf-8") as handle:
            json.dump(dataclasses.asdict(log), handle)
    if log.errors:
        print(f"{len(log.errors)} driver errors, first: {log.errors[:3]}", file=sys.stderr)


if __name__ == "__main__":
    main()
