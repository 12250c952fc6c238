"""Brute force and user enumeration: failed sign-ins counted per address, network, AS and account.

Buckets at least as sharp as CrowdSec's Odoo scenarios (`odoo-bf`: 5 failures within 10 s from
one address; `odoo_user-enum`: 5 distinct logins within 10 s), plus the views a botnet cannot
dodge by rotating addresses: the /24 (or /56), the autonomous system, and the account itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from bastion.errors import ConfigError
from bastion.risk.detector import Detector, Signal
from bastion.risk.findings import Action, Finding
from bastion.risk.signals import LoginSignal
from bastion.risk.state import Add, Count, Join, Reads, RiskState

_P = "bruteforce:"
#: Score of a finding that blocks (floor DENY), that challenges, and that only notes.
_BLOCK, _CHALLENGE, _NOTE = 80.0, 30.0, 10.0
#: Addresses never counted nor banned by address, network or AS (fail2ban's `ignoreip`): a
#: reverse proxy or health check on this host that is not declared a trusted proxy makes every
#: user appear as loopback, and banning it would lock everyone out at once.
LOOPBACK = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True, slots=True)
class _Bucket:
    """One view of the failures as `assess` found it."""

    code: str
    count: int  # live count in the window (failures or distinct members)
    limit: int
    banned_until: float | None
    floor: Action  # what an unknown device gets when the bucket is over
    live: str  # "failed sign-ins from 203.0.113.7 within 10 s", after the count
    subject: str  # "203.0.113.7", for the ban sentence
    over: str  # "5 failed sign-ins within 10 s", for the ban sentence


class BruteForce(Detector):
    """Refuses sign-in attempts from an address, network or AS that is failing too fast, and
    challenges new devices on an account under attack.

    Failures are counted in `observe` at stage "failed"; attempts are judged in `assess` at
    stage "before", so nothing here costs a password hash. The engine assesses an event before
    it observes it: with a limit of 5 failures within 10 s, the five failing attempts are let
    through and the 6th (assessed with 5 failures in the window) is the first refused.
    Reaching an address, network or AS limit also blocks that bucket for `ban` seconds after
    the failure that reached it, even once the window has emptied.

    Buckets and defaults:

    - address: `ip_failures` (5) failures within `ip_window` (10 s) -> floor DENY (CrowdSec
      `odoo-bf`); `ip_logins` (5) distinct logins failing within `login_window` (10 s) -> user
      enumeration, floor DENY (CrowdSec `odoo_user-enum`).
    - network (/24 or /56): `network_failures` (15) within `network_window` (60 s) -> floor
      DENY. Looser than one address: a campus or office NAT pool shares it.
    - AS: `asn_ips` (20) distinct addresses of one AS failing within `asn_window` (5 min) ->
      floor `asn_floor` (CHALLENGE). An AS holds many innocent users (a national ISP), so by
      default new devices from it must pass a one-time code before their password is checked,
      which stops a botnet just as well without refusing real people.
    - account: `account_failures` (10) within `account_window` (15 min), across any addresses
      -> floor CHALLENGE for devices not known for this account, never DENY.

    Addresses in `exempt` (loopback by default, like fail2ban's `ignoreip`) fill no address,
    network or AS bucket: only the account bucket counts them.

    Threat: an attacker's failures must not lock the real user out. A device that has already
    completed a sign-in to this account (`device_known`, bound server-side by HMAC, so it cannot
    be claimed) is treated one step milder in every bucket: DENY becomes CHALLENGE and
    CHALLENGE becomes a note. The account bucket therefore never gets in a known device's way,
    and colleagues behind an office NAT shared with an attacker get a second-factor prompt
    rather than a refusal.
    """

    name = "bruteforce"
    reads = (LoginSignal,)

    def __init__(
        self,
        *,
        ip_failures: int = 5,
        ip_window: float = 10.0,
        ip_logins: int = 5,
        login_window: float = 10.0,
        network_failures: int = 15,
        network_window: float = 60.0,
        asn_ips: int = 20,
        asn_window: float = 300.0,
        asn_floor: Action = Action.CHALLENGE,
        account_failures: int = 10,
        account_window: float = 900.0,
        ban: float = 600.0,
        exempt: Iterable[str] = LOOPBACK,
    ) -> None:
        limits = (ip_failures, ip_logins, network_failures, asn_ips, account_failures)
        if min(limits) < 1:
            raise ConfigError("Brute-force limits must be at least 1.")
        windows = (ip_window, login_window, network_window, asn_window, account_window, ban)
        if min(windows) <= 0:
            raise ConfigError("Brute-force windows and the ban must be positive durations.")
        if asn_floor not in (Action.CHALLENGE, Action.DENY):
            raise ConfigError("The AS bucket may only challenge or deny.")
        self.ip_failures, self.ip_window = ip_failures, ip_window
        self.ip_logins, self.login_window = ip_logins, login_window
        self.network_failures, self.network_window = network_failures, network_window
        self.asn_ips, self.asn_window, self.asn_floor = asn_ips, asn_window, asn_floor
        self.account_failures, self.account_window = account_failures, account_window
        self.ban = ban
        try:
            self.exempt = tuple(ipaddress.ip_network(net, strict=False) for net in exempt)
        except ValueError as exc:
            raise ConfigError(f"Not a network to exempt from brute-force bans: {exc}") from exc

    def _exempt(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in net for net in self.exempt)

    def assess(self, signal: Signal, state: RiskState) -> list[Finding]:
        if not isinstance(signal, LoginSignal) or signal.stage != "before":
            return []
        now = signal.at.timestamp()
        findings = []
        for bucket in self._buckets(signal, state, now):
            if bucket.count >= bucket.limit or bucket.banned_until is not None:
                findings.append(self._finding(bucket, signal.device_known, now))
        return findings

    def observe(self, signal: Signal, state: RiskState) -> None:
        if not isinstance(signal, LoginSignal) or signal.stage != "failed":
            return
        now = signal.at.timestamp()
        place = signal.place
        adds = self._adds(signal)
        totals = dict(zip(adds, state.hits([(k, w) for k, w, _ in adds], now), strict=True))
        if len(adds) == 1:
            return  # an exempt address: only its account counts (it never bans)
        ip, net = adds[0], adds[1] if place.network else None
        if totals[ip] >= self.ip_failures:
            state.set_flag(f"{_P}ban:ip:{place.ip}", now + self.ban)
        if net is not None and totals[net] >= self.network_failures:
            state.set_flag(f"{_P}ban:net:{place.network}", now + self.ban)
        for (key, member, window), (limit, ban) in zip(
            self._joins(signal),
            [(self.ip_logins, f"enum:{place.ip}"), (self.asn_ips, f"asn:{place.asn}")],
            strict=False,
        ):
            if state.add_member(key, member, now, window) >= limit:
                state.set_flag(f"{_P}ban:{ban}", now + self.ban)

    def _joins(self, signal: LoginSignal) -> tuple[Join, ...]:
        """The distinct logins failing from a (not exempt) address, and the addresses of
        its AS when known."""
        ip, asn = signal.place.ip, signal.place.asn
        logins = (f"{_P}logins:{ip}", signal.login, self.login_window)
        return (logins,) if asn is None else (logins, (f"{_P}asn:{asn}", ip, self.asn_window))

    def _adds(self, signal: LoginSignal) -> tuple[Add, ...]:
        """The counters a failure adds to: its address's, its network's and its account's
        (its account's only from an exempt address), the account last."""
        account = (f"{_P}account:{signal.login}", self.account_window, 1)
        place = signal.place
        if self._exempt(place.ip):
            return (account,)
        net = (f"{_P}net:{place.network}", self.network_window, 1) if place.network else None
        ip = (f"{_P}ip:{place.ip}", self.ip_window, 1)
        return (ip, net, account) if net is not None else (ip, account)

    def prefetch(self, signal: Signal) -> Reads:
        if not isinstance(signal, LoginSignal):
            return Reads()
        if signal.stage == "failed":
            adds = self._adds(signal)
            return Reads(adds=adds, joins=self._joins(signal) if len(adds) > 1 else ())
        return self._reads(signal) if signal.stage == "before" else Reads()

    def _reads(self, signal: LoginSignal) -> Reads:
        """The counts and bans a "before" attempt is checked against: only its account's
        failures when its address is exempt."""
        ip, network, asn = signal.place.ip, signal.place.network, signal.place.asn
        account = Count("hits", f"{_P}account:{signal.login}", self.account_window)
        if self._exempt(ip):
            return Reads(counts=(account,))
        counts = (
            Count("hits", f"{_P}ip:{ip}", self.ip_window),
            Count("members", f"{_P}logins:{ip}", self.login_window),
            Count("hits", f"{_P}net:{network}", self.network_window),
            Count("members", f"{_P}asn:{asn}", self.asn_window),
            account,
        )
        bans = (f"ip:{ip}", f"enum:{ip}", f"net:{network}", f"asn:{asn}")
        return Reads(counts=counts, flags=tuple(f"{_P}ban:{ban}" for ban in bans))

    def _buckets(self, signal: LoginSignal, state: RiskState, now: float) -> list[_Bucket]:
        ip, network, asn = signal.place.ip, signal.place.network, signal.place.asn
        ip_span, login_span = _span(self.ip_window), _span(self.login_window)
        reads = self._reads(signal)
        if not reads.flags:  # an exempt address: its account's failures only
            return [self._account_bucket(signal, state.counts(reads.counts, now)[0])]
        # Every count and ban this attempt is checked against (prefetched by the engine).
        ip_count, logins, net_count, asn_ips, account_count = state.counts(reads.counts, now)
        ip_ban, enum_ban, net_ban, asn_ban = state.flags_until(reads.flags, now)
        buckets = [
            _Bucket(
                "ip-failures",
                ip_count,
                self.ip_failures,
                ip_ban,
                Action.DENY,
                f"failed sign-ins from {ip} within {ip_span}",
                ip,
                f"{self.ip_failures} failed sign-ins within {ip_span}",
            ),
            _Bucket(
                "user-enumeration",
                logins,
                self.ip_logins,
                enum_ban,
                Action.DENY,
                f"different logins failed from {ip} within {login_span}",
                ip,
                f"{self.ip_logins} different logins failed within {login_span}",
            ),
        ]
        if network:
            span = _span(self.network_window)
            buckets.append(
                _Bucket(
                    "network-failures",
                    net_count,
                    self.network_failures,
                    net_ban,
                    Action.DENY,
                    f"failed sign-ins from network {network} within {span}",
                    f"network {network}",
                    f"{self.network_failures} failed sign-ins within {span}",
                )
            )
        if asn is not None:
            span = _span(self.asn_window)
            label = f"AS{asn} ({signal.place.as_name})" if signal.place.as_name else f"AS{asn}"
            buckets.append(
                _Bucket(
                    "asn-failures",
                    asn_ips,
                    self.asn_ips,
                    asn_ban,
                    self.asn_floor,
                    f"addresses of {label} failed to sign in within {span}",
                    label,
                    f"{self.asn_ips} of its addresses failed within {span}",
                )
            )
        buckets.append(self._account_bucket(signal, account_count))
        return buckets

    def _account_bucket(self, signal: LoginSignal, count: int) -> _Bucket:
        span = _span(self.account_window)
        return _Bucket(
            "account-failures",
            count,
            self.account_failures,
            None,  # an account is never banned: its owner must still get in
            Action.CHALLENGE,
            f"failed sign-ins for {signal.login} within {span}",
            signal.login,
            "",
        )

    @staticmethod
    def _finding(bucket: _Bucket, device_known: bool, now: float) -> Finding:
        if bucket.count >= bucket.limit:
            reason = f"{bucket.count} {bucket.live}"
        else:
            until = bucket.banned_until if bucket.banned_until is not None else now
            reason = f"{bucket.subject} is restricted until {_clock(until)} after {bucket.over}"
        floor: Action | None = bucket.floor
        if device_known:
            # One step milder for a device this account already signed in from: the attacker's
            # failures must not lock the real user out.
            floor = Action.CHALLENGE if bucket.floor is Action.DENY else None
            reason += "; this device is known for this account"
        if floor is Action.DENY:
            score = _BLOCK
        elif floor is Action.CHALLENGE:
            score = _CHALLENGE
        else:
            score = _NOTE
        return Finding("bruteforce", bucket.code, score, reason, floor)


def _span(seconds: float) -> str:
    """10.0 -> "10 s", 60.0 -> "60 s", 300.0 -> "5 min"."""
    if seconds > 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S UTC")
