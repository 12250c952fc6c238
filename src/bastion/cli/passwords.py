"""Where the commands get passwords: a file's first line, a hidden prompt, or the generator.

A password never travels in argv (other local users can read it in `ps`), in an environment
variable, a log line or an error message: errors name the file, never what is in it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from bastion.bootstrap.users import MAX_PASSWORD, check_password
from bastion.crypto.random import generate_password
from bastion.errors import ValidationError

#: `--password-file -` reads the first line of standard input.
STDIN = "-"


def read_password_file(path: Path) -> str:
    """The first line of `path` without its line ending."""
    label = "standard input" if str(path) == STDIN else f"the password file {path}"
    try:
        if str(path) == STDIN:
            line = sys.stdin.readline(MAX_PASSWORD * 4 + 2)
        else:
            with path.open("r", encoding="utf-8", newline="") as handle:
                line = handle.readline(MAX_PASSWORD * 4 + 2)
    except FileNotFoundError:
        raise ValidationError(f"The password file {path} does not exist.") from None
    except UnicodeDecodeError:
        raise ValidationError(f"The first line of {label} is not UTF-8 text.") from None
    except OSError as exc:
        reason = (exc.strerror or "unreadable").lower()
        raise ValidationError(f"Cannot read {label}: {reason}.") from None
    password = line.rstrip("\r\n")
    if not password:
        raise ValidationError(f"The first line of {label} is empty: it should hold the password.")
    return password


def password_for(login: str, path: Path | None) -> tuple[str, bool]:
    """(password, generated): from `path` when given, otherwise a fresh random one."""
    if path is None:
        return generate_password(), True
    password = read_password_file(path)
    check_password(password, login)
    return password, False


def prompt_password(login: str) -> str:
    """Ask twice on the terminal, hidden; refuse when there is no terminal to ask on."""
    if not sys.stdin.isatty():
        raise ValidationError(
            "No --password-file was given and standard input is not a terminal to ask on."
        )
    password = str(
        typer.prompt(
            f"New password for {login}", hide_input=True, confirmation_prompt=True, err=True
        )
    )
    check_password(password, login)
    return password
