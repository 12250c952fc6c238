"""The hash gate: slots, the known-device lane first, a bounded line for everyone else."""

from __future__ import annotations

import threading

import pytest

from bastion.auth.admission import HashGate
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


def test_known_device_waits_for_a_slot_instead_of_being_turned_away() -> None:
    gate = HashGate(1, max_waiting=0, max_wait=0.05)
    entered, release = threading.Event(), threading.Event()
    thread = hold(gate, priority=False, entered=entered, release=release)
    assert entered.wait(5)
    admitted = threading.Event()

    def known() -> None:
        with gate.admit(priority=True):
            admitted.set()

    waiter = threading.Thread(target=known)
    waiter.start()
    assert not admitted.wait(0.1)  # the slot is taken: it waits ...
    release.set()
    waiter.join(5)
    thread.join(5)
    assert admitted.is_set()  # ... and gets in as soon as the slot frees


def test_known_device_goes_before_ordinary_attempts_already_waiting() -> None:
    gate = HashGate(1, max_waiting=8, max_wait=5)
    entered, release = threading.Event(), threading.Event()
    thread = hold(gate, priority=False, entered=entered, release=release)
    assert entered.wait(5)
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
    release.set()
    for t in [*ordinary, known, thread]:
        t.join(5)
    assert order[0] == "known"


@pytest.mark.parametrize("slots", [0, -1])
def test_gate_without_slots_is_refused(slots: int) -> None:
    with pytest.raises(ConfigError):
        HashGate(slots)
