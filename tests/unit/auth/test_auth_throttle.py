"""LoginThrottle over a memory store: buckets, progressive delays, resets, known devices."""

from __future__ import annotations

from typing import Any

import pytest

from bastion.auth.counters import MemoryCounterStore
from bastion.auth.throttle import LoginThrottle, ThrottleKeys, normalize_login
from bastion.core.clock import FixedClock
from bastion.errors import ConfigError, RateLimitError

IP = "203.0.113.10"
DEVICE = "d3v1ce-hash"


@pytest.fixture
def store() -> MemoryCounterStore:
    return MemoryCounterStore()


@pytest.fixture
def throttle(store: MemoryCounterStore) -> LoginThrottle:
    return LoginThrottle(store)


def fail(throttle: LoginThrottle, keys: ThrottleKeys, clock: FixedClock, times: int = 1) -> None:
    """What the login flow does on a wrong password: check first, then count the failure."""
    for _ in range(times):
        throttle.check(keys, clock.now())
        throttle.failed(keys, clock.now())


def retry_after(throttle: LoginThrottle, keys: ThrottleKeys, clock: FixedClock) -> int:
    with pytest.raises(RateLimitError) as caught:
        throttle.check(keys, clock.now())
    return caught.value.retry_after


def test_check_allows_below_account_limit(throttle: LoginThrottle, clock: FixedClock) -> None:
    keys = throttle.keys("alice", IP, None)
    fail(throttle, keys, clock, times=4)
    throttle.check(keys, clock.now())


def test_check_blocks_at_account_limit(throttle: LoginThrottle, clock: FixedClock) -> None:
    keys = throttle.keys("alice", IP, None)
    fail(throttle, keys, clock, times=5)
    with pytest.raises(RateLimitError, match=r"^Too many failed sign-in attempts; try again in 2"):
        throttle.check(keys, clock.now())


def test_block_ends_after_base_delay(throttle: LoginThrottle, clock: FixedClock) -> None:
    keys = throttle.keys("alice", IP, None)
    fail(throttle, keys, clock, times=5)
    clock.advance(seconds=1.5)
    assert retry_after(throttle, keys, clock) == 1
    clock.advance(seconds=0.5)
    throttle.check(keys, clock.now())


def test_delay_doubles_with_each_failure_past_limit(
    throttle: LoginThrottle, clock: FixedClock
) -> None:
    keys = throttle.keys("alice", IP, None)
    fail(throttle, keys, clock, times=5)
    seen = []
    for _ in range(6):
        wait = retry_after(throttle, keys, clock)
        seen.append(wait)
        clock.advance(seconds=wait)
        fail(throttle, keys, clock)
    assert seen == [2, 4, 8, 16, 32, 64]


def test_delay_is_capped_at_max_delay(store: MemoryCounterStore, clock: FixedClock) -> None:
    throttle = LoginThrottle(store, account_limit=2, window=10_000.0, max_delay=30.0)
    keys = throttle.keys("alice", IP, None)
    fail(throttle, keys, clock, times=2)
    seen = []
    for _ in range(6):
        wait = retry_after(throttle, keys, clock)
        seen.append(wait)
        clock.advance(seconds=wait)
        fail(throttle, keys, clock)
    assert seen == [2, 4, 8, 16, 30, 30]


def test_delay_stays_finite_for_huge_counts(throttle: LoginThrottle) -> None:
    assert throttle.delay(10**9, 100) == throttle.max_delay


def test_count_restarts_after_window(store: MemoryCounterStore, clock: FixedClock) -> None:
    throttle = LoginThrottle(store, window=60.0)
    keys = throttle.keys("alice", IP, None)
    fail(throttle, keys, clock, times=4)
    clock.advance(seconds=60)
    fail(throttle, keys, clock, times=4)
    throttle.check(keys, clock.now())


def test_count_within_window_accumulates(store: MemoryCounterStore, clock: FixedClock) -> None:
    throttle = LoginThrottle(store, window=60.0)
    keys = throttle.keys("alice", IP, None)
    fail(throttle, keys, clock, times=4)
    clock.advance(seconds=59)
    fail(throttle, keys, clock)
    with pytest.raises(RateLimitError):
        throttle.check(keys, clock.now())


def test_success_resets_account_bucket(throttle: LoginThrottle, clock: FixedClock) -> None:
    keys = throttle.keys("alice", IP, None)
    fail(throttle, keys, clock, times=4)
    throttle.succeeded(keys, clock.now())
    fail(throttle, keys, clock, times=4)
    throttle.check(keys, clock.now())


class CountingStore(MemoryCounterStore):
    """A memory store that notes which reads it answered."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def count(self, key: str, now: float, window: float) -> int:
        self.reads.append("count")
        return super().count(key, now, window)

    def read(self, keys: Any) -> Any:
        self.reads.append("read")
        return super().read(keys)


def test_check_is_one_read_and_success_after_it_none(clock: FixedClock) -> None:
    store = CountingStore()
    throttle = LoginThrottle(store)
    keys = throttle.keys("alice", IP, None)
    fail(throttle, keys, clock, times=2)
    store.reads.clear()
    seen = throttle.check(keys, clock.now())
    throttle.succeeded(keys, clock.now(), seen)
    assert store.reads == ["read"]
    assert store.count(keys.account, clock.now().timestamp(), throttle.window) == 0  # reset


def test_success_with_what_check_saw_resets_only_a_counted_bucket(clock: FixedClock) -> None:
    store = CountingStore()
    throttle = LoginThrottle(store)
    keys = throttle.keys("alice", IP, None)
    seen = throttle.check(keys, clock.now())  # nothing held yet
    assert seen.account is None
    # a failure counted after the check stays counted: the cautious side
    throttle.failed(keys, clock.now())
    throttle.succeeded(keys, clock.now(), seen)
    assert store.count(keys.account, clock.now().timestamp(), throttle.window) == 1
    # without what check saw, success reads the bucket and clears it
    throttle.succeeded(keys, clock.now())
    assert store.count(keys.account, clock.now().timestamp(), throttle.window) == 0


def test_success_after_the_window_ended_clears_nothing(clock: FixedClock) -> None:
    store = CountingStore()
    throttle = LoginThrottle(store)
    keys = throttle.keys("alice", IP, None)
    fail(throttle, keys, clock, times=1)
    seen = throttle.check(keys, clock.now())
    assert seen.account is not None and seen.account.count == 1
    clock.advance(seconds=throttle.window)
    store.reads.clear()
    throttle.succeeded(keys, clock.now(), seen)
    assert store.reads == []


def test_success_keeps_ip_bucket(store: MemoryCounterStore, clock: FixedClock) -> None:
    throttle = LoginThrottle(store, account_limit=100, ip_limit=3)
    victim = throttle.keys("victim", IP, None)
    fail(throttle, victim, clock, times=2)
    own = throttle.keys("attacker-own-account", IP, None)
    throttle.succeeded(own, clock.now())
    fail(throttle, victim, clock)
    with pytest.raises(RateLimitError):
        throttle.check(victim, clock.now())


def test_success_keeps_network_bucket(store: MemoryCounterStore, clock: FixedClock) -> None:
    throttle = LoginThrottle(store, account_limit=100, ip_limit=100, network_limit=3)
    victim = throttle.keys("victim", IP, None)
    fail(throttle, victim, clock, times=3)
    throttle.succeeded(throttle.keys("attacker-own-account", IP, None), clock.now())
    with pytest.raises(RateLimitError):
        throttle.check(victim, clock.now())


def test_known_device_not_blocked_by_new_device_failures(
    throttle: LoginThrottle, clock: FixedClock
) -> None:
    attacker = throttle.keys("alice", "198.51.100.7", None)
    fail(throttle, attacker, clock, times=5)
    with pytest.raises(RateLimitError):
        throttle.check(attacker, clock.now())
    throttle.check(throttle.keys("alice", IP, DEVICE), clock.now())


def test_known_device_blocked_by_its_own_failures(
    throttle: LoginThrottle, clock: FixedClock
) -> None:
    keys = throttle.keys("alice", IP, DEVICE)
    fail(throttle, keys, clock, times=5)
    with pytest.raises(RateLimitError):
        throttle.check(keys, clock.now())
    # the block is the device's: a new device of this account is a different bucket
    throttle.check(throttle.keys("alice", "198.51.100.7", None), clock.now())


def test_new_devices_share_one_bucket(throttle: LoginThrottle, clock: FixedClock) -> None:
    fail(throttle, throttle.keys("alice", "198.51.100.7", None), clock, times=3)
    fail(throttle, throttle.keys("alice", "192.0.2.8", None), clock, times=2)
    with pytest.raises(RateLimitError):
        throttle.check(throttle.keys("alice", "2001:db8::1", None), clock.now())


def test_ip_bucket_blocks_across_accounts(throttle: LoginThrottle, clock: FixedClock) -> None:
    for n in range(20):
        fail(throttle, throttle.keys(f"user{n}", IP, None), clock)
    with pytest.raises(RateLimitError):
        throttle.check(throttle.keys("someone-else", IP, None), clock.now())


def test_ip_bucket_spares_other_networks(throttle: LoginThrottle, clock: FixedClock) -> None:
    for n in range(20):
        fail(throttle, throttle.keys(f"user{n}", IP, None), clock)
    throttle.check(throttle.keys("someone-else", "192.0.2.8", None), clock.now())


def test_ip_bucket_allows_below_limit(throttle: LoginThrottle, clock: FixedClock) -> None:
    for n in range(19):
        fail(throttle, throttle.keys(f"user{n}", IP, None), clock)
    throttle.check(throttle.keys("someone-else", IP, None), clock.now())


def test_network_bucket_blocks_across_ips(store: MemoryCounterStore, clock: FixedClock) -> None:
    throttle = LoginThrottle(store, ip_limit=5, network_limit=12)
    for n in range(12):
        fail(throttle, throttle.keys(f"user{n}", f"203.0.113.{n}", None), clock)
    with pytest.raises(RateLimitError):
        throttle.check(throttle.keys("someone-else", "203.0.113.200", None), clock.now())


def test_network_bucket_spares_neighbouring_network(
    store: MemoryCounterStore, clock: FixedClock
) -> None:
    throttle = LoginThrottle(store, ip_limit=5, network_limit=12)
    for n in range(12):
        fail(throttle, throttle.keys(f"user{n}", f"203.0.113.{n}", None), clock)
    throttle.check(throttle.keys("someone-else", "203.0.114.200", None), clock.now())


def test_network_bucket_covers_ipv6_slash_56(store: MemoryCounterStore, clock: FixedClock) -> None:
    throttle = LoginThrottle(store, ip_limit=5, network_limit=3)
    for n in range(3):
        fail(throttle, throttle.keys(f"user{n}", f"2001:db8:0:{n}::1", None), clock)
    with pytest.raises(RateLimitError):
        throttle.check(throttle.keys("x", "2001:db8:0:ff::9", None), clock.now())
    throttle.check(throttle.keys("x", "2001:db8:0:100::9", None), clock.now())


def test_ipv4_mapped_address_shares_ipv4_buckets(
    store: MemoryCounterStore, clock: FixedClock
) -> None:
    throttle = LoginThrottle(store, ip_limit=2)
    fail(throttle, throttle.keys("a", IP, None), clock)
    fail(throttle, throttle.keys("b", "::ffff:" + IP, None), clock)
    with pytest.raises(RateLimitError):
        throttle.check(throttle.keys("c", IP, None), clock.now())


def test_retry_after_is_longest_remaining_block(
    store: MemoryCounterStore, clock: FixedClock
) -> None:
    throttle = LoginThrottle(store, account_limit=1, ip_limit=1)
    keys = throttle.keys("alice", IP, None)
    fail(throttle, keys, clock)  # account and ip: 2 s each
    clock.advance(seconds=2)
    fail(throttle, keys, clock)  # account and ip: 4 s each
    throttle.succeeded(keys, clock.now())  # account cleared; ip still blocked 4 s
    assert retry_after(throttle, keys, clock) == 4
    other = throttle.keys("bob", "192.0.2.1", None)
    throttle.check(other, clock.now())


def test_retry_after_rounds_up(throttle: LoginThrottle, clock: FixedClock) -> None:
    keys = throttle.keys("alice", IP, None)
    fail(throttle, keys, clock, times=5)
    clock.advance(seconds=0.25)
    assert retry_after(throttle, keys, clock) == 2
    with pytest.raises(RateLimitError, match=r"try again in 2 seconds\.$"):
        throttle.check(keys, clock.now())


def test_rate_limit_message_singular_second(throttle: LoginThrottle, clock: FixedClock) -> None:
    keys = throttle.keys("alice", IP, None)
    fail(throttle, keys, clock, times=5)
    clock.advance(seconds=1.5)
    with pytest.raises(RateLimitError, match=r"try again in 1 second\.$"):
        throttle.check(keys, clock.now())


def test_blocked_attempts_are_not_counted(throttle: LoginThrottle, clock: FixedClock) -> None:
    keys = throttle.keys("alice", IP, None)
    fail(throttle, keys, clock, times=5)
    for _ in range(50):
        with pytest.raises(RateLimitError):
            fail(throttle, keys, clock)
    assert retry_after(throttle, keys, clock) == 2


@pytest.mark.parametrize("variant", ["Alice", " ALICE ", "\uff21lice", "alice"])
def test_login_variants_share_a_bucket(
    throttle: LoginThrottle, clock: FixedClock, variant: str
) -> None:
    fail(throttle, throttle.keys("alice", IP, None), clock, times=5)
    with pytest.raises(RateLimitError):
        throttle.check(throttle.keys(variant, "192.0.2.1", None), clock.now())


def test_other_login_has_its_own_bucket(throttle: LoginThrottle, clock: FixedClock) -> None:
    fail(throttle, throttle.keys("alice", IP, None), clock, times=5)
    throttle.check(throttle.keys("alicia", "192.0.2.1", None), clock.now())


def test_keys_hold_no_raw_login_or_device(throttle: LoginThrottle) -> None:
    keys = throttle.keys("Marguerite.Dupont@example.org", IP, "device-cookie-hash")
    text = repr(keys).casefold()
    assert "marguerite" not in text
    assert "device-cookie-hash" not in text
    assert keys.ip == f"login:ip:{IP}"
    assert keys.network == "login:net:203.0.113.0/24"


def test_keys_distinguish_known_device_from_new(throttle: LoginThrottle) -> None:
    assert throttle.keys("alice", IP, None).account.endswith(":new")
    assert throttle.keys("alice", IP, DEVICE).account != throttle.keys("alice", IP, None).account
    assert throttle.keys("alice", IP, "a").account != throttle.keys("alice", IP, "b").account


def test_unparsable_ip_shares_one_bucket(throttle: LoginThrottle) -> None:
    a = throttle.keys("alice", "testclient", None)
    b = throttle.keys("alice", "", None)
    assert a == b
    assert a.ip == "login:ip:unknown"
    assert a.network == "login:net:unknown"


def test_normalize_login_folds_case_width_and_space() -> None:
    assert normalize_login("  \uff21LICE\u00df ") == "alicess"


@pytest.mark.parametrize(
    "options",
    [
        {"account_limit": 0},
        {"ip_limit": 0},
        {"network_limit": -1},
        {"window": 0.0},
        {"base_delay": 0.0},
        {"base_delay": 10.0, "max_delay": 5.0},
    ],
)
def test_throttle_refuses_bad_settings(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        LoginThrottle(MemoryCounterStore(), **options)


def test_throttle_accepts_minimal_settings() -> None:
    LoginThrottle(MemoryCounterStore(), account_limit=1, base_delay=1.0, max_delay=1.0)
