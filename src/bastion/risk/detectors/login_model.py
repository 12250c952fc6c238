"""Login risk: how unlike this user a completed sign-in looks, after Freeman et al., "Who Are
You? A Statistical Approach to Measuring User Authenticity" (NDSS 2016).

The risk of a sign-in with feature values x_1..x_k by user u is the likelihood ratio

    risk = prod_k  P(x_k) / P(x_k | u)

where P is the tenant-wide distribution (what an attacker, drawn from everyone, looks like)
and P(. | u) the user's. Features are chains of back-off levels, coarse to fine:

    network  country -> ASN -> IP
    agent    device type + OS -> browser family -> exact user agent (digest)
    device   the device cookie's digest (a sign-in without one: "no-device")
    hour     hour of day in the tenant's time zone

A chain is a product of conditionals, P(ip) = P(country) P(asn | country) P(ip | asn), each
estimated by relative counts, c(v) / c(parent), on both sides. Over the levels the user has
seen (1..k) this telescopes into P(v_k) / P(v_k | u) = (c_g(v_k) / n_g) / (c_u(v_k) / n_u).
At the first level the user has *not* seen, the factor is 1 / P_u(new | v_k) and the chain
stops (finer values under an unseen parent add no evidence). The chance that this user shows
something new under a parent is smoothed: the user's own rate of novelty (as Witten-Bell:
T distinct values seen under the parent in its c sign-ins) blended with a prior rate for the
level, worth m = `prior_weight` sign-ins:

    P_u(new | parent) = (T - 1 + m * prior_level) / (c - 1 + m)

(the first value under a parent was necessarily new, hence the -1). So a user who always
signs in from one place finds a new country far more telling than a user who roams, and a
new address at a known provider (prior 0.8) means little where a new country (0.01) does.

    log_risk = sum over features of weight_f * max(0, log10 of the chain's ratio)

Familiar values never offset novelty in another feature (the clip at 0). The score maps
log_risk to 0..max_score, steeply at first, then flattening (the model alone challenges but
never denies by default):

    score = max_score * (1 - exp(-(log_risk - dead_zone) / tau)),  0 below the dead zone

with tau chosen so that log_risk = q scores exactly `challenge_score`. q is the tenant's
calibration: the 99th percentile of the log-risks of its legitimate sign-ins (a reservoir
kept by `learn`), clamped to `threshold_range`; the fixed `default_threshold` is used until
the tenant has `min_samples` of them, and for users with fewer than `min_history` sign-ins
(whose estimates rest mostly on the priors). A user with no history at all gets
`first_signin_score` (0: nothing to compare with). Scores under `report_at` are noise
(a new address from the same provider, a browser update) and give no finding, so such
sign-ins still train the model. Only `learn` changes the counts.

Two rules sit beside the score: an established user (`min_history` sign-ins) signing in
from a device new to them on a network new to them (provider, or country where the
provider is unknown), or from a device new to them on a network of servers (hosting, VPN,
Tor: `Place.hosted`), gets a finding with a CHALLENGE floor, whatever the score.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bastion.errors import ConfigError
from bastion.risk.detector import Detector, Signal
from bastion.risk.findings import Action, Finding
from bastion.risk.prefetch import origin
from bastion.risk.signals import LoginSignal
from bastion.risk.state import Reads, RiskState

#: How often a legitimate sign-in shows a value new to its user, per level (the prior).
DEFAULT_PRIORS: Mapping[str, float] = {
    "country": 0.01, "asn": 0.03, "ip": 0.8,
    "system": 0.05, "browser": 0.05, "agent": 0.5,
    "device": 0.05, "hour": 0.1,
}  # fmt: skip
#: How much each feature counts (the user agent and the hour are weaker evidence).
WEIGHTS: Mapping[str, float] = {"network": 1.0, "agent": 0.6, "device": 1.0, "hour": 0.5}
#: The pseudo-feature of a sign-in without a device cookie.
NO_DEVICE = "no-device"
_CODES = {
    "country": "new-country", "asn": "new-network", "ip": "new-address",
    "system": "new-system", "browser": "new-browser",
    "agent": "new-browser-version", "device": "new-device", "hour": "unusual-hour",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Chain:
    feature: str
    levels: tuple[tuple[str, str], ...]  # (level, value), coarse to fine
    weight: float


@dataclass(frozen=True, slots=True)
class _Part:
    chain: _Chain
    log_risk: float  # weighted, >= 0
    known: int  # how many levels (coarse first) the user has seen
    history: float  # the user's learnt sign-ins with this feature

    @property
    def stopped_at(self) -> str | None:
        """The first level new to the user; None when every level is known."""
        levels = self.chain.levels
        return levels[self.known][0] if self.known < len(levels) else None


class LoginModel(Detector):
    """Freeman-style login risk over completed sign-ins (stage "succeeded").

    Its state: frequencies under "login_model:<level>" in the "*" and "u:<uid>" scopes, the
    distinct values under each parent ("login_model:<level>#kinds") and the reservoir
    "login_model:log-risk". A `first_signin_score` above 0 flags every first sign-in, which
    then trains the model only once the user confirms it with a second factor.
    """

    name = "login_model"
    reads = (LoginSignal,)

    def __init__(
        self,
        *,
        time_zone: str = "UTC",
        min_history: int = 5,
        report_at: float = 10.0,
        challenge_score: float = 40.0,
        max_score: float = 80.0,
        default_threshold: float = 3.0,
        threshold_range: tuple[float, float] = (2.2, 5.0),
        dead_zone: float = 0.5,
        min_samples: int = 100,
        reservoir: int = 500,
        prior_weight: float = 10.0,
        priors: Mapping[str, float] | None = None,
        first_signin_score: float = 0.0,
        recalibrate_every: float = 300.0,
    ) -> None:
        try:
            self.zone = ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"Unknown time zone '{time_zone[:64]}' for the login model."
            ) from None
        self.priors = {**DEFAULT_PRIORS, **(priors or {})}
        lo, hi = threshold_range
        if not (0 < challenge_score < max_score <= 100 and 0 <= report_at <= max_score):
            raise ConfigError("The login model needs 0 < challenge_score < max_score <= 100.")
        if not (0 <= dead_zone < lo <= default_threshold <= hi):
            raise ConfigError("The login model needs dead_zone < low <= default <= high.")
        if min_history < 1 or min_samples < 1 or reservoir < min_samples or prior_weight <= 0:
            raise ConfigError("The login model needs positive history, sample and prior sizes.")
        if any(not 0 < p <= 1 for p in self.priors.values()):
            raise ConfigError("Every prior of the login model is a rate in (0, 1].")
        if not 0 <= first_signin_score <= 100:
            raise ConfigError("The first sign-in score of the login model is 0 to 100.")
        self.time_zone = time_zone
        self.min_history, self.report_at = min_history, report_at
        self.challenge_score, self.max_score = challenge_score, max_score
        self.default_threshold, self.threshold_range = default_threshold, (lo, hi)
        self.dead_zone, self.min_samples, self.reservoir = dead_zone, min_samples, reservoir
        self.prior_weight, self.first_signin_score = prior_weight, first_signin_score
        if not recalibrate_every >= 0:
            raise ConfigError("The login model's recalibration interval cannot be negative.")
        self.recalibrate_every = recalibrate_every
        # The calibrated threshold per state, with when it was read: the reservoir is 500
        # numbers and moves slowly, so it is read again only every `recalibrate_every` s.
        self._thresholds: weakref.WeakKeyDictionary[RiskState, tuple[float, float]] = (
            weakref.WeakKeyDictionary()
        )

    # -- the detector ------------------------------------------------------------------------

    def prefetch(self, signal: Signal) -> Reads:
        if not _completed(signal) or signal.uid is None:
            return Reads()
        return Reads(frequencies=tuple(self._wanted(_scope(signal.uid), self._chains(signal))))

    def assess(self, signal: Signal, state: RiskState) -> list[Finding]:
        if not _completed(signal) or signal.uid is None:
            return []
        parts = self._parts(signal, state)
        history = parts[0].history  # the network chain: every learnt sign-in has one
        if history == 0:
            if self.first_signin_score <= 0:
                return []
            reason = "first sign-in of this user: no history to compare with"
            return [Finding(self.name, "first-sign-in", self.first_signin_score, reason)]
        log_risk = sum(p.log_risk for p in parts)
        calibrated = history >= self.min_history
        floor = self._device_and_network(parts, signal) if calibrated else []
        if log_risk <= self.dead_zone:
            return floor
        now = signal.at.timestamp()
        score = self.score(log_risk, self.threshold(state, now) if calibrated else None)
        if score < self.report_at:
            return floor
        return floor + [
            Finding(
                self.name, _code(p), round(score * p.log_risk / log_risk, 1), self._why(p, signal)
            )
            for p in parts
            if p.log_risk > 0
        ]

    def learn(self, signal: Signal, state: RiskState) -> None:
        if not _completed(signal) or signal.uid is None:
            return
        user, parts = _scope(signal.uid), self._parts(signal, state)
        if parts[0].history >= self.min_history:
            log_risk = sum(p.log_risk for p in parts)
            state.add_sample(self._key("log-risk"), log_risk, keep=self.reservoir)
        bumps: list[tuple[str, str, str, float]] = []
        for part in parts:
            if part.chain.feature == NO_DEVICE:
                continue  # nothing to learn about a device that did not show
            parent = ""
            for depth, (level, value) in enumerate(part.chain.levels):
                feature = self._key(level)
                if depth >= part.known:  # new to this user: one more kind under its parent
                    bumps.append((user, feature + "#kinds", parent, 1.0))
                bumps += [(user, feature, value, 1.0), ("*", feature, value, 1.0)]
                parent = value
        state.bump_many(bumps)

    def _device_and_network(self, parts: list[_Part], signal: LoginSignal) -> list[Finding]:
        """The floor: an established user's sign-in from a device *and* a network both new
        to them is challenged whatever the score. It is what a takeover with the right
        password looks like (the attacker has neither the device nor the user's providers),
        and the score alone may miss it for a user who roams, or behind a VPN of the
        user's own country. The network is the provider (ASN); where the provider is
        unknown, the country; where both are unknown (a private address), nothing.

        A device new to the user on a network of servers (hosting, VPN, Tor) is challenged
        too, even when the user has used that network before: a takeover through the
        commercial VPN the victim uses at home brings no new network, only a new device,
        and a person rarely meets a new device and a VPN exit at once."""
        place = signal.place
        by_feature = {p.chain.feature: p for p in parts}
        device = by_feature.get("device")
        new_device = (device is not None and device.history > 0 and device.known == 0) or (
            NO_DEVICE in by_feature and by_feature[NO_DEVICE].log_risk > 0
        )
        network = by_feature["network"].stopped_at
        if place.country is None:
            new_network = False
        elif place.asn is None:
            new_network = network == "country"
        else:
            new_network = network in ("country", "asn")
        if not new_device:
            return []
        where = f"AS{place.asn}" if place.asn is not None else place.country or place.network
        if new_network:
            code, reason = (
                "new-device-and-network",
                f"new device on a network new to this user ({where})",
            )
        elif place.hosted:
            code = "new-device-on-server-network"
            reason = f"new device on a {place.network_kind} network ({where})"
        else:
            return []
        return [Finding(self.name, code, 0.0, reason, Action.CHALLENGE)]

    # -- the model ---------------------------------------------------------------------------

    def history(self, uid: int, state: RiskState) -> int:
        """How many sign-ins of this user the model has learnt."""
        return int(state.frequency(_scope(uid), self._key("country"), "")[1])

    def threshold(self, state: RiskState, now: float | None = None) -> float:
        """The log-risk that scores `challenge_score`: calibrated when there are enough
        legitimate samples, within `threshold_range`. Given the time `now`, the value read
        for this state is reused for `recalibrate_every` seconds."""
        if now is None:
            return self._calibrate(state)
        store = origin(state)
        cached = self._thresholds.get(store)
        if cached is not None and cached[0] <= now < cached[0] + self.recalibrate_every:
            return cached[1]
        threshold = self._calibrate(state)
        self._thresholds[store] = (now, threshold)
        return threshold

    def _calibrate(self, state: RiskState) -> float:
        samples = sorted(state.samples(self._key("log-risk")))
        if len(samples) < self.min_samples:
            return self.default_threshold
        rank = max(0, math.ceil(0.99 * len(samples)) - 1)
        lo, hi = self.threshold_range
        return min(hi, max(lo, samples[rank]))

    def score(self, log_risk: float, threshold: float | None = None) -> float:
        """The score of a log-risk, given the calibrated threshold (default when None)."""
        q = self.default_threshold if threshold is None else threshold
        if log_risk <= self.dead_zone:
            return 0.0
        tau = (q - self.dead_zone) / math.log(
            self.max_score / (self.max_score - self.challenge_score)
        )
        return self.max_score * (1.0 - math.exp(-(log_risk - self.dead_zone) / tau))

    def _parts(self, signal: LoginSignal, state: RiskState) -> list[_Part]:
        user = _scope(signal.uid if signal.uid is not None else -1)
        chains = self._chains(signal)
        reads = self._prefetch(state, user, chains)
        parts = [self._chain_risk(chain, user, reads) for chain in chains]
        if signal.device is None:
            parts.append(self._missing_device(user, reads))
        return parts

    def _prefetch(self, state: RiskState, user: str, chains: list[_Chain]) -> _Frequencies:
        """Every frequency the chains may read, fetched at once (one round trip on Redis,
        none when the engine fetched them with the stage's other reads)."""
        wanted = self._wanted(user, chains)
        return _Frequencies(state, dict(zip(wanted, state.frequencies(wanted), strict=True)))

    def _wanted(self, user: str, chains: list[_Chain]) -> list[tuple[str, str, str]]:
        """Each level's count for the user and the tenant, and the user's kinds under its
        parent; and what a missing device reads."""
        wanted: list[tuple[str, str, str]] = []
        for chain in chains:
            parent = ""
            for level, value in chain.levels:
                feature = self._key(level)
                wanted += [(user, feature, value), ("*", feature, value)]
                wanted.append((user, feature + "#kinds", parent))
                parent = value
        device = self._key("device")
        wanted += [(user, device, ""), (user, device + "#kinds", "")]  # a missing device
        return wanted

    def _chain_risk(self, chain: _Chain, user: str, state: _Frequencies) -> _Part:
        """The chain's weighted log-ratio. The seen levels' conditionals telescope into
        P(v_k) / P(v_k | u) at the finest seen level k, so the finest level is read first
        (for a familiar sign-in, one read of each scope is all it takes)."""
        levels, known, seen, history = chain.levels, 0, 0.0, 0.0
        for depth in range(len(levels) - 1, -1, -1):
            level, value = levels[depth]
            seen, history = state.frequency(user, self._key(level), value)
            if history <= 0:  # no history for this feature: no evidence either way
                return _Part(chain, 0.0, 0, 0.0)
            if seen > 0:
                known = depth + 1
                break
        log_ratio = 0.0
        if known:
            level, value = levels[known - 1]
            seen_g, history_g = state.frequency("*", self._key(level), value)
            if seen_g > 0 and history_g > 0:
                log_ratio = math.log10((seen_g / history_g) / (seen / history))
        if known < len(levels):
            parent = levels[known - 1][1] if known else ""
            parent_count = seen if known else history
            p_new = self._p_new(state, user, levels[known][0], parent, parent_count)
            log_ratio -= math.log10(p_new)
        return _Part(chain, chain.weight * max(0.0, log_ratio), known, history)

    def _missing_device(self, user: str, state: _Frequencies) -> _Part:
        history = state.frequency(user, self._key("device"), "")[1]
        chain = _Chain(NO_DEVICE, (("device", ""),), WEIGHTS["device"])
        if history <= 0:  # this user never had a device cookie either
            return _Part(chain, 0.0, 0, 0.0)
        p_new = self._p_new(state, user, "device", "", history)
        return _Part(chain, chain.weight * -math.log10(p_new), 0, history)

    def _p_new(self, state: _Frequencies, user: str, level: str, parent: str, seen: float) -> float:
        kinds = state.frequency(user, self._key(level) + "#kinds", parent)[0]
        m = self.prior_weight
        p = (max(kinds - 1.0, 0.0) + m * self.priors[level]) / (max(seen - 1.0, 0.0) + m)
        return min(1.0, p)

    def _chains(self, signal: LoginSignal) -> list[_Chain]:
        place, agent = signal.place, signal.agent
        country = place.country or "?"
        asn = f"{country}|AS{place.asn if place.asn is not None else '?'}"
        system = f"{agent.device}|{agent.os}"
        browser = f"{system}|{agent.browser}"
        at = signal.at if signal.at.tzinfo is not None else signal.at.replace(tzinfo=UTC)
        chains = [
            _Chain(
                "network",
                (("country", country), ("asn", asn), ("ip", f"{asn}|{place.ip}")),
                WEIGHTS["network"],
            ),
            _Chain(
                "agent",
                (("system", system), ("browser", browser),
                 ("agent", f"{browser}|{agent.digest or agent.browser_major}")),
                WEIGHTS["agent"],
            ),
            _Chain("hour", (("hour", str(at.astimezone(self.zone).hour)),), WEIGHTS["hour"]),
        ]  # fmt: skip
        if signal.device is not None:
            chains.append(_Chain("device", (("device", signal.device),), WEIGHTS["device"]))
        return chains

    def _why(self, part: _Part, signal: LoginSignal) -> str:
        level, place, agent = part.stopped_at, signal.place, signal.agent
        if level is None:
            return f"{part.chain.feature} rarely used by this user"
        if level == "country":
            return "new country " + (place.country or "(unknown)")
        if level == "asn":
            number = f"AS{place.asn}" if place.asn is not None else "(unknown provider)"
            return f"new network {number} {place.as_name}".rstrip()
        if part.chain.feature == NO_DEVICE:
            return "no device cookie"
        if level == "device":
            return "new device"
        if level == "hour":
            hour = part.chain.levels[0][1]
            return f"unusual hour {int(hour):02d}:00 ({self.time_zone})"
        texts = {
            "ip": f"new address {place.ip}",
            "system": f"new system {agent.os} ({agent.device})",
            "browser": f"new browser {agent.browser}",
            "agent": f"new browser version {agent.browser} {agent.browser_major}".rstrip(),
        }
        return texts[level]

    def _key(self, what: str) -> str:
        return f"{self.name}:{what}"


class _Frequencies:
    """Frequencies fetched at once, with the state behind them for anything else."""

    def __init__(self, state: RiskState, found: dict[tuple[str, str, str], tuple[float, float]]):
        self._state, self._found = state, found

    def frequency(self, scope: str, feature: str, value: str) -> tuple[float, float]:
        found = self._found.get((scope, feature, value))
        return found if found is not None else self._state.frequency(scope, feature, value)


def _completed(signal: Signal) -> TypeGuard[LoginSignal]:
    return isinstance(signal, LoginSignal) and signal.stage == "succeeded"


def _scope(uid: int) -> str:
    return f"u:{uid}"


def _code(part: _Part) -> str:
    if part.chain.feature == NO_DEVICE:
        return NO_DEVICE
    if part.stopped_at is None:
        return f"rare-{part.chain.feature}"
    return _CODES[part.stopped_at]
