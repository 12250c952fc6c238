"""LoginModel (Freeman-style login risk) over MemoryRiskState: familiar sign-ins score low,
new device + new network + new country high, a new device alone in between; users without
history; only `learn` builds history; calibration per tenant; determinism."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bastion.errors import ConfigError
from bastion.risk.detectors.login_model import LoginModel
from bastion.risk.findings import Action, Finding
from bastion.risk.signals import Agent, LoginSignal, Place, Stage
from bastion.risk.state_memory import MemoryRiskState

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
HOME = Place("198.51.100.7", "198.51.100.0/24", 3303, "Swisscom", "CH", 46.8, 8.2)
HOME_NEIGHBOUR = Place("198.51.100.99", "198.51.100.0/24", 3303, "Swisscom", "CH", 46.8, 8.2)
OTHER_ISP = Place("203.0.113.5", "203.0.113.0/24", 6830, "Sunrise", "CH", 46.8, 8.2)
ABROAD = Place("192.0.2.9", "192.0.2.0/24", 4134, "Chinanet", "CN", 35.0, 103.0)
CHROME = Agent("Chrome", "120", "Windows", "desktop", digest="ua-chrome-120")
CHROME_NEXT = Agent("Chrome", "121", "Windows", "desktop", digest="ua-chrome-121")
LAPTOP = "device-laptop"


def signal(
    *,
    place: Place = HOME,
    agent: Agent = CHROME,
    device: str | None = LAPTOP,
    at: datetime = T0,
    uid: int | None = 7,
    stage: Stage = "succeeded",
) -> LoginSignal:
    return LoginSignal(
        tenant="t",
        login="alice",
        at=at,
        place=place,
        agent=agent,
        stage=stage,
        uid=uid,
        device=device,
        device_known=device == LAPTOP,
    )


def total(findings: list[Finding]) -> float:
    return sum(f.score for f in findings)


def with_history(model: LoginModel, state: MemoryRiskState, days: int = 20) -> None:
    """`days` working-day sign-ins of user 7 from home, one laptop, 08:00 to 10:00."""
    for day in range(days):
        model.learn(signal(at=T0 + timedelta(days=day, hours=day % 3 - 1)), state)


@pytest.fixture
def model() -> LoginModel:
    return LoginModel()


@pytest.fixture
def state(model: LoginModel) -> MemoryRiskState:
    state = MemoryRiskState()
    with_history(model, state)
    return state


def test_familiar_sign_in_scores_nothing(model: LoginModel, state: MemoryRiskState) -> None:
    assert model.assess(signal(at=T0 + timedelta(days=30)), state) == []


def test_new_address_in_known_network_scores_nothing(
    model: LoginModel, state: MemoryRiskState
) -> None:
    assert model.assess(signal(place=HOME_NEIGHBOUR), state) == []


def test_new_device_on_usual_network_is_noted_below_challenge(
    model: LoginModel, state: MemoryRiskState
) -> None:
    findings = model.assess(signal(device="device-new"), state)
    assert [f.code for f in findings] == ["new-device"]
    assert 20 <= total(findings) < 40
    assert findings[0].reason == "new device"


def test_new_device_network_and_country_reaches_challenge(
    model: LoginModel, state: MemoryRiskState
) -> None:
    findings = model.assess(signal(place=ABROAD, device="device-new"), state)
    assert {f.code for f in findings} == {"new-country", "new-device", "new-device-and-network"}
    assert 40 <= total(findings) < 90  # the model alone challenges, never denies
    assert "new country CN" in [f.reason for f in findings]


def test_new_device_and_provider_reaches_challenge(
    model: LoginModel, state: MemoryRiskState
) -> None:
    findings = model.assess(signal(place=OTHER_ISP, device="device-new"), state)
    assert {f.code for f in findings} == {"new-network", "new-device", "new-device-and-network"}
    assert total(findings) >= 40
    assert "new network AS6830 Sunrise" in [f.reason for f in findings]


def floors(findings: list[Finding]) -> list[tuple[str, Action | None]]:
    return [(f.code, f.floor) for f in findings if f.floor is not None]


FLOOR = [("new-device-and-network", Action.CHALLENGE)]


def roaming(model: LoginModel, state: MemoryRiskState) -> None:
    """User 7 also signs in, on the same laptop, from six other providers and countries:
    their score for yet another network is low, so only the floor stops a takeover."""
    for n in range(30):
        place = Place(
            f"192.0.2.{n}",
            "192.0.2.0/24",
            64500 + n % 6,
            "Hotel",
            ["DE", "FR", "IT", "ES", "AT", "NL"][n % 6],
        )
        model.learn(signal(place=place, at=T0 + timedelta(days=40 + n)), state)


def test_new_device_on_new_provider_is_challenged_even_for_a_roaming_user(
    model: LoginModel, state: MemoryRiskState
) -> None:
    roaming(model, state)
    vpn = Place("203.0.113.50", "203.0.113.0/24", 9009, "M247", "CH")
    findings = model.assess(signal(place=vpn, device="device-new"), state)
    assert floors(findings) == FLOOR
    assert "new device on a network new to this user (AS9009)" in [f.reason for f in findings]


def test_new_provider_on_known_device_is_not_floored(
    model: LoginModel, state: MemoryRiskState
) -> None:
    roaming(model, state)
    vpn = Place("203.0.113.50", "203.0.113.0/24", 9009, "M247", "CH")
    assert floors(model.assess(signal(place=vpn), state)) == []


def test_new_device_on_known_provider_is_not_floored(
    model: LoginModel, state: MemoryRiskState
) -> None:
    assert floors(model.assess(signal(place=HOME_NEIGHBOUR, device="device-new"), state)) == []


def test_missing_device_cookie_on_new_provider_is_floored(
    model: LoginModel, state: MemoryRiskState
) -> None:
    assert floors(model.assess(signal(place=OTHER_ISP, device=None), state)) == FLOOR


def test_unknown_provider_falls_back_to_country(model: LoginModel, state: MemoryRiskState) -> None:
    same_country = Place("203.0.113.9", "203.0.113.0/24", None, "", "CH")
    other_country = Place("203.0.113.9", "203.0.113.0/24", None, "", "FR")
    assert floors(model.assess(signal(place=same_country, device="device-new"), state)) == []
    assert floors(model.assess(signal(place=other_country, device="device-new"), state)) == FLOOR


SERVER_FLOOR = [("new-device-on-server-network", Action.CHALLENGE)]


def home_vpn(model: LoginModel, state: MemoryRiskState) -> Place:
    """User 7 also signs in, on the same laptop, through a commercial VPN at home: the
    VPN's provider is no longer new to them. Returns another exit of that VPN."""
    vpn = Place("203.0.113.50", "203.0.113.0/24", 9009, "M247", "CH", network_kind="vpn")
    for n in range(10):
        model.learn(signal(place=vpn, at=T0 + timedelta(days=40 + n)), state)
    return Place("203.0.113.77", "203.0.113.0/24", 9009, "M247", "CH", network_kind="vpn")


def test_new_device_on_a_known_vpn_is_challenged(model: LoginModel, state: MemoryRiskState) -> None:
    exit_ = home_vpn(model, state)
    findings = model.assess(signal(place=exit_, device="device-new"), state)
    assert floors(findings) == SERVER_FLOOR
    assert "new device on a vpn network (AS9009)" in [f.reason for f in findings]


def test_known_device_on_a_known_vpn_is_not_floored(
    model: LoginModel, state: MemoryRiskState
) -> None:
    exit_ = home_vpn(model, state)
    assert floors(model.assess(signal(place=exit_), state)) == []


def test_new_device_on_a_known_line_of_the_same_provider_is_not_floored(
    model: LoginModel, state: MemoryRiskState
) -> None:
    """The twin: the same provider and place without the server kind (a person's line)."""
    home_vpn(model, state)
    line = Place("203.0.113.77", "203.0.113.0/24", 9009, "M247", "CH")
    assert floors(model.assess(signal(place=line, device="device-new"), state)) == []


@pytest.mark.parametrize("kind", ["hosting", "tor", "cdn", "bot"])
def test_new_device_on_any_server_network_is_challenged(
    model: LoginModel, state: MemoryRiskState, kind: str
) -> None:
    home_vpn(model, state)
    server = Place("203.0.113.77", "203.0.113.0/24", 9009, "M247", "CH", network_kind=kind)
    assert floors(model.assess(signal(place=server, device="device-new"), state)) == SERVER_FLOOR


def test_unknown_network_kind_is_not_a_server() -> None:
    assert not Place("203.0.113.7", "203.0.113.0/24", network_kind="residential").hosted
    assert Place("203.0.113.7", "203.0.113.0/24", network_kind="vpn").hosted


def test_new_device_on_a_new_vpn_gets_one_floor(model: LoginModel, state: MemoryRiskState) -> None:
    vpn = Place("203.0.113.50", "203.0.113.0/24", 9009, "M247", "CH", network_kind="vpn")
    assert floors(model.assess(signal(place=vpn, device="device-new"), state)) == FLOOR


def test_server_network_floor_waits_for_history(model: LoginModel) -> None:
    state = MemoryRiskState()
    with_history(model, state, days=model.min_history - 1)
    vpn = Place("198.51.100.70", "198.51.100.0/24", 3303, "Swisscom", "CH", network_kind="vpn")
    assert floors(model.assess(signal(place=vpn, device="device-new"), state)) == []


def test_unknown_place_is_never_floored() -> None:
    model, state = LoginModel(), MemoryRiskState()
    private = Place("10.0.0.8", "10.0.0.0/24")
    for day in range(20):
        model.learn(signal(place=private, at=T0 + timedelta(days=day)), state)
    other = Place("10.0.9.9", "10.0.9.0/24")
    assert floors(model.assess(signal(place=other, device="device-new"), state)) == []


def test_user_with_short_history_is_not_floored(model: LoginModel) -> None:
    state = MemoryRiskState()
    with_history(model, state, days=model.min_history - 1)
    assert floors(model.assess(signal(place=ABROAD, device="device-new"), state)) == []
    with_history(model, state, days=1)
    assert floors(model.assess(signal(place=ABROAD, device="device-new"), state)) == FLOOR


def test_partly_new_scores_between_familiar_and_all_new(
    model: LoginModel, state: MemoryRiskState
) -> None:
    familiar = total(model.assess(signal(), state))
    partly = total(model.assess(signal(device="device-new"), state))
    all_new = total(model.assess(signal(place=ABROAD, device="device-new"), state))
    assert familiar < partly < all_new


def test_missing_device_cookie_is_noted(model: LoginModel, state: MemoryRiskState) -> None:
    findings = model.assess(signal(device=None), state)
    assert [(f.code, f.reason) for f in findings] == [("no-device", "no device cookie")]


def test_browser_update_scores_nothing(model: LoginModel, state: MemoryRiskState) -> None:
    assert model.assess(signal(agent=CHROME_NEXT), state) == []


def test_other_system_on_new_device_is_named(model: LoginModel, state: MemoryRiskState) -> None:
    phone = Agent("Mobile Safari", "17", "iOS", "mobile", digest="ua-iphone")
    findings = model.assess(signal(agent=phone, device="phone"), state)
    assert "new system iOS (mobile)" in [f.reason for f in findings]


def test_unusual_hour_names_local_time() -> None:
    model, state = LoginModel(time_zone="Europe/Zurich"), MemoryRiskState()
    for day in range(40):  # always 09:00 in Zurich (08:00 UTC in winter)
        model.learn(signal(at=T0 + timedelta(days=day, hours=-1)), state)
    night = signal(at=T0.replace(hour=2), device="device-new")  # 03:00 in Zurich
    assert "unusual hour 03:00 (Europe/Zurich)" in [f.reason for f in model.assess(night, state)]
    usual = signal(at=T0.replace(hour=8), device="device-new")  # 09:00 in Zurich
    assert "unusual-hour" not in [f.code for f in model.assess(usual, state)]


def test_user_without_history_gets_no_finding(model: LoginModel) -> None:
    state = MemoryRiskState()
    assert model.assess(signal(place=ABROAD, device="anything"), state) == []


def test_user_without_history_gets_fixed_first_sign_in_score_when_set() -> None:
    model = LoginModel(first_signin_score=15)
    findings = model.assess(signal(place=ABROAD), MemoryRiskState())
    assert [(f.code, f.score) for f in findings] == [("first-sign-in", 15)]


def test_history_of_another_user_does_not_count(model: LoginModel, state: MemoryRiskState) -> None:
    assert model.assess(signal(uid=8, place=ABROAD, device="device-new"), state) == []


def test_only_learn_builds_history(model: LoginModel) -> None:
    state = MemoryRiskState()
    model.learn(signal(), state)
    new_device = signal(device="device-new")
    before = model.assess(new_device, state)
    for _ in range(5):
        model.observe(new_device, state)
        assert model.assess(new_device, state) == before  # assess and observe teach nothing
    assert before != []
    model.learn(new_device, state)
    assert model.assess(new_device, state) == []


def test_learns_only_completed_sign_ins(model: LoginModel) -> None:
    state = MemoryRiskState()
    for stage in ("before", "failed"):
        model.learn(signal(stage=stage), state)
    assert model.history(7, state) == 0
    model.learn(signal(), state)
    assert model.history(7, state) == 1


@pytest.mark.parametrize("stage", ["before", "failed"])
def test_reads_completed_sign_ins_only(
    model: LoginModel, state: MemoryRiskState, stage: Stage
) -> None:
    assert model.assess(signal(stage=stage, place=ABROAD, device="new"), state) == []
    assert model.assess(signal(place=ABROAD, device="new"), state) != []


def test_few_sign_ins_use_fixed_threshold_not_tenant_calibration() -> None:
    model = LoginModel(min_samples=100)
    state = MemoryRiskState()
    for _ in range(100):  # a tenant whose legitimate sign-ins never show anything new
        state.add_sample("login_model:log-risk", 0.0)
    for _ in range(3):
        model.learn(signal(), state)
    young = total(model.assess(signal(place=ABROAD, device="new"), state))
    uncalibrated = MemoryRiskState()
    for _ in range(3):
        model.learn(signal(), uncalibrated)
    assert young == total(model.assess(signal(place=ABROAD, device="new"), uncalibrated))


def test_tenant_calibration_sharpens_a_quiet_tenant(model: LoginModel) -> None:
    quiet, default = MemoryRiskState(), MemoryRiskState()
    with_history(model, quiet)
    with_history(model, default)
    for _ in range(100):
        quiet.add_sample("login_model:log-risk", 0.0)
    assert model.threshold(quiet) == 2.2  # clamped to the low end of the range
    assert model.threshold(default) == model.default_threshold
    event = signal(device="device-new")
    assert total(model.assess(event, quiet)) > total(model.assess(event, default))


def test_calibrated_threshold_is_the_99th_percentile_within_range(model: LoginModel) -> None:
    state = MemoryRiskState()
    for value in range(100):
        state.add_sample("login_model:log-risk", 2.0 + value / 100)  # 2.00 .. 2.99
    assert model.threshold(state) == pytest.approx(2.98)
    for _ in range(100):
        state.add_sample("login_model:log-risk", 9.0)
    assert model.threshold(state) == 5.0  # clamped to the high end


def test_calibration_is_read_again_only_after_its_interval() -> None:
    model, state = LoginModel(recalibrate_every=300), MemoryRiskState()
    now = T0.timestamp()
    assert model.threshold(state, now) == model.default_threshold
    for _ in range(100):
        state.add_sample("login_model:log-risk", 0.0)
    assert model.threshold(state, now + 299) == model.default_threshold  # still the last read
    assert model.threshold(state, now + 300) == 2.2  # read again
    assert model.threshold(state) == 2.2  # without a time: always read
    other = MemoryRiskState()  # another tenant's state has its own calibration
    assert model.threshold(other, now + 300) == model.default_threshold


def test_score_above_threshold_reaches_challenge(model: LoginModel) -> None:
    assert model.score(3.0, 3.0) == pytest.approx(40)
    assert model.score(3.01, 3.0) > 40
    assert model.score(2.99, 3.0) < 40
    assert model.score(0.5) == 0
    assert model.score(1000) <= model.max_score


def test_learn_adds_samples_for_established_users_only(model: LoginModel) -> None:
    state = MemoryRiskState()
    for _ in range(model.min_history):
        model.learn(signal(), state)
    assert state.samples("login_model:log-risk") == []
    model.learn(signal(), state)
    assert len(state.samples("login_model:log-risk")) == 1


def test_scores_are_deterministic() -> None:
    results = []
    for _ in range(2):
        model, state = LoginModel(), MemoryRiskState()
        with_history(model, state)
        results.append(model.assess(signal(place=OTHER_ISP, device="device-new"), state))
    assert results[0] == results[1]


def test_findings_carry_name_and_reason(model: LoginModel, state: MemoryRiskState) -> None:
    findings = model.assess(signal(place=ABROAD, device="new", agent=CHROME_NEXT), state)
    assert findings
    for finding in findings:
        assert finding.detector == "login_model"
        assert finding.reason
        if finding.code == "new-device-and-network":  # the one floor: no score of its own
            assert (finding.score, finding.floor) == (0.0, Action.CHALLENGE)
        else:
            assert 0 < finding.score <= 100
            assert finding.floor is None


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ConfigError, match="time zone"):
        LoginModel(time_zone="Mars/Olympus")


@pytest.mark.parametrize(
    "options",
    [
        {"challenge_score": 90, "max_score": 80},
        {"threshold_range": (4.0, 2.0)},
        {"dead_zone": 3.0},
        {"min_history": 0},
        {"priors": {"country": 0.0}},
        {"first_signin_score": 120},
        {"recalibrate_every": -1.0},
    ],
)
def test_inconsistent_settings_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        LoginModel(**options)  # type: ignore[arg-type]
