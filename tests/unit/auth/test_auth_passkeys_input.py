"""Hostile or malformed passkey responses are refused before the database is touched."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from bastion.auth.passkeys import NAME_LENGTH, Passkeys
from bastion.errors import ValidationError, VerificationError

NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
CHALLENGE = "A" * 43
RP = {"rp_id": "bastion.test", "origin": "https://bastion.test"}


@pytest.fixture
def passkeys() -> Passkeys:
    # Never connected to: every case here must fail before a query.
    return Passkeys(sa.create_engine("sqlite:///nonexistent/never.db"))


@pytest.mark.parametrize("body", ["", "{", "[]", "null", "42", '"text"', "x" * 70_000, "\udcff"])
def test_finish_registration_refuses_malformed_json(passkeys: Passkeys, body: str) -> None:
    with pytest.raises(ValidationError):
        passkeys.finish_registration(1, body, challenge=CHALLENGE, name="k", now=NOW, **RP)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"id": "abc", "rawId": "abc", "type": "public-key"},
        {"id": "abc", "rawId": "abc", "type": "public-key", "response": {}},
        {"id": 1, "rawId": [], "type": "nope", "response": "x"},
    ],
)
def test_finish_registration_refuses_incomplete_credentials(
    passkeys: Passkeys, body: dict[str, object]
) -> None:
    with pytest.raises(ValidationError):
        passkeys.finish_registration(
            1, json.dumps(body), challenge=CHALLENGE, name="k", now=NOW, **RP
        )


@pytest.mark.parametrize(
    "response",
    [
        {"clientDataJSON": "!!!", "attestationObject": "!!!"},
        {"clientDataJSON": "e30", "attestationObject": "oA"},  # {} and an empty CBOR map
        {"clientDataJSON": "bm90IGpzb24", "attestationObject": "/////w"},
    ],
)
def test_finish_registration_refuses_garbage_payloads(
    passkeys: Passkeys, response: dict[str, str]
) -> None:
    body = {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": response}
    with pytest.raises(VerificationError):
        passkeys.finish_registration(
            1, json.dumps(body), challenge=CHALLENGE, name="k", now=NOW, **RP
        )


def test_finish_registration_refuses_an_overlong_name(passkeys: Passkeys) -> None:
    with pytest.raises(ValidationError):
        passkeys.finish_registration(
            1, "{}", challenge=CHALLENGE, name="n" * (NAME_LENGTH + 1), now=NOW, **RP
        )


@pytest.mark.parametrize("body", ["", "[1]", '{"rawId": 5}', '{"rawId": "a!b"}', '{"rawId": "é"}'])
def test_verify_authentication_refuses_malformed_json(passkeys: Passkeys, body: str) -> None:
    with pytest.raises(ValidationError):
        passkeys.verify_authentication(1, body, challenge=CHALLENGE, now=NOW, **RP)
