"""What the server answered, in the benchmark's words, and what each actor's turn came to."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from bench.detection.forms import form_with, page_forms

#: Outcomes of one POST /web/login. "Verified" ones had their password checked.
SIGNED_IN = "signed-in"  # 303 to the target: a session
FAILED = "failed"  # 401: wrong login or password
REFUSED = "refused"  # 429: refused before the password
DENIED = "denied"  # 403: refused after the password
CODE_BEFORE = "code-before"  # an e-mail code before the password (defensive)
CODE_AFTER = "code-after"  # an e-mail code after the password (step-up, no second factor)
MFA = "mfa"  # the second-factor page after the password
ERROR = "error"  # anything else (a 500, an unexpected page)
VERIFIED = frozenset({SIGNED_IN, FAILED, DENIED, CODE_AFTER, MFA})
#: The defence stopped the attempt (what "stopped" counts for attacks).
STOPPED = frozenset({REFUSED, DENIED, CODE_BEFORE, CODE_AFTER, MFA})
BEFORE_PASSWORD = frozenset({REFUSED, CODE_BEFORE})


def classify(response: httpx.Response) -> str:
    status = response.status_code
    if status in (302, 303):
        location = response.headers.get("location", "")
        if location.startswith("/web/login/mfa"):
            return MFA
        if location.startswith("/web/login/code"):
            return CODE_AFTER
        if location.startswith("/web/login/verify"):
            return CODE_BEFORE
        if location.startswith("/web/login"):
            return ERROR
        return SIGNED_IN
    if status == 429:
        return REFUSED
    if status == 403:
        # The risk engine's refusal after the password, not a CSRF or host refusal.
        return DENIED if "refused for security reasons" in response.text else ERROR
    if status == 401:
        return FAILED
    if "text/html" in response.headers.get("content-type", ""):
        forms, _ = page_forms(response.text)
        code = form_with(forms, "code")
        if code is not None and code.action.startswith("/web/login/verify"):
            return CODE_BEFORE
        if code is not None and code.action.startswith("/web/login/code"):
            return CODE_AFTER
        if form_with(forms, "code", action="/web/login/mfa") is not None:
            return MFA
    return ERROR


@dataclass
class LoginTry:
    """One password submitted, for the tables and the baselines."""

    at: float
    ip: str
    login: str
    exists: bool
    correct: bool
    outcome: str
    who: str  # "legit" or the attack scenario
    intended: bool = True  # False: a re-submission only Bastion's challenge caused
    ref: int = 0  # visit or attempt id


@dataclass
class VisitResult:
    """What one person's visit came to."""

    visit_id: int
    measured: bool
    where: str
    new_device: bool
    signed_in: bool = False
    expected_mfa: bool = False  # a second-factor user on a device not trusted yet
    challenges: list[str] = field(default_factory=list)  # risk-caused: code-before, mfa, ...
    denied: str = ""  # refused / denied / error: the person did not get in
    session_friction: str = ""  # a later request of the session was challenged or revoked
    replay_victim: bool = False


@dataclass
class AttackResult:
    attempt_id: int
    scenario: str
    at: float
    ip: str
    login: str
    valid: bool
    outcome: str
    taken_over: bool = False


@dataclass
class ReplayResult:
    replay_id: int
    variant: str
    first: str  # what the first replayed request got: revoked / challenged / allowed / n/a
    second: str = ""


@dataclass
class Log:
    tries: list[LoginTry] = field(default_factory=list)
    visits: list[VisitResult] = field(default_factory=list)
    attacks: list[AttackResult] = field(default_factory=list)
    replays: list[ReplayResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
