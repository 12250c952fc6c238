"""Settings for the auth log and outgoing mail: BASTION_AUTH_LOG, BASTION_SMTP_URL,
BASTION_MAIL_FROM."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.errors import ConfigError
from bastion.settings import load_settings

BASE = {"BASTION_DATA_DIR": "/srv/bastion"}


def test_auth_log_is_off_by_default() -> None:
    assert load_settings(BASE).auth_log is None
    assert load_settings(BASE | {"BASTION_AUTH_LOG": "  "}).auth_log is None


def test_auth_log_path_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(BASE | {"BASTION_AUTH_LOG": "logs/auth.log"})
    assert settings.auth_log == tmp_path.resolve() / "logs" / "auth.log"
    absolute = load_settings(BASE | {"BASTION_AUTH_LOG": "/var/log/bastion/auth.log"})
    assert absolute.auth_log == Path("/var/log/bastion/auth.log").resolve()


def test_auth_log_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="BASTION_AUTH_LOG"):
        load_settings(BASE | {"BASTION_AUTH_LOG": str(tmp_path)})


def test_mail_goes_to_the_outbox_by_default() -> None:
    settings = load_settings(BASE)
    assert settings.smtp_url is None and settings.mail_from is None
    assert settings.outbox_dir == Path("/srv/bastion/outbox")


def test_smtp_url_with_a_sender_is_accepted() -> None:
    settings = load_settings(
        BASE
        | {
            "BASTION_SMTP_URL": "smtps://bastion:pw@mail.example.com:465",
            "BASTION_MAIL_FROM": "security@example.com",
        }
    )
    assert settings.smtp_url == "smtps://bastion:pw@mail.example.com:465"
    assert settings.mail_from == "security@example.com"


def test_smtp_url_without_a_sender_is_refused() -> None:
    with pytest.raises(ConfigError, match="BASTION_MAIL_FROM"):
        load_settings(BASE | {"BASTION_SMTP_URL": "smtp://mail.example.com"})


@pytest.mark.parametrize(
    "url",
    [
        "http://user:hunter2-secret@mail.example.com",
        "smtp://user:hunter2-secret@",
        "smtp://user:hunter2-secret@mail.example.com:99999",
        "mail.example.com",
    ],
)
def test_smtp_url_that_is_not_smtp_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(BASE | {"BASTION_SMTP_URL": url, "BASTION_MAIL_FROM": "a@example.com"})
    assert "hunter2" not in str(refused.value)
    assert "BASTION_SMTP_URL" in str(refused.value)


@pytest.mark.parametrize(
    "sender", ["Bastion <bastion@example.com>", "a@example.com\r\nBcc: x@example.com", "nobody"]
)
def test_mail_from_must_be_one_plain_address(sender: str) -> None:
    with pytest.raises(ConfigError, match="BASTION_MAIL_FROM"):
        load_settings(BASE | {"BASTION_MAIL_FROM": sender})


def test_smtp_password_stays_out_of_repr() -> None:
    settings = load_settings(
        BASE
        | {
            "BASTION_SMTP_URL": "smtps://bastion:hunter2-secret@mail.example.com",
            "BASTION_MAIL_FROM": "security@example.com",
        }
    )
    assert "hunter2" not in repr(settings)
