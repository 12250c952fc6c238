"""Impossible travel: a user's consecutive events further apart than any airliner could go."""

from __future__ import annotations

import math

from bastion.errors import ConfigError
from bastion.risk.detector import Detector, Signal
from bastion.risk.findings import Finding
from bastion.risk.signals import LoginSignal, RequestSignal
from bastion.risk.state import LastSeen, Reads, RiskState

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in km between two points given in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


class ImpossibleTravel(Detector):
    """Compares a user's event (a successful sign-in or an authenticated request) with their
    previous one, under "travel:u:<uid>".

    Flags when the great-circle distance is at least `min_km` (500 km) and the speed needed
    exceeds `max_kmh` (1000 km/h): score `score` (45, over the default challenge threshold
    of 40), with a reason naming both countries and the speed. Coordinates are country
    centroids, so short hops never count, and an event whose place has no coordinates is
    neither flagged nor remembered (the previous known place stays the reference, and time
    only makes a later check more lenient).

    Threat: an attacker abroad must not become the reference by trying twice, nor by
    signing in somewhere plausible with a stolen password and failing the second factor (the
    real user, back home minutes later, would then look impossible). So a sign-in moves the
    reference only once trusted (`learn`: it raised nothing, or the user proved it was them
    with a second factor); an authenticated request moves it when the trip is plausible
    (`observe`). A flagged place becomes the reference through `learn`, or once enough time
    has passed for the trip to be possible. A completed sign-in writes nothing before its
    response: `learn` runs after it.
    """

    name = "travel"
    reads = (LoginSignal, RequestSignal)

    def __init__(self, *, max_kmh: float = 1000.0, min_km: float = 500.0, score: float = 45.0):
        if max_kmh <= 0 or min_km < 0 or not 0 <= score <= 100:
            raise ConfigError("Travel needs a positive speed, a distance >= 0, a score 0-100.")
        self.max_kmh, self.min_km, self.score = max_kmh, min_km, score

    def prefetch(self, signal: Signal) -> Reads:
        uid = _uid(signal)
        return Reads() if uid is None else Reads(last_seen=(_key(uid),))

    def assess(self, signal: Signal, state: RiskState) -> list[Finding]:
        uid = _uid(signal)
        if uid is None:
            return []
        found = self._finding(state.last_seen(_key(uid)), signal)
        return [] if found is None else [found]

    def _finding(self, previous: LastSeen | None, signal: Signal) -> Finding | None:
        """Impossible travel from `previous` to `signal`, if it is."""
        trip = self._trip(previous, signal)
        if trip is None or previous is None:
            return None
        km, hours = trip
        kmh = km / hours if hours > 0 else math.inf
        if km < self.min_km or kmh <= self.max_kmh:
            return None
        speed = "at the same moment" if math.isinf(kmh) else f"{kmh:,.0f} km/h"
        reason = (
            f"{km:,.0f} km from {previous.country or '?'} to {signal.place.country or '?'} "
            f"in {_duration(hours)}: {speed}, over {self.max_kmh:,.0f} km/h"
        )
        return Finding(self.name, "impossible-travel", self.score, reason)

    def observe(self, signal: Signal, state: RiskState) -> None:
        if not isinstance(signal, RequestSignal):
            return  # a sign-in counts once trusted (`learn`)
        uid = signal.uid
        if signal.place.latitude is None or signal.place.longitude is None:
            return
        previous = state.last_seen(_key(uid))
        if previous is not None and signal.at.timestamp() < previous.at:
            return  # a late arrival from another worker: the newer reference stands
        if self._finding(previous, signal) is None:  # the reference read once, in the batch
            _remember(state, uid, signal)

    def learn(self, signal: Signal, state: RiskState) -> None:
        uid = _uid(signal)
        if uid is None or signal.place.latitude is None or signal.place.longitude is None:
            return
        _remember(state, uid, signal)

    @staticmethod
    def _trip(previous: LastSeen | None, signal: Signal) -> tuple[float, float] | None:
        """(km, hours) from the previous event to this one; None when either is not placed."""
        place = signal.place
        if previous is None or previous.latitude is None or previous.longitude is None:
            return None
        if place.latitude is None or place.longitude is None:
            return None
        km = great_circle_km(previous.latitude, previous.longitude, place.latitude, place.longitude)
        # Events may reach different workers out of order: the gap counts either way.
        hours = abs(signal.at.timestamp() - previous.at) / 3600.0
        return km, hours


def _uid(signal: Signal) -> int | None:
    if isinstance(signal, LoginSignal):
        return signal.uid if signal.stage == "succeeded" else None
    return signal.uid


def _key(uid: int) -> str:
    return f"travel:u:{uid}"


def _remember(state: RiskState, uid: int, signal: Signal) -> None:
    place = signal.place
    seen = LastSeen(
        at=signal.at.timestamp(),
        ip=place.ip,
        asn=place.asn,
        country=place.country,
        latitude=place.latitude,
        longitude=place.longitude,
    )
    state.set_last_seen(_key(uid), seen)


def _duration(hours: float) -> str:
    minutes = hours * 60
    if minutes < 1:
        return f"{hours * 3600:.0f} s"
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{hours:.1f} h"
