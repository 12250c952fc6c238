"""The risk engine as sign-in uses it: one `LoginSignal` per attempt, assessed at its three
stages ("before" the password, "failed", "succeeded"), and what the flow remembers between
requests (devices that passed an e-mail code).

Kept apart from `login.py` so that the order of the flow stays readable there; everything here
is about what the engine is told, never about passwords (but for the spraying tag, below).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from bastion.crypto.digest import keyed_digest, sha256_hex
from bastion.risk.engine import RiskEngine
from bastion.risk.findings import Action, Assessment
from bastion.risk.geo import GeoResolver, place
from bastion.risk.policy import RiskPolicy
from bastion.risk.signals import Agent, BrowserSignals, Channel, LoginSignal, Place
from bastion.risk.useragent import parse_agent

if TYPE_CHECKING:
    from sqlalchemy import Connection

#: The spraying tag: a keyed digest of the password under a key that lives for one window.
SPRAY_WINDOW = 300.0
TAG_CHARS = 16
#: How long a device that passed an e-mail code may go on to the password for that user.
VERIFIED_SECONDS = 600.0
#: Retry-After when a refusal before the password comes with no ban to read an end from.
DEFAULT_RETRY = 60
MAX_LOGIN = 256
_VERIFIED = "signin:verified:"
#: The bans `bastion.risk.detectors.bruteforce.BruteForce` raises, by what they name.
_BANS = ("bruteforce:ban:ip:{ip}", "bruteforce:ban:enum:{ip}")
_NETWORK_BAN = "bruteforce:ban:net:{network}"
_ASN_BAN = "bruteforce:ban:asn:{asn}"


class NoGeo:
    """A resolver that knows networks but no countries (the CLI, tests without a table)."""

    def locate(self, ip: str) -> Place:
        return place(ip, None, "", None)


class LoginRisk:
    """One tenant's engine, seen from its sign-in flow."""

    def __init__(
        self,
        engine: RiskEngine,
        tenant: str,
        *,
        geo: GeoResolver | None = None,
        policy: Callable[[], RiskPolicy] | None = None,
    ) -> None:
        self.engine = engine
        self.tenant = tenant
        self.geo: GeoResolver = geo if geo is not None else NoGeo()
        self._policy = policy

    # -- signals -----------------------------------------------------------------------------

    def signal(
        self,
        *,
        login: str,
        ip: str,
        user_agent: str,
        device_id: str | None,
        now: datetime,
        uid: int | None,
        device_known: bool,
        place_: Place | None = None,
        agent: Agent | None = None,
        browser: BrowserSignals | None = None,
        channel: Channel = "web",
    ) -> LoginSignal:
        """The "before" signal of an attempt; the later stages are `replace`d from it."""
        return LoginSignal(
            tenant=self.tenant,
            login=normalise_login(login),
            at=now,
            place=place_ if place_ is not None else self.geo.locate(ip),
            agent=agent if agent is not None else parse_agent(user_agent),
            stage="before",
            uid=uid,
            device=device_digest(device_id),
            device_known=device_known,
            browser=browser if browser is not None else BrowserSignals(),
            channel=channel,
        )

    # -- stages ------------------------------------------------------------------------------

    def before(self, signal: LoginSignal, *, record: bool = True) -> Assessment:
        """Before any hash. No groups: the login is not proven yet, and a stricter policy for
        some accounts would tell an attacker which logins exist. `record=False`: the caller
        stores the decision (`store`) with its audit entry."""
        return self.engine.assess(signal, record=record)

    def failed(
        self, signal: LoginSignal, password: str | None, *, record: bool = True
    ) -> tuple[LoginSignal, Assessment]:
        """A wrong password or unknown login: observed (counts, spraying), never decisive.
        Returns the "failed" signal with its assessment (for `store`, when not `record`)."""
        tag = self.attempt_tag(password, signal.at) if password else None
        failed = replace(signal, stage="failed", attempt_tag=tag)
        return failed, self.engine.assess(failed, record=record)

    def store(
        self, signal: LoginSignal, assessment: Assessment, conn: Connection | None = None
    ) -> None:
        """Store a decision (if it is one the engine keeps): in `conn`'s transaction when
        given, else in its own."""
        self.engine.record(signal, assessment, conn)

    def succeeded(
        self, signal: LoginSignal, groups: frozenset[int], *, record: bool = True
    ) -> Assessment:
        """The password verified: the login model, travel and bots decide, per the user's
        groups. `record=False`: the caller stores the decision (`store`) with its audit entry."""
        if self._policy is not None:
            # Read from the groups at each sign-in: an administrator's change applies at once.
            # Assigning a new immutable policy is atomic; concurrent sign-ins read one or the
            # other, both current.
            self.engine.policy = self._policy()
        return self.engine.assess(signal, groups=groups, record=record)

    def learn(self, signal: LoginSignal) -> None:
        """Train on a sign-in that completed: allowed, or challenged and then proven."""
        self.engine.learn(signal)

    # -- what the flow keeps -----------------------------------------------------------------

    def attempt_tag(self, password: str, now: datetime) -> str:
        """A short keyed digest of `password` under this window's key (shared by workers and
        forgotten with the window): the same password tried on many accounts shows as one tag,
        and nothing about it outlives the window. It goes to the engine and nowhere else."""
        key = self.engine.state.window_key("spray", now.timestamp(), SPRAY_WINDOW)
        return keyed_digest(key, "bastion.risk.spray", password)[:TAG_CHARS]

    def retry_after(self, signal: LoginSignal, now: datetime) -> int:
        """Whole seconds until the longest ban on this attempt's address, network or AS ends."""
        at = now.timestamp()
        place_ = signal.place
        keys = [ban.format(ip=place_.ip) for ban in _BANS]
        if place_.network:
            keys.append(_NETWORK_BAN.format(network=place_.network))
        if place_.asn is not None:
            keys.append(_ASN_BAN.format(asn=place_.asn))
        ends = [self.engine.state.flag_until(key, at) for key in keys]
        latest = max((end for end in ends if end is not None), default=None)
        if latest is None or latest <= at:
            return DEFAULT_RETRY
        return max(1, math.ceil(latest - at))

    def verify_device(self, device_id: str, uid: int, now: datetime) -> None:
        """Remember that this device passed an e-mail code for `uid` (for `VERIFIED_SECONDS`)."""
        until = now.timestamp() + VERIFIED_SECONDS
        self.engine.state.set_flag(_verified_key(device_id, uid), until)

    def device_verified(self, device_id: str, uid: int, now: datetime) -> bool:
        until = self.engine.state.flag_until(_verified_key(device_id, uid), now.timestamp())
        return until is not None


def challenged(assessment: Assessment) -> bool:
    return assessment.action is Action.CHALLENGE


def refused(assessment: Assessment) -> bool:
    return assessment.action.rank >= Action.DENY.rank


def challenge_kind(assessment: Assessment) -> str:
    """The kind of challenge: "defensive" in the tenant's defensive mode, else "device"."""
    codes = {(f.detector, f.code) for f in assessment.findings}
    return "defensive" if ("stuffing", "defensive-mode") in codes else "device"


def normalise_login(login: str) -> str:
    """A login as signals carry it: NFKC, stripped, lower case, capped."""
    return unicodedata.normalize("NFKC", login or "").strip().lower()[:MAX_LOGIN]


def device_digest(device_id: str | None) -> str | None:
    """The digest signals carry (the one `auth.devices` stores, and the web edge computes)."""
    return sha256_hex(device_id.encode("utf-8", "surrogatepass")) if device_id else None


def _verified_key(device_id: str, uid: int) -> str:
    return f"{_VERIFIED}{device_digest(device_id)}:{uid}"
