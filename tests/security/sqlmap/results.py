"""What one sqlmap run showed, read from its console output and its traffic file (`-t`), and
whether that run proves anything: it must have tested every marked point, its own first request
must have succeeded as the signed-in user, and no request may have been refused for credentials
or rate, or have broken the server (5xx)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

#: "(custom) POST parameter 'JSON #3*'", "URI parameter '#1*'", "GET parameter 'id'"...
_PARAMETER = r"((?:\(custom\) )?[A-Za-z-]+ parameter '[^']+')"
_TESTED = re.compile(rf"testing for SQL injection on {_PARAMETER}$", re.MULTILINE)
_INJECTABLE = re.compile(rf"{_PARAMETER} (?:appears to be|is) '.+?' injectable")
_HEURISTIC = re.compile(rf"heuristic \(basic\) test shows that {_PARAMETER} might be injectable")
_IDENTIFIED = "sqlmap identified the following injection point"
_FALSE_POSITIVE = "false positive or unexploitable injection point detected"
#: Lines after which the run's verdict cannot be trusted (the target was never really tested).
_BROKEN = (
    "unable to connect to the target URL",
    "connection refused",
    "not authorized",
    "connection timed out",
    "no parameter(s) found for testing",
)
_SEPARATOR = re.compile(r"\n#{76}\n")
_RESPONSE = re.compile(r"HTTP response \[#(\d+)\] \((\d{3})[^)]*\):\n(.*)", re.DOTALL)
#: Statuses that mean the request never reached the ORM as the signed-in user.
_REFUSED = {401: "unauthorized", 429: "rate limited"}


@dataclass(frozen=True)
class Exchange:
    number: int
    status: int
    body: str


@dataclass
class Outcome:
    """The verdict on one target; `problems` empty means the run counts and found nothing."""

    name: str
    points: int
    tested: set[str] = field(default_factory=set)
    injectable: set[str] = field(default_factory=set)
    hints: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    succeeded: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def exchanges(traffic: str) -> list[Exchange]:
    """The responses sqlmap logged, in request order (a response body ends at the separator)."""
    found = []
    for block in _SEPARATOR.split(traffic.replace("\r\n", "\n")):
        at = block.find("HTTP response [#")
        match = _RESPONSE.match(block[at:]) if at >= 0 else None
        if match is None:
            continue
        _headers, _, body = match.group(3).partition("\n\n")
        found.append(Exchange(int(match.group(1)), int(match.group(2)), body))
    return sorted(found, key=lambda e: e.number)


def judge(
    name: str,
    points: int,
    console: str,
    traffic: str,
    succeeded: Callable[[int, str], bool],
    exit_code: int,
) -> Outcome:
    outcome = Outcome(name, points)
    outcome.tested = set(_TESTED.findall(console))
    outcome.injectable = set(_INJECTABLE.findall(console))
    outcome.hints = set(_HEURISTIC.findall(console))
    seen = exchanges(traffic)
    outcome.statuses = Counter(e.status for e in seen)
    outcome.succeeded = sum(succeeded(e.status, e.body) for e in seen)
    problems = outcome.problems
    if exit_code != 0:
        problems.append(f"sqlmap exited with {exit_code}")
    if outcome.injectable or _IDENTIFIED in console:
        problems.append(f"injectable: {sorted(outcome.injectable) or 'see the sqlmap output'}")
    if outcome.hints:
        # A DBMS error message in a response: not an injection yet, but a leak to look at.
        problems.append(f"DBMS error heuristics fired on {sorted(outcome.hints)}")
    if _FALSE_POSITIVE in console:
        problems.append("sqlmap saw a (false positive) boolean difference: look at the output")
    problems += [f"sqlmap reported: {line!r}" for line in _BROKEN if line in console]
    if len(outcome.tested) != points:
        problems.append(f"{len(outcome.tested)} of {points} marked points were tested")
    if not seen or not succeeded(seen[0].status, seen[0].body):
        problems.append("sqlmap's first (unmodified) request did not succeed as the user")
    for status, why in _REFUSED.items():
        if outcome.statuses[status]:
            problems.append(f"{outcome.statuses[status]} responses were {status} ({why})")
    server_errors = sum(n for status, n in outcome.statuses.items() if status >= 500)
    if server_errors:
        problems.append(f"{server_errors} responses were 5xx")
    return outcome


def table(outcomes: list[Outcome]) -> str:
    """The summary: one row per target, and every problem under the table."""
    header = ("target", "points", "tested", "requests", "ok", "injectable", "5xx", "secs", "")
    rows = [header]
    for o in outcomes:
        requests = sum(o.statuses.values())
        server_errors = sum(n for status, n in o.statuses.items() if status >= 500)
        rows.append(
            (
                o.name,
                str(o.points),
                str(len(o.tested)),
                str(requests),
                str(o.succeeded),
                str(len(o.injectable)),
                str(server_errors),
                f"{o.seconds:.0f}",
                "pass" if o.passed else "FAIL",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for o in outcomes:
        lines += [f"{o.name}: {problem}" for problem in o.problems]
    return "\n".join(line.rstrip() for line in lines)
