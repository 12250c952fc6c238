"""Sign-in throttling per account and device, per IP and per network, with a progressive delay,
checked before any password hash is computed."""

from __future__ import annotations

import functools
import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from bastion.auth.counters import Counter, CounterStore
from bastion.auth.network import network_of, normalize_ip
from bastion.crypto.digest import sha256_hex
from bastion.errors import ConfigError, RateLimitError, ValidationError

#: The bucket all unparsable client addresses share: failing closed, they throttle together.
UNKNOWN_IP = "unknown"

# 2**64 times any sane base delay is far past any cap; bounding the exponent keeps the
# arithmetic finite when a network bucket has counted millions of failures.
_MAX_EXPONENT = 64


@dataclass(frozen=True)
class ThrottleKeys:
    """The counter keys of one sign-in attempt."""

    account: str
    ip: str
    network: str


@functools.lru_cache(maxsize=4096)
def throttle_keys(login: str, ip: str, device_id: str | None) -> ThrottleKeys:
    """The buckets of an attempt (see `LoginThrottle.keys`). Kept for the latest few thousand
    callers: a program's every RPC call with a password asks for the same three, and making
    them is two digests and two address parses."""
    login_part = sha256_hex(normalize_login(login).encode())
    device_part = "new" if device_id is None else "dev:" + sha256_hex(device_id.encode())
    try:
        address, network = normalize_ip(ip), network_of(ip)
    except ValidationError:
        address = network = UNKNOWN_IP
    return ThrottleKeys(
        account=f"login:acct:{login_part}:{device_part}",
        ip=f"login:ip:{address}",
        network=f"login:net:{network}",
    )


@dataclass(frozen=True, slots=True)
class ThrottleSeen:
    """What `LoginThrottle.check` read of an attempt's account bucket (None: nothing held)."""

    account: Counter | None


def normalize_login(login: str) -> str:
    """The login as throttles see it: NFKC, case-folded, without surrounding whitespace.

    Threat: an attacker varying case or Unicode forms ("Admin", fullwidth letters) to get fresh
    buckets for one account.
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", login).casefold()).strip()


class LoginThrottle:
    """Counts failed sign-ins in three buckets and blocks them with a growing delay.

    - account: the login plus the device when it is known for that login, else "new". An
      attacker's failures (from devices the account never used) lock the "new" bucket only, so
      the real user's known devices still sign in.
    - ip: one client address, across every account it tries (password spraying).
    - network: the /24 or /56 around it, for attackers hopping between neighbouring addresses.

    Logins are PII, so they reach the store only as SHA-256 digests.
    """

    def __init__(
        self,
        store: CounterStore,
        *,
        account_limit: int = 5,
        ip_limit: int = 20,
        network_limit: int = 100,
        window: float = 900.0,
        base_delay: float = 2.0,
        max_delay: float = 900.0,
    ) -> None:
        if min(account_limit, ip_limit, network_limit) < 1:
            raise ConfigError("Throttle limits must be at least 1.")
        if window <= 0 or base_delay <= 0 or max_delay < base_delay:
            raise ConfigError(
                "The throttle window and base delay must be positive, and the maximum delay at "
                "least the base delay."
            )
        self.store = store
        self.account_limit = account_limit
        self.ip_limit = ip_limit
        self.network_limit = network_limit
        self.window = window
        self.base_delay = base_delay
        self.max_delay = max_delay

    def keys(self, login: str, ip: str, device_id: str | None) -> ThrottleKeys:
        """The buckets of an attempt; pass `device_id` only if it signed in as `login` before."""
        return throttle_keys(login, ip, device_id)

    def check(self, keys: ThrottleKeys, now: datetime) -> ThrottleSeen:
        """Raise RateLimitError while any bucket is blocked, with the longest wait remaining.

        The three buckets are one read; what it found is returned for `succeeded`."""
        at = now.timestamp()
        remaining = 0.0
        found = self.store.read((keys.account, keys.ip, keys.network))
        for counter in found.values():
            until = counter.blocked_at(at)
            if until is not None:
                remaining = max(remaining, until - at)
        if remaining > 0:
            seconds = max(1, math.ceil(remaining))
            unit = "second" if seconds == 1 else "seconds"
            raise RateLimitError(
                f"Too many failed sign-in attempts; try again in {seconds} {unit}.",
                retry_after=seconds,
            )
        return ThrottleSeen(found.get(keys.account))

    def failed(self, keys: ThrottleKeys, now: datetime) -> None:
        """Count a failure in every bucket; block those at or past their limit."""
        at = now.timestamp()
        for key, limit in (
            (keys.account, self.account_limit),
            (keys.ip, self.ip_limit),
            (keys.network, self.network_limit),
        ):
            failures = self.store.hit(key, at, self.window)
            if failures >= limit:
                self.store.block(key, at + self.delay(failures, limit))

    def succeeded(
        self, keys: ThrottleKeys, now: datetime, seen: ThrottleSeen | None = None
    ) -> None:
        """Clear the account bucket. The IP and network ones stay: an attacker who owns one
        account must not wipe their address's record by signing into it.

        `seen`: what `check` read for this attempt; then nothing is read again, and a failure
        counted between the two stays counted (the cautious side)."""
        # Most sign-ins follow no failure: a read spares them a write (and a lock on SQLite).
        at = now.timestamp()
        if seen is None:
            failures = self.store.count(keys.account, at, self.window)
        else:
            failures = 0 if seen.account is None else seen.account.count_at(at, self.window)
        if failures > 0:
            self.store.reset(keys.account)

    def delay(self, failures: int, limit: int) -> float:
        """Seconds to block a bucket that has counted `failures` against `limit`."""
        exponent = min(failures - limit, _MAX_EXPONENT)
        return float(min(self.max_delay, self.base_delay * 2**exponent))
