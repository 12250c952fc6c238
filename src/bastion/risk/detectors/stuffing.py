"""Credential stuffing and password spraying: the tenant-wide view of sign-in attempts, and the
defensive mode it raises."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bastion.errors import ConfigError
from bastion.risk.detector import Detector, Signal
from bastion.risk.findings import Action, Finding
from bastion.risk.signals import LoginSignal
from bastion.risk.state import Add, Count, Reads, RiskState

_P = "stuffing:"
_DEFENSIVE = f"{_P}defensive"
_SPRAYED = f"{_P}sprayed"
_DEFENSIVE_SCORE = 10.0
_SPRAYING_SCORE = 50.0
#: The counters of each view, in the order `_Counts` takes them.
_KINDS = ("attempts", "unknown", "failures", "challenged")
_CHALLENGED = f"{_P}challenged:"
#: The defensive mode is extended by a crossing only once it has run this long since the
#: last extension.
RENEW_EVERY = 60.0


@dataclass(frozen=True, slots=True)
class _Counts:
    window: float
    volume: int  # the minimum volume of this window
    attempts: int  # "before" signals: every attempt, whatever happened to it next
    unknown: int  # of which for a login that names no (active) user
    failures: int  # "failed" signals
    challenged: int  # "before" attempts the mode stopped (a device not known for the login)


class Stuffing(Detector):
    """Switches the tenant into defensive mode when its sign-in traffic looks like stuffing or
    spraying; while it is on, devices not known for the login typed must pass a challenge (a
    one-time code) before any password is verified.

    The global view is kept over sliding windows, each with a minimum volume so that a quiet
    tenant's few typos never count: `views` (default 30 in 5 min and 100 in 1 h). A window
    crosses when

    - it holds at least that many failures and failures / attempts >= `failure_ratio` (0.6), or
    - it holds at least that many attempts and unknown logins / attempts >= `unknown_share`
      (0.3): stuffing lists name mostly people who have no account here.

    Normal traffic sits far below either ratio (a 5% typo rate gives 0.05; mistyped logins
    ~0.01), whatever its volume; attacks sit far above. The unknown-login share is measured on
    "before" attempts, so it keeps the mode up while the challenge stops the attack before any
    failure is counted. Password spraying: one password (its short-lived keyed `attempt_tag`)
    failing on `spray_accounts` (5) distinct accounts within `spray_window` (5 min) raises
    the mode too, and every later failure with that tag carries a "spraying" finding.

    While the mode is up, an attempt it challenges (a device not known for the login) counts
    with the failures: an attack under the mode is stopped before its password and so no
    longer fails, and would otherwise let the mode lapse and resume (spraying over real
    logins keeps no unknown-login share up either). Ordinary traffic under the mode, mostly
    from known devices, stays under the failure ratio and lets it end.

    The mode lasts `defensive_for` (30 min) after the last crossing, renewed at most once every
    `RENEW_EVERY` (a minute: under a flood every attempt crosses, and each renewal would be
    one more write per attempt); so it lasts 29 to 30 min after it. Counting happens in
    `observe`, after `assess`: the event that crosses is not itself challenged, the next one is.
    The mode never denies: a real user on a new device passes with an e-mail code.
    """

    name = "stuffing"
    reads = (LoginSignal,)

    def __init__(
        self,
        *,
        views: Sequence[tuple[float, int]] = ((300.0, 30), (3600.0, 100)),
        failure_ratio: float = 0.6,
        unknown_share: float = 0.3,
        spray_accounts: int = 5,
        spray_window: float = 300.0,
        defensive_for: float = 1800.0,
    ) -> None:
        if not views or any(window <= 0 or volume < 1 for window, volume in views):
            raise ConfigError("Stuffing views need a positive window and a volume of at least 1.")
        if not (0 < failure_ratio <= 1 and 0 < unknown_share <= 1):
            raise ConfigError("Stuffing ratios must be between 0 (excluded) and 1.")
        if spray_accounts < 2 or spray_window <= 0 or defensive_for <= 0:
            raise ConfigError("Spraying needs at least 2 accounts and positive durations.")
        self.views = tuple((float(window), int(volume)) for window, volume in views)
        self.failure_ratio, self.unknown_share = failure_ratio, unknown_share
        self.spray_accounts, self.spray_window = spray_accounts, spray_window
        self.defensive_for = defensive_for
        # The defensive flag as `assess` last read it, per thread: `observe` of the same
        # signal reuses it instead of a second read (a round trip on Redis).
        self._read = threading.local()

    def prefetch(self, signal: Signal) -> Reads:
        if not isinstance(signal, LoginSignal) or signal.stage == "succeeded":
            return Reads()
        if signal.stage == "before":
            return Reads(flags=(_DEFENSIVE, _SPRAYED), adds=self._adds(signal))
        flags = (_DEFENSIVE,)  # for the renewal of the mode
        if not signal.attempt_tag:
            return Reads(flags=flags, adds=self._adds(signal))
        tag = f"{_P}tag:{signal.attempt_tag}"
        return Reads(
            counts=(Count("members", tag, self.spray_window),),
            flags=flags,
            adds=self._adds(signal),
            joins=((tag, signal.login, self.spray_window),),
        )

    def _adds(self, signal: LoginSignal) -> tuple[Add, ...]:
        """Every counter of every view, as every attempt at this stage counts in them (a
        challenge is counted apart): this attempt's added, the others read."""
        before = signal.stage == "before"
        adds = {"attempts": before, "unknown": before and signal.uid is None,
                "failures": not before, "challenged": False}  # fmt: skip
        return tuple(
            (f"{_P}{kind}:{window:g}", window, int(adds[kind]))
            for window, _ in self.views
            for kind in _KINDS
        )

    def assess(self, signal: Signal, state: RiskState) -> list[Finding]:
        if not isinstance(signal, LoginSignal):
            return []
        now = signal.at.timestamp()
        if signal.stage == "before":
            until, sprayed = state.flags_until([_DEFENSIVE, _SPRAYED], now)
            self._read.last = (signal, until)  # what `observe` of this signal will need
            if until is None or signal.device_known:
                return []
            return [
                Finding(
                    self.name,
                    "defensive-mode",
                    _DEFENSIVE_SCORE,
                    self._defensive_reason(state, now, until, sprayed=sprayed is not None),
                    Action.CHALLENGE,
                )
            ]
        if signal.stage == "failed" and signal.attempt_tag:
            accounts = state.members(f"{_P}tag:{signal.attempt_tag}", now, self.spray_window)
            if accounts >= self.spray_accounts:
                reason = (
                    f"the same password already failed on {accounts} accounts within "
                    f"{_span(self.spray_window)} (password spraying)"
                )
                return [Finding(self.name, "spraying", _SPRAYING_SCORE, reason)]
        return []

    def observe(self, signal: Signal, state: RiskState) -> None:
        if not isinstance(signal, LoginSignal) or signal.stage == "succeeded":
            return
        now = signal.at.timestamp()
        before = signal.stage == "before"
        unread = not before or signal.device_known  # the mode is read once, when needed
        until = None if unread else self._until(signal, state, now)
        challenged = until is not None
        adds = self._adds(signal)
        totals = state.hits([(key, window) for key, window, _ in adds], now, [a for *_, a in adds])
        if challenged:  # under attack only: one call more
            at = [i for i, (key, _, _) in enumerate(adds) if key.startswith(_CHALLENGED)]
            more = state.hits([(adds[i][0], adds[i][1]) for i in at], now)
            for i, total in zip(at, more, strict=True):
                totals[i] = total
        if signal.stage == "failed" and signal.attempt_tag:
            tag_key = f"{_P}tag:{signal.attempt_tag}"
            if state.add_member(tag_key, signal.login, now, self.spray_window) >= (
                self.spray_accounts
            ):
                state.set_flag(_SPRAYED, now + self.defensive_for)
                state.set_flag(_DEFENSIVE, now + self.defensive_for)
        if any(self._crosses(counts) for counts in self._views(totals)):
            if unread:
                until = self._until(signal, state, now)
            if until is None or until < now + self.defensive_for - RENEW_EVERY:
                state.set_flag(_DEFENSIVE, now + self.defensive_for)

    def _until(self, signal: LoginSignal, state: RiskState, now: float) -> float | None:
        """When the mode ends, as this signal's `assess` read it when it did (the same
        thread assesses then observes one signal), else as read now."""
        last = getattr(self._read, "last", None)
        if last is not None and last[0] is signal:
            until: float | None = last[1]
            return until
        return state.flag_until(_DEFENSIVE, now)

    def _counts(self, state: RiskState, now: float) -> list[_Counts]:
        reads = [
            Count("hits", f"{_P}{kind}:{window:g}", window)
            for window, _ in self.views
            for kind in _KINDS
        ]
        return self._views(state.counts(reads, now))  # every view at once

    def _views(self, totals: Sequence[int]) -> list[_Counts]:
        """`totals` (every kind of every view, in `_KINDS` order) as one `_Counts` per view."""
        n = len(_KINDS)
        return [
            _Counts(window, volume, *totals[i * n : (i + 1) * n])
            for i, (window, volume) in enumerate(self.views)
        ]

    def _crosses(self, counts: _Counts) -> bool:
        volume = counts.volume
        # Without "before" signals (a flow that skipped them) every failure is its own attempt.
        attempts = max(counts.attempts, counts.failures)
        stopped = counts.failures + counts.challenged
        failing = stopped >= volume and stopped >= self.failure_ratio * attempts
        unknown = attempts >= volume and counts.unknown >= self.unknown_share * attempts
        return failing or unknown

    def _defensive_reason(
        self, state: RiskState, now: float, until: float, *, sprayed: bool
    ) -> str:
        counts = self._counts(state, now)[0]
        why = f"; {counts.challenged} challenged" if counts.challenged else ""
        if sprayed:
            why += "; password spraying seen"
        return (
            f"defensive mode until {_clock(until)} (last {_span(counts.window)}: "
            f"{counts.failures} failed sign-ins, {counts.unknown} of {counts.attempts} attempts "
            f"for unknown logins{why}); this device is not known for this login"
        )


def _span(seconds: float) -> str:
    if seconds > 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S UTC")
