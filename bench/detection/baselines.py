"""What other systems would have decided on the same sign-in attempts, as pure models.

Each model sees the attempts in time order (address, login, whether the login exists, whether
the password is right) and answers, before any password check, "refused" or "checked"; a checked
attempt then fails or succeeds by its password. None of them can challenge, so an attempt they
do not refuse with the right password is a sign-in. Sources, read for these models:

- Odoo (`odoo/addons/base/models/res_users.py`, `_assert_can_auth` and `_on_login_cooldown`):
  failures are counted per source address since its last success; with
  `base.login_cooldown_after` (5) or more, an attempt within `base.login_cooldown_duration`
  (60 s) of the last failure is refused unchecked and not counted; a success forgets the
  address. (Odoo counts per worker process, in memory; the model counts once for the whole
  server, which is the most Odoo can do.)
- fail2ban's defaults (`jail.conf`: maxretry 5, findtime 10m, bantime 10m) reading the "Login
  failed" lines: the 5th failure of an address within 10 minutes bans it for 10 minutes; a ban
  is at the firewall, so every request of that address is refused, its failures are no longer
  seen, and the count starts again after the ban.
- Keycloak's brute-force detection with its defaults (`RealmManager.setupRealmDefaults`;
  shipped disabled, modelled as switched on): per user account (an unknown username is not
  tracked), permanent lockout off, failure factor 30, wait increment 60 s, strategy MULTIPLE,
  quick-login check 1000 ms with a minimum quick-login wait of 60 s, maximum wait 15 min,
  failures forgotten after 12 h without one; a temporarily disabled account is refused before
  its password is checked; a success clears the account's failures
  (`DefaultBruteForceProtector.failure` / `success`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Try:
    """One sign-in attempt as the baselines see it."""

    at: float
    ip: str
    login: str
    exists: bool
    correct: bool


class Policy:
    name = "policy"

    def decide(self, attempt: Try) -> bool:
        """True if the attempt is refused before its password is checked; else record its
        outcome (`attempt.correct`) and return False."""
        raise NotImplementedError


class OdooCooldown(Policy):
    name = "Odoo cooldown"

    def __init__(self, after: int = 5, duration: float = 60.0) -> None:
        self.after, self.duration = after, duration
        self.failures: dict[str, tuple[int, float]] = {}

    def decide(self, attempt: Try) -> bool:
        count, previous = self.failures.get(attempt.ip, (0, 0.0))
        if self.after and count >= self.after and attempt.at - previous < self.duration:
            return True
        if attempt.correct:
            self.failures.pop(attempt.ip, None)
        else:
            self.failures[attempt.ip] = (count + 1, attempt.at)
        return False


class Fail2Ban(Policy):
    name = "fail2ban"

    def __init__(self, maxretry: int = 5, findtime: float = 600.0, bantime: float = 600.0):
        self.maxretry, self.findtime, self.bantime = maxretry, findtime, bantime
        self.failures: dict[str, deque[float]] = {}
        self.banned: dict[str, float] = {}

    def banned_at(self, ip: str, at: float) -> bool:
        return self.banned.get(ip, 0.0) > at

    def decide(self, attempt: Try) -> bool:
        if self.banned_at(attempt.ip, attempt.at):
            return True
        if not attempt.correct:
            seen = self.failures.setdefault(attempt.ip, deque())
            seen.append(attempt.at)
            while seen and seen[0] <= attempt.at - self.findtime:
                seen.popleft()
            if len(seen) >= self.maxretry:
                self.banned[attempt.ip] = attempt.at + self.bantime
                seen.clear()
        return False


@dataclass
class _Account:
    failures: int = 0
    last: float = 0.0  # time of the last failure (0: none)
    not_before: float = 0.0


@dataclass
class Keycloak(Policy):
    name = "Keycloak"
    failure_factor: int = 30
    wait_increment: float = 60.0
    quick_login_check: float = 1.0
    minimum_quick_login_wait: float = 60.0
    max_wait: float = 900.0
    max_delta: float = 12 * 3600.0
    accounts: dict[str, _Account] = field(default_factory=dict)

    def decide(self, attempt: Try) -> bool:
        if not attempt.exists:
            return False  # no user, no brute-force record: the attempt just fails
        account = self.accounts.setdefault(attempt.login, _Account())
        if attempt.at < account.not_before:
            return True
        if attempt.correct:
            self.accounts[attempt.login] = _Account()
            return False
        delta = attempt.at - account.last if account.last else 0.0
        if delta > self.max_delta:
            account.failures = 0
        previous = account.last
        account.last = attempt.at
        account.failures += 1
        wait = self.wait_increment * (account.failures // self.failure_factor)
        if wait <= 0 and previous and delta < self.quick_login_check:
            wait = self.minimum_quick_login_wait
        if wait > 0:
            account.not_before = attempt.at + min(self.max_wait, wait)
        return False


def all_policies() -> list[Policy]:
    return [OdooCooldown(), Fail2Ban(), Keycloak()]
