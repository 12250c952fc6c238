"""The benchmark-only file clock: used only when asked for twice, then says what the file says."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bastion.core.clock import (
    FAKE_CLOCK_ACK,
    FAKE_CLOCK_ACK_ENV,
    FAKE_CLOCK_FILE_ENV,
    FileClock,
    SystemClock,
    clock_from_environment,
)
from bastion.errors import ConfigError


def test_without_the_variables_the_server_runs_on_the_system_clock() -> None:
    assert isinstance(clock_from_environment({}), SystemClock)


def test_the_file_alone_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    path.write_text("1800000000")
    with pytest.raises(ConfigError):
        clock_from_environment({FAKE_CLOCK_FILE_ENV: str(path)})


def test_a_wrong_acknowledgement_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    path.write_text("1800000000")
    env = {FAKE_CLOCK_FILE_ENV: str(path), FAKE_CLOCK_ACK_ENV: "yes"}
    with pytest.raises(ConfigError):
        clock_from_environment(env)


def test_with_both_the_clock_says_what_the_file_says(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    path.write_text("1800000000.5")
    env = {FAKE_CLOCK_FILE_ENV: str(path), FAKE_CLOCK_ACK_ENV: FAKE_CLOCK_ACK}
    clock = clock_from_environment(env)
    assert isinstance(clock, FileClock)
    assert clock.now() == dt.datetime.fromtimestamp(1800000000.5, dt.UTC)
    path.write_text("1800000100")
    assert clock.now().timestamp() == 1800000100


def test_a_missing_file_fails_at_start_up(tmp_path: Path) -> None:
    env = {FAKE_CLOCK_FILE_ENV: str(tmp_path / "none"), FAKE_CLOCK_ACK_ENV: FAKE_CLOCK_ACK}
    with pytest.raises(OSError):
        clock_from_environment(env)


def test_an_anchored_file_runs_from_its_anchor(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    path.write_text("1800000000 0")  # anchored at the real epoch's start: far ahead of it
    assert FileClock(path).now().timestamp() > 1800000000 + 1_000_000_000
