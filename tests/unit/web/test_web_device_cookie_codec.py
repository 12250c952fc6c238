"""`DeviceCookies`: values it issued read back as their id; anything else reads as None."""

from __future__ import annotations

import pytest

from bastion.crypto.signing import Signer
from bastion.web.device_cookie import DEVICE_PURPOSE, DeviceCookies

KEY = b"k" * 32
OTHER_KEY = b"o" * 32


@pytest.fixture
def codec() -> DeviceCookies:
    return DeviceCookies(Signer([KEY], DEVICE_PURPOSE))


def test_a_new_device_reads_back_as_its_id(codec: DeviceCookies) -> None:
    device_id, value = codec.new()
    assert value.startswith(device_id + ".")
    assert codec.read(value) == device_id
    assert codec.new()[0] != device_id


def test_a_rotated_key_still_reads_cookies_of_the_old_one() -> None:
    device_id, value = DeviceCookies(Signer([KEY], DEVICE_PURPOSE)).new()
    rotated = DeviceCookies(Signer([OTHER_KEY, KEY], DEVICE_PURPOSE))
    assert rotated.read(value) == device_id


def test_a_cookie_of_another_server_key_is_refused(codec: DeviceCookies) -> None:
    # Denied twin of the test above.
    _, value = DeviceCookies(Signer([OTHER_KEY], DEVICE_PURPOSE)).new()
    assert codec.read(value) is None


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        ".",
        "..",
        "a" * 43,
        "a" * 43 + ".",
        "." + "A" * 43,
        "a" * 43 + "." + "A" * 43,
        "a" * 10 + "." + "A" * 43,  # id too short
        "a" * 43 + "." + "A" * 42,
        "a b" * 15 + "." + "A" * 43,
        "é" * 43 + "." + "A" * 43,
        "\x00" * 43 + "." + "A" * 43,
        "x" * 100_000,
        12345,
    ],
)
def test_malformed_or_forged_values_read_as_no_device(codec: DeviceCookies, value: object) -> None:
    assert codec.read(value) is None  # type: ignore[arg-type]


def test_a_signer_of_another_purpose_is_refused() -> None:
    with pytest.raises(ValueError):
        DeviceCookies(Signer([KEY], "csrf-pre"))


def test_value_refuses_an_id_it_could_not_read_back(codec: DeviceCookies) -> None:
    with pytest.raises(ValueError):
        codec.value("short")
    with pytest.raises(ValueError):
        codec.value("a.b" * 10)
