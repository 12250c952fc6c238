"""The password policy: length limits and refusing guessable passwords (common, breached or
taken from the account itself), with no composition rules."""

from __future__ import annotations

import functools
import importlib
import unicodedata
from collections.abc import Iterable

from bastion.errors import ConfigError, ValidationError


@functools.cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of the breach corpora zxcvbn ships, case-folded.

    Loaded once, on first use: the list costs a few megabytes that tools which never set a
    password should not pay.
    """
    # imported by name: zxcvbn carries no type information, and we read one plain value
    lists = importlib.import_module("zxcvbn.frequency_lists").FREQUENCY_LISTS
    words: str | Iterable[str] = lists["passwords"]
    if isinstance(words, str):  # older zxcvbn releases keep each list as one comma-joined text
        words = words.split(",")
    return frozenset(unicodedata.normalize("NFKC", w).casefold() for w in words if w)


def _fold(text: str) -> str:
    """Case-folded NFKC text without whitespace, the form compared against lists and context."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return "".join(folded.split())


def _core(folded: str) -> str:
    """The password without the digits and symbols around it ("!!password2024" -> "password")."""
    start, end = 0, len(folded)
    while start < end and not folded[start].isalpha():
        start += 1
    while end > start and not folded[end - 1].isalpha():
        end -= 1
    return folded[start:end]


def _unit(word: str) -> str:
    """The shortest string that `word` repeats ("abcabcabc" -> "abc"; "abcd" -> "abcd")."""
    size = len(word)
    for period in range(1, size // 2 + 1):
        if size % period == 0 and word[:period] * (size // period) == word:
            return word[:period]
    return word


class PasswordPolicy:
    """What a new password must satisfy. Lengths count code points of the NFKC form.

    Refused, besides lengths (a maximum bounds the hashing work an attacker can ask for):
    - a password in the common list, or one whose letters-only core is in it, or is a listed
      password repeated: cracking tools try exactly these ("password2024!", "monkeymonkey"),
      so the digits and symbols around a listed word add next to nothing;
    - the login, the name, the email or its local part, the same way wrapped or repeated:
      they are the first guesses of anyone targeting the account.
    No composition rules ("a digit and a symbol"): they make passwords harder to remember,
    not to guess.
    """

    def __init__(self, min_length: int = 12, max_length: int = 256) -> None:
        if not 1 <= min_length <= max_length:
            raise ConfigError("Password length limits need 1 <= minimum <= maximum.")
        self.min_length = min_length
        self.max_length = max_length

    def check(self, password: str, *, login: str = "", name: str = "", email: str = "") -> None:
        """Raise ValidationError naming the first rule `password` breaks; never echo it."""
        normal = unicodedata.normalize("NFKC", password)
        if len(normal) < self.min_length:
            raise ValidationError(f"Passwords must be at least {self.min_length} characters long.")
        if max(len(password), len(normal)) > self.max_length:
            raise ValidationError(f"Passwords can be at most {self.max_length} characters long.")
        folded = _fold(password)
        core = _core(folded)
        forms = {folded, _unit(folded), core, _unit(core)} - {""}
        if forms & common_passwords():
            raise ValidationError(
                "This password is too common: it appears in lists of breached passwords."
            )
        local_part = email.rpartition("@")[0] if "@" in email else ""
        context = {_fold(value) for value in (login, name, email, local_part)} - {""}
        if forms & context:
            raise ValidationError("Passwords must not be your login, name or email address.")
