"""The hash gate: slots, the known-device lane first, a bounded line for everyone else."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from bastion.auth.admission import HashGate
from bastion.auth.hostslots import HostSlots, default_host_slots
from bastion.errors import ConfigError, RateLimitError


def hold(gate: HashGate, *, priority: bool, entered: threading.Event, release: threading.Event):  # type: ignore[no-untyped-def]
    def run() -> None:
        with gate.admit(priority=priority):
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_attempt_within_the_slots_is_admitted_at_once() -> None:
    gate = HashGate(2, max_waiting=0, max_wait=0.05)
    with gate.admit(priority=False), gate.admit(priority=False):
        pass


def test_ordinary_attempt_is_turned_away_when_the_slots_are_busy_and_the_line_is_full() -> None:
    gate = HashGate(1, max_waiting=0, max_wait=5)
    entered, release = threading.Event(), threading.Event()
    thread = hold(gate, priority=False, entered=entered, release=release)
    assert entered.wait(5)
    try:
        with pytest.raises(RateLimitError) as caught, gate.admit(priority=False):
            pass
        assert caught.value.retry_after >= 1
    finally:
        release.set()
        thread.join(5)


def test_ordinary_attempt_that_waits_too_long_is_turned_away() -> None:
    gate = HashGate(1, max_waiting=4, max_wait=0.05)
    entered, release = threading.Event(), threading.Event()
    thread = hold(gate, priority=False, entered=entered, release=release)
    assert entered.wait(5)
    try:
        with pytest.raises(RateLimitError), gate.admit(priority=False):
            pass
    finally:
        release.set()
        thread.join(5)


def test_known_device_is_not_held_up_by_ordinary_hashes() -> None:
    gate = HashGate(1, max_waiting=0, max_wait=0.05)
    entered, release = threading.Event(), threading.Event()
    thread = hold(gate, priority=False, entered=entered, release=release)
    assert entered.wait(5)
    try:
        with gate.admit(priority=True):  # its own lane: no wait for the attacker's hash
            pass
    finally:
        release.set()
        thread.join(5)


def test_known_device_waits_for_a_slot_instead_of_being_turned_away() -> None:
    gate = HashGate(1, max_waiting=0, max_wait=0.05)
    entered, release = threading.Event(), threading.Event()
    thread = hold(gate, priority=True, entered=entered, release=release)
    assert entered.wait(5)
    admitted = threading.Event()

    def known() -> None:
        with gate.admit(priority=True):
            admitted.set()

    waiter = threading.Thread(target=known)
    waiter.start()
    assert not admitted.wait(0.1)  # the known-device lane is full: it waits ...
    release.set()
    waiter.join(5)
    thread.join(5)
    assert admitted.is_set()  # ... and gets in as soon as the slot frees


def test_ordinary_attempt_waits_while_a_known_device_waits() -> None:
    gate = HashGate(1, max_waiting=4, max_wait=0.2)
    entered, release = threading.Event(), threading.Event()
    thread = hold(gate, priority=True, entered=entered, release=release)
    assert entered.wait(5)
    waiter = threading.Thread(target=lambda: gate.admit(priority=True).__enter__())
    try:
        waiter.start()
        while gate._priority_waiting < 1:
            threading.Event().wait(0.01)
        with pytest.raises(RateLimitError), gate.admit(priority=False):
            pass
    finally:
        release.set()
        thread.join(5)
        waiter.join(5)


def test_ordinary_attempts_share_the_machine_wide_slots(tmp_path: Path) -> None:
    # Two gates stand for two worker processes of one data directory.
    one = HashGate(2, host=HostSlots(tmp_path, 1), max_waiting=4, max_wait=0.05)
    two = HashGate(2, host=HostSlots(tmp_path, 1), max_waiting=4, max_wait=0.05)
    with one.admit(priority=False):
        with pytest.raises(RateLimitError), two.admit(priority=False):
            pass
        with two.admit(priority=True):  # known devices are outside the machine-wide budget
            pass
    with two.admit(priority=False):  # released: the other worker gets it
        pass


def test_machine_wide_slots_admit_as_many_as_they_have(tmp_path: Path) -> None:
    slots = HostSlots(tmp_path, 2)
    deadline = time.monotonic() + 0.05
    with slots.hold(deadline) as first, slots.hold(deadline) as second:
        assert first and second
        with slots.hold(time.monotonic() + 0.05) as third:
            assert not third


def test_machine_wide_slots_need_at_least_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        HostSlots(tmp_path, 0)


def test_one_core_is_left_to_known_devices() -> None:
    assert default_host_slots(2) == 1
    assert default_host_slots(8) == 7
    assert default_host_slots(1) == 1


def test_known_device_goes_before_ordinary_attempts_already_waiting() -> None:
    gate = HashGate(1, max_waiting=8, max_wait=5)
    held_o, release_o = threading.Event(), threading.Event()
    held_p, release_p = threading.Event(), threading.Event()
    holders = [
        hold(gate, priority=False, entered=held_o, release=release_o),
        hold(gate, priority=True, entered=held_p, release=release_p),
    ]
    assert held_o.wait(5) and held_p.wait(5)
    order: list[str] = []
    lock = threading.Lock()

    def attempt(name: str, priority: bool) -> None:
        with gate.admit(priority=priority), lock:
            order.append(name)

    ordinary = [threading.Thread(target=attempt, args=(f"o{i}", False)) for i in range(3)]
    for t in ordinary:
        t.start()
    while gate._waiting < 3:  # the ordinary ones are in line first
        threading.Event().wait(0.01)
    known = threading.Thread(target=attempt, args=("known", True))
    known.start()
    while gate._priority_waiting < 1:
        threading.Event().wait(0.01)
    release_o.set()  # an ordinary slot frees, but a known device is waiting ...
    assert not threading.Event().wait(0.1)
    assert order == []  # ... so nobody in the ordinary line takes it
    release_p.set()
    for t in [*ordinary, known, *holders]:
        t.join(5)
    assert order[0] == "known"
    assert len(order) == 4


@pytest.mark.parametrize("slots", [0, -1])
def test_gate_without_slots_is_refused(slots: int) -> None:
    with pytest.raises(ConfigError):
        HashGate(slots)
