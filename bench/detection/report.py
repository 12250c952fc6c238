"""The tables, in Markdown (printed, and pasted into docs/benchmarks.md)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench.detection.attribution import Event, Why, score_summary, succeeded_events, sweep
from bench.detection.bot import BotTry
from bench.detection.latency import Timings
from bench.detection.metrics import BaselineResult, Row, friction, replay_table
from bench.detection.outcomes import STOPPED, Log

ORDER = (
    "naive stuffing",
    "distributed stuffing",
    "password spraying",
    "takeover, VPN same country",
    "takeover, abroad",
)
TAKEOVERS = ORDER[3:]
STUFFING = ORDER[:3]


def _pct(part: float, whole: float) -> str:
    if not whole:
        return "-"
    share = 100.0 * part / whole
    return f"{share:.1f}%" if share not in (0.0, 100.0) else f"{share:.0f}%"


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]], align: str = "") -> list[str]:
    align = align or "l" + "r" * (len(header) - 1)
    marks = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _top(counter: Counter[str], n: int = 4) -> str:
    return ", ".join(f"{name} ({count})" for name, count in counter.most_common(n)) or "-"


def render(
    *,
    size: Any,
    log: Log,
    bastion: dict[str, Row],
    baselines: dict[str, BaselineResult],
    whys: dict[str, Why],
    events: list[Event],
    bot: list[BotTry],
    timings: dict[str, Timings],
    seconds: float,
    anonymous: Callable[[str], bool],
) -> str:
    out: list[str] = []
    scenarios = [s for s in ORDER if s in bastion] + [s for s in bastion if s not in ORDER]
    out.append(
        f"{size.users} people, {size.days} simulated days (the last "
        f"{size.days - size.measured_from} measured), run in {seconds / 60:.1f} min."
    )
    out += ["", "**Attacks (Bastion, through the server)**", ""]
    rows: list[tuple[Any, ...]] = []
    for name in scenarios:
        r = bastion[name]
        rows.append((
            name, r.attempts, _pct(r.stopped, r.attempts), _pct(r.before_password, r.attempts),
            r.verified,
            r.detected_after if name in STUFFING and r.detected_after is not None else "-",
            r.verified_after_detection if name in STUFFING else "-", r.valid, r.taken_over,
        ))  # fmt: skip
    out += _table(
        ("scenario", "attempts", "stopped", "before password", "passwords checked",
         "detected after", "checked after detection", "right passwords", "taken over"),
        rows,
    )  # fmt: skip
    answers = "; ".join(
        f"{name}: " + ", ".join(f"{k} {n}" for k, n in bastion[name].outcomes.most_common())
        for name in scenarios
    )
    out += ["", f"Answers: {answers}."]
    out += ["", "**The same attempts under other policies** (stopped; accounts taken over)", ""]
    rows = []
    for name in scenarios:
        cells: list[Any] = [name, f"{_pct(bastion[name].stopped, bastion[name].attempts)}; "
                 f"{bastion[name].taken_over}"]  # fmt: skip
        for result in baselines.values():
            row = result.rows.get(name, Row())
            cells.append(f"{_pct(row.stopped, row.attempts)}; {row.taken_over}")
        rows.append(tuple(cells))
    out += _table(("scenario", "Bastion", *baselines), rows)
    out += ["", "**People** (a visit: one person getting in, typos and codes included)", ""]
    rows = []
    for label, in_week in (("measured days", True), ("history days", False)):
        f = friction(log.visits, measured=in_week)
        cells = [label, f.visits, f.challenged, _pct(f.challenged, f.visits), f.denied,
                 f.session, f.expected_mfa]  # fmt: skip
        for result in baselines.values():
            cells.append(
                result.legit_denied if in_week else result.legit_denied_all - result.legit_denied
            )
        rows.append(tuple(cells))
    out += _table(
        ("period", "visits", "challenged by risk", "rate", "denied", "session friction",
         "usual 2FA", *[f"{name} denied" for name in baselines]),
        rows,
    )  # fmt: skip
    measured = friction(log.visits, measured=True)
    out.append("")
    out.append(
        f"Challenged visits by kind: {_top(measured.by_kind)}; by place: "
        f"{_top(measured.by_where, 6)}; denials: {_top(measured.denials)}."
    )
    out += ["", "**Stolen session cookies replayed**", ""]
    rows = []
    for variant, counts in replay_table(log).items():
        total = sum(counts.values()) - counts.get("n/a", 0)
        rows.append((variant, total, counts.get("revoked", 0), counts.get("challenged", 0),
                     counts.get("allowed", 0)))  # fmt: skip
    out += _table(
        ("the thief's browser", "replays", "revoked at once", "challenged", "allowed"), rows
    )
    out += ["", "**Headless Chromium bot** (Playwright, through the login page)", ""]
    bot_events = _bot_findings(bot, events)
    rows = [
        (t.variant, t.login if not t.correct else "(right password)", t.outcome,
         bot_events.get(t.ip, "-"))
        for t in bot
    ]  # fmt: skip
    out += _table(("variant", "login", "outcome", "findings"), rows, "llll")
    if timings:
        out += ["", "**Risk engine latency per sign-in** (in-process, no password hash; ms; "
                "per sign-in = before + succeeded, the request path; learn runs after the "
                "response)", ""]  # fmt: skip
        rows = []
        for state, t in timings.items():
            s = t.summary()
            rows.append((state, *(f"{p50:.2f} / {p99:.2f}" for p50, p99 in s.values())))
        out += _table(
            ("state", *[f"{k} p50 / p99" for k in next(iter(timings.values())).summary()]), rows
        )
        calls = "; ".join(
            f"{state} " + " / ".join(f"{n:.0f}" for n in t.calls.values())
            for state, t in timings.items()
        )
        out += ["", f"State calls (each a round trip on Redis) per before / succeeded / "
                f"learn / failed: {calls}."]  # fmt: skip
    out += ["", "**What decided** (findings on the events that stopped attempts)", ""]
    rows = []
    for name in [*scenarios, "legit"]:
        why = whys.get(name)
        if why is None:
            continue
        rows.append((name, _top(why.findings), score_summary(why.passed_scores),
                     _top(why.passed_findings, 3)))  # fmt: skip
    out += _table(
        ("who", "stopped by", "right passwords let through", "their findings"), rows, "llll"
    )
    table = sweep(succeeded_events(log, events), (20, 25, 30, 35, 40), anonymous)
    out += ["", "**What if the challenge threshold moved** (right passwords whose \"succeeded\" "
            "score reaches it: people on measured days, and takeovers)", ""]  # fmt: skip
    out += _table(table[0], table[1:])
    out += ["", "**Targets**", ""]
    out += _table(
        ("target", "result", "met"), _targets(bastion, log, bot, bot_events, timings), "lll"
    )
    return "\n".join(out) + "\n"


def _bot_findings(bot: list[BotTry], events: list[Event]) -> dict[str, str]:
    ips = {t.ip for t in bot}
    found: dict[str, Counter[str]] = {ip: Counter() for ip in ips}
    for event in events:
        if event.ip in ips:
            found[event.ip].update(f"{d}:{c}" for d, c, _ in event.findings if d == "bots")
    return {ip: ", ".join(sorted(c)) or "none" for ip, c in found.items()}


def _targets(
    bastion: dict[str, Row],
    log: Log,
    bot: list[BotTry],
    bot_events: dict[str, str],
    timings: dict[str, Timings],
) -> list[tuple[str, str, str]]:
    rows = []
    for name in TAKEOVERS:
        r = bastion.get(name)
        if r is not None:
            share = r.stopped / r.attempts if r.attempts else math.nan
            rows.append((f"{name}: >= 99% stopped", f"{_pct(r.stopped, r.attempts)}",
                         "yes" if share >= 0.99 else "**no**"))  # fmt: skip
    for name in STUFFING:
        r = bastion.get(name)
        if r is not None:
            rows.append((f"{name}: no password checked once detected",
                         f"{r.verified_after_detection} checked after detection",
                         "yes" if r.verified_after_detection == 0 else "**no**"))  # fmt: skip
    f = friction(log.visits, measured=True)
    rows.append(("people: challenged <= 2%", _pct(f.challenged, f.visits),
                 "yes" if f.visits and f.challenged <= 0.02 * f.visits else "**no**"))  # fmt: skip
    rows.append(("people: no denial", f"{f.denied} denied",
                 "yes" if f.denied == 0 else "**no**"))  # fmt: skip
    replays = [r for r in log.replays if r.first != "n/a" and "victim's" not in r.variant]
    revoked = sum(r.first == "revoked" for r in replays)
    rows.append(("stolen session (another device): revoked on its first request",
                 f"{revoked} of {len(replays)}",
                 "yes" if replays and revoked == len(replays) else "**no**"))  # fmt: skip
    flagged = [t for t in bot if bot_events.get(t.ip, "none") != "none" or t.outcome in STOPPED]
    rows.append(("headless Chromium flagged", f"{len(flagged)} of {len(bot)} attempts",
                 "yes" if bot and len(flagged) == len(bot) else "**no**"))  # fmt: skip
    for state, t in timings.items():
        p99 = t.summary()["per sign-in"][1]
        rows.append((f"engine p99 < 2 ms per sign-in ({state})", f"{p99:.2f} ms",
                     "yes" if p99 < 2 else "**no**"))  # fmt: skip
    return rows
