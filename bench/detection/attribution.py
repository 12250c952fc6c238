"""Which detectors decided: the server's own record of its decisions (`risk_event`), matched to
the benchmark's attempts by login, address and time (the clock is the benchmark's, so the
times are equal)."""

from __future__ import annotations

import json
import sqlite3
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.detection.outcomes import Log, LoginTry


@dataclass(frozen=True)
class Event:
    at: float
    stage: str
    login: str
    ip: str
    score: float
    action: str
    findings: tuple[tuple[str, str, float], ...]  # (detector, code, score)
    device_known: bool = False


def read_events(database: Path) -> list[Event]:
    if not database.is_file():
        return []
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT at, stage, login, ip, score, action, findings, device_known FROM risk_event "
            "WHERE kind = 'login'"
        ).fetchall()
    except sqlite3.Error:
        return []
    finally:
        conn.close()
    events = []
    for at, stage, login, ip, score, action, findings, known in rows:
        parsed = tuple(
            (str(f.get("detector")), str(f.get("code")), float(f.get("score") or 0))
            for f in json.loads(findings or "[]")
        )
        events.append(Event(at, stage or "", login or "", ip, score, action, parsed, bool(known)))
    return events


class Index:
    def __init__(self, events: list[Event]) -> None:
        self._by: dict[tuple[str, str], list[Event]] = defaultdict(list)
        for event in events:
            self._by[(event.login, event.ip)].append(event)

    def of(self, t: LoginTry) -> list[Event]:
        return [e for e in self._by.get((t.login.lower(), t.ip), ()) if abs(e.at - t.at) < 0.5]


@dataclass
class Why:
    findings: Counter[str]  # "detector:code" on the events that stopped attempts
    passed_scores: list[float]  # the "succeeded" scores of right passwords that got through
    passed_findings: Counter[str]


def explain(log: Log, events: list[Event]) -> dict[str, Why]:
    """Per scenario (and "legit" for the people's challenged visits): what stopped it, and for
    right passwords that got in, how they scored."""
    index = Index(events)
    challenged_visits = {v.visit_id for v in log.visits if v.challenges}
    whys: dict[str, Why] = defaultdict(lambda: Why(Counter(), [], Counter()))
    for t in log.tries:
        if t.who == "legit" and t.ref not in challenged_visits:
            continue
        why = whys[t.who]
        for event in index.of(t):
            names = {f"{d}:{c}" for d, c, _ in event.findings}
            if event.action != "allow":
                why.findings.update(names)
            elif event.stage == "succeeded" and t.correct:
                why.passed_scores.append(event.score)
                why.passed_findings.update(names)
    return dict(whys)


def score_summary(scores: list[float]) -> str:
    if not scores:
        return "-"
    return (
        f"{len(scores)} scored min {min(scores):.0f}, median {statistics.median(scores):.0f}, "
        f"max {max(scores):.0f}"
    )


def succeeded_events(log: Log, events: list[Event]) -> dict[str, list[Event]]:
    """The "succeeded" event of every right password (people on measured days, and each
    takeover scenario), for what-if thresholds: scores do not depend on the policy."""
    index = Index(events)
    measured = {v.visit_id for v in log.visits if v.measured}
    found: dict[str, list[Event]] = defaultdict(list)
    for t in log.tries:
        if not t.correct or (t.who == "legit" and t.ref not in measured):
            continue
        found[t.who].extend(e for e in index.of(t) if e.stage == "succeeded")
    return dict(found)


_NEW_NET = frozenset({"new-network", "new-country"})


def _codes(event: Event) -> set[str]:
    return {code for detector, code, _ in event.findings if detector == "login_model"}


def _over(threshold: float) -> Callable[[Event], bool]:
    return lambda event: event.score >= threshold


def sweep(
    found: dict[str, list[Event]],
    thresholds: tuple[float, ...],
    anonymous: Callable[[str], bool],
) -> list[tuple[str, ...]]:
    """At each challenge threshold: the share of people's right passwords and of each takeover
    scenario's that would score at or over it (floors and other stages left aside); last, the
    default threshold plus a floor for a new device on a network new to the user, and plus a
    floor for a device not known for the account on a hosting or VPN network (`anonymous`)."""
    names = ["legit", *sorted(k for k in found if k.startswith("takeover"))]
    rules: list[tuple[str, Callable[[Event], bool]]] = [(f"{t:g}", _over(t)) for t in thresholds]
    rules.append((
        "40, and a new device on a new network (AS or country)",
        lambda e: e.score >= 40 or (_codes(e) >= {"new-device"} and bool(_codes(e) & _NEW_NET)),
    ))  # fmt: skip
    rules.append((
        "40, and an unknown device on a hosting/VPN network",
        lambda e: e.score >= 40 or (not e.device_known and anonymous(e.ip)),
    ))  # fmt: skip
    rows = []
    for label, rule in rules:
        cells = [label]
        for name in names:
            values = found.get(name, [])
            over = sum(rule(e) for e in values)
            cells.append(f"{100.0 * over / len(values):.1f}%" if values else "-")
        rows.append(tuple(cells))
    return [("challenge at", *names), *rows]
