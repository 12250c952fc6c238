"""Identity: passwords, throttles, sessions, MFA (TOTP, passkeys, recovery codes), API keys.

Import the submodule you need; this package re-exports nothing. Everything here takes time as
a parameter (`now`, an aware UTC datetime) and keeps state behind small store protocols with
memory, database and Redis implementations.
"""

from __future__ import annotations
