"""Session binding: a session belongs to the device it was created on and to the place it is
used from; another device ends it, another network asks for re-verification."""

from __future__ import annotations

from bastion.errors import ConfigError
from bastion.risk.detector import Detector, Signal
from bastion.risk.findings import Action, Finding
from bastion.risk.signals import Place, RequestSignal
from bastion.risk.state import LastSeen, Reads, RiskState


class SessionBinding(Detector):
    """Reads authenticated browser requests (`RequestSignal` with a `session`).

    - The session was bound to a device and the request presents another one, or none:
      floor REVOKE at once (a stolen session cookie replayed elsewhere), score
      `device_score` (100).
    - The autonomous system or the country differs from the session's reference place (its
      previous accepted request, under "binding:s:<session>"): floor CHALLENGE, score
      `place_score` (40). A new address inside the same AS and country (DHCP, carrier NAT)
      is no change; an unknown AS or country on either side is never counted as one.

    Threat: a thief replaying the session from their own network must not make their place
    the reference by simply sending a second request. `observe` therefore moves the
    reference only for requests from the same place (or the session's first); a changed
    place becomes the reference only through `learn`, which the flow calls once the user has
    re-verified. Until then every request from the new place is challenged.
    """

    name = "binding"
    reads = (RequestSignal,)

    def __init__(self, *, device_score: float = 100.0, place_score: float = 40.0) -> None:
        if not (0 <= device_score <= 100 and 0 <= place_score <= 100):
            raise ConfigError("Session binding scores must be between 0 and 100.")
        self.device_score, self.place_score = device_score, place_score

    def prefetch(self, signal: Signal) -> Reads:
        if not isinstance(signal, RequestSignal) or signal.session is None:
            return Reads()
        return Reads(last_seen=(_key(signal.session),))

    def assess(self, signal: Signal, state: RiskState) -> list[Finding]:
        if not isinstance(signal, RequestSignal) or signal.session is None:
            return []
        findings: list[Finding] = []
        if signal.bound_device is not None and signal.device != signal.bound_device:
            if signal.device is None:
                reason = "session presented without the device cookie it is bound to"
                code = "device-missing"
            else:
                reason = "session used from another device than the one it was created on"
                code = "device-mismatch"
            findings.append(Finding(self.name, code, self.device_score, reason, Action.REVOKE))
        previous = state.last_seen(_key(signal.session))
        if previous is not None and _moved(previous, signal.place):
            reason = (
                f"session moved from {_where(previous.asn, previous.country)} "
                f"to {_where(signal.place.asn, signal.place.country)} since its last request"
            )
            findings.append(
                Finding(self.name, "place-change", self.place_score, reason, Action.CHALLENGE)
            )
        return findings

    def observe(self, signal: Signal, state: RiskState) -> None:
        if not isinstance(signal, RequestSignal) or signal.session is None:
            return
        previous = state.last_seen(_key(signal.session))
        if previous is None or not _moved(previous, signal.place):
            # An address the geo database cannot place keeps the known AS and country: the
            # reference never degrades into "anywhere".
            _remember(state, signal.session, signal, previous)

    def learn(self, signal: Signal, state: RiskState) -> None:
        """The user re-verified from here: this place is the session's reference now."""
        if isinstance(signal, RequestSignal) and signal.session is not None:
            _remember(state, signal.session, signal)


def _key(session: str) -> str:
    return f"binding:s:{session}"


def _moved(previous: LastSeen, place: Place) -> bool:
    asn_changed = None not in (previous.asn, place.asn) and previous.asn != place.asn
    country_changed = (
        None not in (previous.country, place.country) and previous.country != place.country
    )
    return asn_changed or country_changed


def _remember(
    state: RiskState, session: str, signal: RequestSignal, previous: LastSeen | None = None
) -> None:
    place = signal.place
    asn, country = place.asn, place.country
    if previous is not None:
        asn = previous.asn if asn is None else asn
        country = previous.country if country is None else country
    seen = LastSeen(
        at=signal.at.timestamp(),
        ip=place.ip,
        asn=asn,
        country=country,
        latitude=place.latitude,
        longitude=place.longitude,
    )
    state.set_last_seen(_key(session), seen)


def _where(asn: int | None, country: str | None) -> str:
    return f"AS{asn if asn is not None else '?'} ({country or '?'})"
