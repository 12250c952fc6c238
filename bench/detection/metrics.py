"""From what happened to the numbers: per attack scenario, for Bastion (as the server answered)
and for the baselines (as their models decide over the same attempts), and the friction on
the people."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from bench.detection.baselines import Policy, Try, all_policies
from bench.detection.outcomes import (
    BEFORE_PASSWORD,
    CODE_BEFORE,
    STOPPED,
    VERIFIED,
    AttackResult,
    Log,
    LoginTry,
    VisitResult,
)


@dataclass
class Row:
    """One scenario under one policy."""

    attempts: int = 0
    stopped: int = 0  # refused, denied or challenged (and not passed: attackers never pass)
    before_password: int = 0  # stopped before any password was checked
    verified: int = 0  # passwords checked
    valid: int = 0  # attempts with the right password
    taken_over: int = 0  # sessions the attacker got
    verified_before_detection: int = 0
    verified_after_detection: int = 0
    detected_after: int | None = None  # attempts made before the first one stopped
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def stopped_share(self) -> float:
        return self.stopped / self.attempts if self.attempts else float("nan")


def bastion_rows(log: Log) -> dict[str, Row]:
    by: dict[str, list[AttackResult]] = defaultdict(list)
    for result in log.attacks:
        by[result.scenario].append(result)
    rows: dict[str, Row] = {}
    for scenario, results in by.items():
        results.sort(key=lambda r: r.at)
        row = Row(attempts=len(results))
        source_stopped: dict[str, float] = {}
        defensive_from: float | None = None
        first_stop: float | None = None
        for index, r in enumerate(results):
            row.outcomes[r.outcome] += 1
            row.valid += r.valid
            row.taken_over += r.taken_over
            if r.outcome in VERIFIED:
                row.verified += 1
                detected = (r.ip in source_stopped and r.at > source_stopped[r.ip]) or (
                    defensive_from is not None and r.at > defensive_from
                )
                if detected:
                    row.verified_after_detection += 1
                if first_stop is None:
                    row.verified_before_detection += 1
            if r.outcome in STOPPED:
                row.stopped += 1
                source_stopped.setdefault(r.ip, r.at)
                if first_stop is None:
                    first_stop, row.detected_after = r.at, index
            if r.outcome in BEFORE_PASSWORD:
                row.before_password += 1
            if r.outcome == CODE_BEFORE and defensive_from is None:
                defensive_from = r.at
        rows[scenario] = row
    return rows


@dataclass
class BaselineResult:
    rows: dict[str, Row]
    legit_denied: int  # measured visits whose right password the policy refused
    legit_denied_all: int


def baseline_results(log: Log) -> dict[str, BaselineResult]:
    """Every policy over the same attempts in time order (Bastion's extra re-submissions
    after its own challenges left out)."""
    tries = sorted((t for t in log.tries if t.intended), key=lambda t: t.at)
    measured = {v.visit_id for v in log.visits if v.measured}
    results = {}
    for policy in all_policies():
        results[policy.name] = _replay(policy, tries, measured)
    return results


def _replay(policy: Policy, tries: list[LoginTry], measured: set[int]) -> BaselineResult:
    rows: dict[str, Row] = defaultdict(Row)
    first_stop: dict[str, bool] = {}
    denied: set[int] = set()
    for t in tries:
        refused = policy.decide(Try(t.at, t.ip, t.login, t.exists, t.correct))
        if t.who == "legit":
            if refused and t.correct:
                denied.add(t.ref)
            continue
        row = rows[t.who]
        row.attempts += 1
        row.valid += t.correct
        if refused:
            row.stopped += 1
            row.before_password += 1
            if t.who not in first_stop:
                first_stop[t.who] = True
                row.detected_after = row.attempts - 1
        else:
            row.verified += 1
            row.taken_over += t.correct
            if t.who not in first_stop:
                row.verified_before_detection += 1
            else:
                row.verified_after_detection += 1
    return BaselineResult(dict(rows), len(denied & measured), len(denied))


@dataclass
class Friction:
    visits: int = 0
    signed_in: int = 0
    challenged: int = 0
    denied: int = 0
    session: int = 0  # later requests of the session challenged or signed out
    expected_mfa: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_where: Counter[str] = field(default_factory=Counter)
    denials: Counter[str] = field(default_factory=Counter)

    @property
    def challenge_rate(self) -> float:
        return self.challenged / self.visits if self.visits else float("nan")


def friction(visits: list[VisitResult], *, measured: bool | None) -> Friction:
    f = Friction()
    for v in visits:
        if measured is not None and v.measured != measured:
            continue
        f.visits += 1
        f.signed_in += v.signed_in
        f.expected_mfa += v.expected_mfa
        if v.challenges:
            f.challenged += 1
            f.by_kind.update(set(v.challenges))
            f.by_where[("new device, " if v.new_device else "") + v.where] += 1
        if v.denied:
            f.denied += 1
            f.denials[v.denied] += 1
        if v.session_friction and not v.replay_victim:
            f.session += 1
    return f


def replay_table(log: Log) -> dict[str, Counter[str]]:
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for r in log.replays:
        table[r.variant][r.first] += 1
    return dict(table)
