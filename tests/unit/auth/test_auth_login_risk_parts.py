"""The small parts of risk-based sign-in: group thresholds, the signal kept in a session, the
geo table setting, and the spraying tag."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from bastion.auth.loginrisk import LoginRisk, challenge_kind
from bastion.auth.riskpolicy import group_policy
from bastion.auth.signalcodec import signal_for_session, signal_from_data, signal_to_data
from bastion.bootstrap.geo import parse_geo_table
from bastion.errors import ConfigError
from bastion.risk.engine import RiskEngine
from bastion.risk.findings import Action, Assessment, Finding
from bastion.risk.geo import StaticGeoResolver
from bastion.risk.policy import GroupPolicy
from bastion.risk.signals import BrowserSignals
from bastion.risk.state_memory import MemoryRiskState
from bastion.settings import load_settings

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
GEO = StaticGeoResolver([("203.0.113.0/24", 64500, "Example ISP", "FR")])


def risk() -> LoginRisk:
    return LoginRisk(RiskEngine([], MemoryRiskState()), "acme", geo=GEO)


# -- group thresholds ------------------------------------------------------------------------


def test_group_with_nothing_set_has_no_policy_of_its_own() -> None:
    assert group_policy(None, None, False) is None
    assert group_policy(0.0, -5.0, False) is None  # zero and negative mean "not set"


def test_group_with_one_threshold_takes_the_default_for_the_other() -> None:
    assert group_policy(20.0, None, False) == GroupPolicy(challenge_at=20.0, deny_at=90.0)
    assert group_policy(None, 30.0, False) == GroupPolicy(challenge_at=30.0, deny_at=30.0)
    assert group_policy(None, None, True) == GroupPolicy(always_mfa=True)


def test_group_with_contradicting_thresholds_gets_the_stricter_reading() -> None:
    # Denied twin of the above: a challenge set above the deny never loosens anything.
    assert group_policy(95.0, 50.0, False) == GroupPolicy(challenge_at=50.0, deny_at=50.0)
    assert group_policy(float("nan"), None, False) is None


# -- the signal kept with a pending session --------------------------------------------------


def test_signal_survives_the_session_store_round_trip() -> None:
    browser = BrowserSignals(present=True, key_events=3, headless_hints=("no-plugins",))
    signal = risk().signal(
        login="Alice",
        ip="203.0.113.7",
        user_agent="Mozilla/5.0 Firefox/121.0",
        device_id="device-aaaaaaaaaaaaaaaaaaaaaa",
        now=NOW,
        uid=7,
        device_known=True,
        browser=browser,
    )
    assert signal_from_data(signal_to_data(signal)) == signal


def test_signal_keeps_its_network_kind_through_the_session_store() -> None:
    signal = risk().signal(
        login="Alice",
        ip="203.0.113.7",
        user_agent="Mozilla/5.0",
        device_id=None,
        now=NOW,
        uid=7,
        device_known=False,
    )
    on_vpn = dataclasses.replace(
        signal, place=dataclasses.replace(signal.place, network_kind="vpn")
    )
    back = signal_from_data(signal_to_data(on_vpn))
    assert back is not None and back.place.hosted and back.place.network_kind == "vpn"
    # Twin: a session written before the kind existed reads as a person's line.
    data = signal_to_data(on_vpn)
    del data["place"]["network_kind"]
    back = signal_from_data(data)
    assert back is not None and not back.place.hosted


def test_signal_too_large_for_a_session_is_not_kept() -> None:
    usual = risk().signal(
        login="alice", ip="203.0.113.7", user_agent="Mozilla/5.0 Firefox/121.0",
        device_id=None, now=NOW, uid=7, device_known=False,
    )  # fmt: skip
    assert signal_for_session(usual) == signal_to_data(usual)
    # Denied twin: exotic text, escaped in JSON, would push the session past its 4 KB.
    swollen = dataclasses.replace(usual, login="\u2603" * 256)
    assert signal_for_session(swollen) is None


@pytest.mark.parametrize(
    "data", [None, "text", {}, {"tenant": 1}, {"place": [], "agent": {}, "browser": {}}]
)
def test_signal_from_malformed_data_is_none(data: object) -> None:
    assert signal_from_data(data) is None


def test_attempt_tag_never_leaves_the_flow_with_the_signal() -> None:
    data = signal_to_data(risk().signal(
        login="a", ip="203.0.113.7", user_agent="", device_id=None, now=NOW, uid=None,
        device_known=False,
    ))  # fmt: skip
    assert "attempt_tag" not in data


# -- spraying tag, verified devices, challenge kinds -----------------------------------------


def test_attempt_tag_is_the_same_for_one_password_within_the_window() -> None:
    r = risk()
    assert r.attempt_tag("Winter2026!", NOW) == r.attempt_tag("Winter2026!", NOW)
    assert len(r.attempt_tag("Winter2026!", NOW)) == 16


def test_attempt_tag_differs_for_another_password_or_window() -> None:
    r = risk()
    assert r.attempt_tag("Winter2026!", NOW) != r.attempt_tag("Summer2026!", NOW)
    later = NOW + dt.timedelta(minutes=10)
    assert r.attempt_tag("Winter2026!", NOW) != r.attempt_tag("Winter2026!", later)


def test_verified_device_lasts_ten_minutes_for_its_user_only() -> None:
    r = risk()
    r.verify_device("device-aaaaaaaaaaaaaaaaaaaaaa", 7, NOW)
    assert r.device_verified("device-aaaaaaaaaaaaaaaaaaaaaa", 7, NOW + dt.timedelta(minutes=9))
    assert not r.device_verified("device-aaaaaaaaaaaaaaaaaaaaaa", 8, NOW)
    assert not r.device_verified("device-bbbbbbbbbbbbbbbbbbbbbb", 7, NOW)
    assert not r.device_verified("device-aaaaaaaaaaaaaaaaaaaaaa", 7, NOW + dt.timedelta(minutes=11))


def test_challenge_kind_names_defensive_mode() -> None:
    defensive = Finding("stuffing", "defensive-mode", 10, "defensive mode", Action.CHALLENGE)
    bot = Finding("bots", "webdriver", 60, "navigator.webdriver is set", Action.CHALLENGE)
    assert challenge_kind(Assessment(10, (defensive,), Action.CHALLENGE)) == "defensive"
    assert challenge_kind(Assessment(60, (bot,), Action.CHALLENGE)) == "device"


def test_retry_after_without_a_ban_is_the_default() -> None:
    r = risk()
    signal = r.signal(
        login="a", ip="203.0.113.7", user_agent="", device_id=None, now=NOW, uid=None,
        device_known=False,
    )  # fmt: skip
    assert r.retry_after(signal, NOW) == 60
    r.engine.state.set_flag("bruteforce:ban:ip:203.0.113.7", NOW.timestamp() + 123.4)
    assert r.retry_after(signal, NOW) == 124


# -- BASTION_GEO_TABLE -----------------------------------------------------------------------


def test_geo_table_lines_become_entries() -> None:
    text = (
        "cidr,asn,as_name,country\n# home\n203.0.113.0/24,64500,Example ISP,fr\n\n10.0.0.0/8,,,\n"
    )
    assert parse_geo_table(text) == [
        ("203.0.113.0/24", 64500, "Example ISP", "FR", ""),
        ("10.0.0.0/8", None, "", None, ""),
    ]


def test_geo_table_may_name_a_network_kind() -> None:
    text = "192.0.2.0/24,9009,M247 Europe SRL,FR,VPN\n198.51.100.0/24,3215,Orange,FR,\n"
    assert parse_geo_table(text) == [
        ("192.0.2.0/24", 9009, "M247 Europe SRL", "FR", "vpn"),
        ("198.51.100.0/24", 3215, "Orange", "FR", ""),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "not-a-network,1,x,FR",
        "203.0.113.0/24,AS1,x,FR",
        "203.0.113.0/24,1,x,France",
        "203.0.113.0/24,1,x",
        "203.0.113.0/24,1,x,FR,residential",  # only kinds of server networks
        "203.0.113.0/24,1,x,FR,vpn,extra",
    ],
)
def test_geo_table_bad_lines_are_refused_with_their_number(line: str) -> None:
    with pytest.raises(ConfigError, match="line 2"):
        parse_geo_table("203.0.113.0/24,64500,Example ISP,FR\n" + line)


def test_geo_table_setting_must_name_a_file(tmp_path: Path) -> None:
    table = tmp_path / "geo.csv"
    table.write_text("203.0.113.0/24,64500,Example ISP,FR\n", "utf-8")
    env = {"BASTION_DATA_DIR": str(tmp_path)}
    assert load_settings({**env, "BASTION_GEO_TABLE": str(table)}).geo_table == table
    assert load_settings(env).geo_table is None
    with pytest.raises(ConfigError):
        load_settings({**env, "BASTION_GEO_TABLE": str(tmp_path / "missing.csv")})
