"""The detector contract: small classes that read a signal and the shared state and return
findings. Scoring is theirs; deciding is the policy's."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from bastion.risk.findings import Finding
from bastion.risk.signals import LoginSignal, RequestSignal
from bastion.risk.state import Reads, RiskState

Signal = LoginSignal | RequestSignal


class Detector(ABC):
    """One detector. `assess` must not change what a later `assess` returns for the same
    event, except through `observe`; `learn` is called only for events that were allowed
    with no finding (or confirmed by a second factor), so a detector never learns from an
    event it or another detector flagged."""

    #: Stable name, used in findings, settings and the security console.
    name: ClassVar[str]
    #: The signal types this detector reads; the engine calls it for these only.
    reads: ClassVar[tuple[type[LoginSignal] | type[RequestSignal], ...]]

    def prefetch(self, signal: Signal) -> Reads:
        """What `assess` and `observe` of this signal will read, declared before any
        detector runs so that the engine fetches every detector's reads at once. A read
        not declared still works (one more round trip); declaring changes no answer."""
        return Reads()

    @abstractmethod
    def assess(self, signal: Signal, state: RiskState) -> list[Finding]:
        """What this event looks like, given the state so far. Must not raise on any
        signal of a type in `reads` and on empty state."""

    def observe(self, signal: Signal, state: RiskState) -> None:  # noqa: B027
        """Count the event (every event, flagged or not: failures, distinct logins, ...)."""

    def learn(self, signal: Signal, state: RiskState) -> None:  # noqa: B027
        """Add a trusted event to the profiles (successful and unflagged only)."""
