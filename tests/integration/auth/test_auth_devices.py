"""Known and trusted devices against real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bastion.auth.devices import Devices, auth_device
from bastion.auth.schema import METADATA
from bastion.core.clock import FixedClock
from bastion.core.tenant import Tenant
from bastion.errors import ValidationError

PHONE = "device-phone-0123456789"
LAPTOP = "device-laptop-9876543210"


@pytest.fixture
def devices(make_tenant: Callable[..., Tenant]) -> Devices:
    engine = make_tenant().engine
    METADATA.create_all(engine, tables=[auth_device])
    return Devices(engine)


def remember(devices: Devices, clock: FixedClock, uid: int = 5, device: str = PHONE) -> None:
    devices.remember(uid, device, clock.now(), ip="203.0.113.4", user_agent="Firefox")


def test_is_known_after_a_sign_in(devices: Devices, clock: FixedClock) -> None:
    remember(devices, clock)
    assert devices.is_known(5, PHONE)


def test_is_known_false_for_a_new_device(devices: Devices, clock: FixedClock) -> None:
    remember(devices, clock)
    assert not devices.is_known(5, LAPTOP)


def test_is_known_false_for_another_users_device(devices: Devices, clock: FixedClock) -> None:
    remember(devices, clock, uid=5)
    assert not devices.is_known(6, PHONE)


def test_remember_again_updates_the_same_device(devices: Devices, clock: FixedClock) -> None:
    remember(devices, clock)
    first = clock.now().timestamp()
    clock.advance(days=2)
    devices.remember(5, PHONE, clock.now(), ip="198.51.100.9", user_agent="U" * 400)
    [info] = devices.list_for_user(5, clock.now())
    assert (info.first_seen, info.last_seen) == (first, clock.now().timestamp())
    assert info.ip == "198.51.100.9"
    assert info.user_agent == "U" * 300


def test_is_trusted_within_thirty_days(devices: Devices, clock: FixedClock) -> None:
    remember(devices, clock)
    devices.trust(5, PHONE, clock.now())
    clock.advance(days=29, hours=23)
    assert devices.is_trusted(5, PHONE, clock.now())


def test_is_trusted_false_after_thirty_days(devices: Devices, clock: FixedClock) -> None:
    remember(devices, clock)
    devices.trust(5, PHONE, clock.now())
    clock.advance(days=30)
    assert not devices.is_trusted(5, PHONE, clock.now())
    assert devices.is_known(5, PHONE)  # no longer trusted, still known


def test_is_trusted_false_for_a_known_untrusted_device(devices: Devices, clock: FixedClock) -> None:
    remember(devices, clock)
    assert not devices.is_trusted(5, PHONE, clock.now())


def test_is_trusted_false_for_another_users_trusted_device(
    devices: Devices, clock: FixedClock
) -> None:
    devices.trust(5, PHONE, clock.now())
    assert devices.is_trusted(5, PHONE, clock.now())
    assert not devices.is_trusted(6, PHONE, clock.now())


def test_trust_refuses_an_unbounded_duration(devices: Devices, clock: FixedClock) -> None:
    for days in (0, -1, 366, True):
        with pytest.raises(ValidationError):
            devices.trust(5, PHONE, clock.now(), days=days)
    assert not devices.is_trusted(5, PHONE, clock.now())


def test_forget_trust_of_one_device(devices: Devices, clock: FixedClock) -> None:
    devices.trust(5, PHONE, clock.now())
    devices.trust(5, LAPTOP, clock.now())
    assert devices.forget_trust(5, PHONE) == 1
    assert not devices.is_trusted(5, PHONE, clock.now())
    assert devices.is_trusted(5, LAPTOP, clock.now())


def test_forget_trust_of_every_device(devices: Devices, clock: FixedClock) -> None:
    devices.trust(5, PHONE, clock.now())
    devices.trust(5, LAPTOP, clock.now())
    devices.trust(6, PHONE, clock.now())
    assert devices.forget_trust(5) == 2
    assert not devices.is_trusted(5, PHONE, clock.now())
    assert not devices.is_trusted(5, LAPTOP, clock.now())
    assert devices.is_trusted(6, PHONE, clock.now())  # another user's trust stays


def test_forget_trust_by_id_of_the_users_device(devices: Devices, clock: FixedClock) -> None:
    devices.trust(5, PHONE, clock.now())
    [info] = devices.list_for_user(5, clock.now())
    assert devices.forget_trust_by_id(5, info.id)
    assert not devices.is_trusted(5, PHONE, clock.now())


def test_forget_trust_by_id_refuses_another_users_device(
    devices: Devices, clock: FixedClock
) -> None:
    devices.trust(5, PHONE, clock.now())
    [info] = devices.list_for_user(5, clock.now())
    assert not devices.forget_trust_by_id(6, info.id)
    assert devices.is_trusted(5, PHONE, clock.now())


def test_forget_makes_a_device_unknown(devices: Devices, clock: FixedClock) -> None:
    remember(devices, clock, device=PHONE)
    remember(devices, clock, device=LAPTOP)
    remember(devices, clock, uid=6, device=PHONE)
    assert devices.forget(5, PHONE) == 1
    assert not devices.is_known(5, PHONE)
    assert devices.is_known(5, LAPTOP)
    assert devices.is_known(6, PHONE)


def test_list_for_user_newest_first_with_live_trust_only(
    devices: Devices, clock: FixedClock
) -> None:
    phone_seen = clock.now().timestamp()
    remember(devices, clock, device=PHONE)
    devices.trust(5, PHONE, clock.now(), days=1)
    clock.advance(hours=1)
    remember(devices, clock, device=LAPTOP)
    devices.trust(5, LAPTOP, clock.now())
    remember(devices, clock, uid=6, device="someone-else")
    listed = devices.list_for_user(5, clock.now() + timedelta(days=2))
    assert [d.last_seen for d in listed] == [clock.now().timestamp(), phone_seen]
    assert listed[0].trusted_until == (clock.now() + timedelta(days=30)).timestamp()
    assert listed[1].trusted_until is None  # its one day has passed


def test_device_ids_are_stored_hashed(devices: Devices, clock: FixedClock) -> None:
    remember(devices, clock)
    with devices.engine.connect() as conn:
        rows = conn.execute(sa.select(auth_device)).all()
    dump = " ".join(str(v) for row in rows for v in row)
    assert PHONE not in dump
    assert len(rows) == 1 and len(rows[0].device_hash) == 64


@pytest.mark.parametrize("device", ["", "x" * 257, None])
def test_refuses_a_malformed_device_id(devices: Devices, device: object) -> None:
    with pytest.raises(ValidationError):
        devices.is_known(5, device)  # type: ignore[arg-type]
