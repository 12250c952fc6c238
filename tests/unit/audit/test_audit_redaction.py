from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.audit.chain import canonical_json
from bastion.audit.redaction import REDACTED, is_secret_name, redact, redacted_changes_json
from bastion.core.events import AuditEvent

AT = datetime(2024, 5, 1, tzinfo=UTC)


def event(
    changes: Any, action: str = "write", sensitive: frozenset[str] = frozenset()
) -> AuditEvent:
    return AuditEvent(
        action=action,
        tenant="acme",
        at=AT,
        uid=2,
        model="res.users",
        res_ids=(7,),
        changes=changes,
        sensitive=sensitive,
    )


def test_redacted_marker() -> None:
    assert REDACTED == "[redacted]"


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "new_password",
        "Password_Hash",
        "client_secret",
        "TOKEN",
        "csrf_token",
        "api_key",
        "API-Key",
        "apikey",
        "totp_secret",
        "mfa_totp",
    ],
)
def test_secret_looking_names_are_secret(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["name", "email", "login", "passage", "key", "api", "tot"])
def test_ordinary_names_are_not_secret(name: str) -> None:
    assert not is_secret_name(name)


def test_write_pair_keeps_its_shape() -> None:
    redacted = redact(event({"7": {"password": ["old-pw", "new-pw"], "name": ["A", "B"]}}))
    assert redacted == {"7": {"password": [REDACTED, REDACTED], "name": ["A", "B"]}}


def test_fields_named_sensitive_by_the_event_are_redacted() -> None:
    changes = {"7": {"ssn": ["111", "222"], "name": ["A", "B"]}}
    redacted = redact(event(changes, sensitive=frozenset({"ssn"})))
    assert redacted == {"7": {"ssn": [REDACTED, REDACTED], "name": ["A", "B"]}}


def test_same_field_is_kept_when_not_sensitive() -> None:
    changes = {"7": {"ssn": ["111", "222"]}}
    assert redact(event(changes)) == changes


@pytest.mark.parametrize("action", ["create", "unlink"])
def test_create_and_unlink_values_are_replaced_whole(action: str) -> None:
    changes = {"7": {"totp_secret": "JBSWY3DP", "tags": [1, 2]}}
    redacted = redact(event(changes, action=action))
    assert redacted == {"7": {"totp_secret": REDACTED, "tags": [1, 2]}}


def test_secrets_nested_in_json_values_are_redacted() -> None:
    changes = {"7": {"config": [{"api_key": "k1"}, {"api_key": "k2", "url": "u"}]}}
    redacted = redact(event(changes))
    assert redacted == {"7": {"config": [{"api_key": REDACTED}, {"api_key": REDACTED, "url": "u"}]}}


def test_top_level_secret_fields_are_redacted() -> None:
    redacted = redact(event({"login": "bob", "password": "hunter2"}, action="login"))
    assert redacted == {"login": "bob", "password": REDACTED}


def test_redaction_leaves_the_event_untouched() -> None:
    changes = {"7": {"password": ["a", "b"]}}
    redact(event(changes))
    assert changes == {"7": {"password": ["a", "b"]}}


def test_mappings_of_any_kind_are_redacted() -> None:
    changes = MappingProxyType({"7": MappingProxyType({"token": ["a", "b"]})})
    assert redact(event(changes)) == {"7": {"token": [REDACTED, REDACTED]}}
    assert redacted_changes_json(event(changes)) == ('{"7":{"token":["[redacted]","[redacted]"]}}')


def test_serialised_changes_never_contain_a_secret_value() -> None:
    changes = {
        str(i): {"name": [f"n{i}", "m"], "password": ["s3cr3t-old", "s3cr3t-new"]}
        for i in range(100)
    }
    text = redacted_changes_json(event(changes))
    assert "s3cr3t" not in text
    assert text.count(REDACTED) == 200


def test_changes_without_secrets_are_serialised_as_is() -> None:
    changes = {str(i): {"name": ["a", "b"]} for i in range(10)}
    assert redacted_changes_json(event(changes)) == canonical_json(changes)


names = st.sampled_from(["name", "Password", "x_token", "API-KEY", "ssn", "note", "tags", "1"])
values = st.recursive(
    st.none() | st.integers() | st.text(max_size=12) | names,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(names, c, max_size=3),
    max_leaves=15,
)


@given(
    changes=st.dictionaries(names, values, max_size=4),
    action=st.sampled_from(["write", "create", "unlink", "login"]),
    sensitive=st.frozensets(names, max_size=2),
)
def test_fast_path_agrees_with_full_redaction(
    changes: dict[str, Any], action: str, sensitive: frozenset[str]
) -> None:
    ev = event(changes, action=action, sensitive=sensitive)
    assert redacted_changes_json(ev) == canonical_json(redact(ev))
