"""API keys: `bst_<prefix>_<secret>`, shown once, stored as the lookup prefix plus a SHA-256.

A key carries 192 random bits in its secret, so a fast hash is enough: nobody can guess a key
by trying candidates against a stolen hash, unlike a password.
"""

from __future__ import annotations

import base64
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bastion.auth.schema import METADATA
from bastion.core.database import reading
from bastion.core.registry import MODEL_NAME
from bastion.crypto.digest import constant_time_equal, sha256_hex
from bastion.crypto.random import token_bytes, token_urlsafe
from bastion.errors import MissingError, ValidationError, VerificationError

INVALID = "The API key is invalid, expired or revoked."
KEY_PREFIX = "bst_"
_PREFIX_LEN = 10
_KEY = re.compile(r"bst_([a-z2-7]{10})_([A-Za-z0-9_-]{32})")
_MAX_NAME = 80
_MAX_MODEL = 128
_MAX_MODELS = 200
_MAX_IP = 64
#: last_used and last_ip are written at most this often per key (unless the IP changes), so a
#: busy integration does not turn every API call into a write.
_USE_WRITE_EVERY = 60.0

auth_api_key = sa.Table(
    "auth_api_key",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uid", sa.Integer, nullable=False, index=True),
    sa.Column("name", sa.String(_MAX_NAME), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False, unique=True, index=True),
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("models", sa.Text, nullable=True),  # JSON list of model names; NULL: all models
    sa.Column("readonly", sa.Boolean, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("last_used", sa.Float, nullable=True),
    sa.Column("last_ip", sa.String(_MAX_IP), nullable=True),
    sa.Column("revoked", sa.Float, nullable=True),
)


@dataclass(frozen=True)
class KeyScope:
    """What a key may touch: `models` (None: every model) and whether it may write."""

    models: tuple[str, ...] | None
    readonly: bool

    def __post_init__(self) -> None:
        if not isinstance(self.readonly, bool):
            raise ValidationError("A key scope's read-only flag must be a boolean.")
        if self.models is not None:
            object.__setattr__(self, "models", _models(self.models))

    @classmethod
    def from_text(cls, models: str, *, readonly: bool) -> KeyScope:
        """A scope from comma-separated model names (empty: every model)."""
        names = tuple(m.strip() for m in models.split(",") if m.strip())
        return cls(names or None, readonly)

    def allows(self, model: str, write: bool) -> bool:
        """Whether a call on `model` (writing or not) is inside this scope."""
        if write and self.readonly:
            return False
        return self.models is None or model in self.models


@dataclass(frozen=True)
class ApiKeyIdentity:
    """Who a verified key acts for, and within what scope."""

    key_id: int
    uid: int
    scope: KeyScope


@dataclass(frozen=True)
class ApiKeyInfo:
    """A key as its owner sees it in a list: never the key, nor its hash. Times: epoch seconds."""

    id: int
    name: str
    prefix: str  # "bst_<prefix>": lets the owner tell which key is which
    scope: KeyScope
    created: float
    expires_at: float
    last_used: float | None
    last_ip: str | None
    expired: bool


class ApiKeys:
    """The API keys of every user, in the `auth_api_key` table."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def create(
        self,
        uid: int,
        name: str,
        now: datetime,
        *,
        scope: KeyScope,
        expires_at: datetime,
        max_days: int | None = None,
    ) -> tuple[str, int]:
        """Make a key for `uid`; return (the key, to show once; its id)."""
        _check_uid(uid)
        name = _name(name)
        at, until = _epoch(now), _epoch(expires_at)
        if until <= at:
            raise ValidationError("An API key's expiry must be in the future.")
        if max_days is not None and expires_at - now > timedelta(days=max_days):
            raise ValidationError(f"An API key may last at most {max_days} days.")
        if not isinstance(scope, KeyScope):
            raise ValidationError("An API key needs a scope.")
        t = auth_api_key
        # 50 bits of prefix make a clash very unlikely; the unique index makes one harmless.
        for _ in range(3):
            prefix = _new_prefix()
            key = f"{KEY_PREFIX}{prefix}_{token_urlsafe(24)}"
            try:
                with self.engine.begin() as conn:
                    key_id: int = conn.execute(
                        t.insert()
                        .returning(t.c.id)
                        .values(
                            uid=uid,
                            name=name,
                            prefix=prefix,
                            key_hash=_hash(key),
                            models=None if scope.models is None else json.dumps(scope.models),
                            readonly=scope.readonly,
                            created=at,
                            expires_at=until,
                        )
                    ).scalar_one()
            except sa.exc.IntegrityError:
                continue
            return key, key_id
        raise ValidationError("Could not create the API key; please try again.")

    def verify(self, plaintext: str, now: datetime, *, ip: str) -> ApiKeyIdentity:
        """Who `plaintext` acts for; VerificationError (one message for every cause) if not."""
        at = _epoch(now)
        match = _KEY.fullmatch(plaintext) if isinstance(plaintext, str) else None
        if match is None:
            raise VerificationError(INVALID)
        t = auth_api_key
        with reading(self.engine) as conn:
            row = conn.execute(sa.select(t).where(t.c.prefix == match.group(1))).first()
        # Compare hashes in constant time: a timing leak would let an attacker who knows a
        # prefix learn the stored hash byte by byte (useless alone, but cheap to deny).
        if row is None or not constant_time_equal(_hash(plaintext), row.key_hash):
            raise VerificationError(INVALID)
        if row.revoked is not None or at >= row.expires_at:
            raise VerificationError(INVALID)
        ip = _ip(ip)
        if row.last_used is None or at - row.last_used >= _USE_WRITE_EVERY or row.last_ip != ip:
            with self.engine.begin() as conn:
                conn.execute(t.update().where(t.c.id == row.id).values(last_used=at, last_ip=ip))
        return ApiKeyIdentity(key_id=row.id, uid=row.uid, scope=_scope(row))

    def revoke(self, uid: int, key_id: int, now: datetime) -> None:
        """Revoke key `key_id` of `uid`; MissingError if `uid` has no such key (not theirs)."""
        at = _epoch(now)
        t = auth_api_key
        with self.engine.begin() as conn:
            revoked = conn.execute(
                sa.select(t.c.revoked).where(t.c.id == key_id, t.c.uid == uid)
            ).first()
            if revoked is None:
                raise MissingError("There is no such API key.")
            if revoked.revoked is None:
                conn.execute(t.update().where(t.c.id == key_id).values(revoked=at))

    def revoke_user(self, uid: int, now: datetime) -> int:
        """Revoke every key of `uid` (account disabled, credentials reset); return how many."""
        at = _epoch(now)
        t = auth_api_key
        with self.engine.begin() as conn:
            result = conn.execute(
                t.update().where(t.c.uid == uid, t.c.revoked.is_(None)).values(revoked=at)
            )
        return result.rowcount

    def list_for_user(self, uid: int, now: datetime) -> list[ApiKeyInfo]:
        """The keys of `uid` not revoked, expired ones included (flagged), newest first."""
        at = _epoch(now)
        t = auth_api_key
        with reading(self.engine) as conn:
            rows = conn.execute(
                sa.select(t)
                .where(t.c.uid == uid, t.c.revoked.is_(None))
                .order_by(t.c.created.desc(), t.c.id.desc())
            ).all()
        return [
            ApiKeyInfo(
                id=row.id,
                name=row.name,
                prefix=KEY_PREFIX + row.prefix,
                scope=_scope(row),
                created=row.created,
                expires_at=row.expires_at,
                last_used=row.last_used,
                last_ip=row.last_ip,
                expired=at >= row.expires_at,
            )
            for row in rows
        ]


def _new_prefix() -> str:
    # base32 lower-case: letters and digits only, so the prefix never contains the "_" separator
    return base64.b32encode(token_bytes(10)).decode("ascii").lower()[:_PREFIX_LEN]


def _hash(key: str) -> str:
    return sha256_hex(key.encode())


def _scope(row: Any) -> KeyScope:
    models = None if row.models is None else tuple(json.loads(row.models))
    return KeyScope(models, bool(row.readonly))


def _models(models: Iterable[str]) -> tuple[str, ...]:
    if isinstance(models, str):
        raise ValidationError("List model names, not a single text.")
    names = tuple(dict.fromkeys(models))
    if not names:
        raise ValidationError("Name at least one model, or none for every model.")
    if len(names) > _MAX_MODELS:
        raise ValidationError(f"A key may name at most {_MAX_MODELS} models.")
    for name in names:
        if not isinstance(name, str) or len(name) > _MAX_MODEL or not MODEL_NAME.fullmatch(name):
            shown = str(name)[:60]
            raise ValidationError(f"'{shown}' is not a model name.")
    return names


def _name(name: str) -> str:
    if not isinstance(name, str):
        raise ValidationError("An API key needs a name.")
    name = name.strip()
    if not 1 <= len(name) <= _MAX_NAME:
        raise ValidationError(f"An API key's name must have 1 to {_MAX_NAME} characters.")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ValidationError("An API key's name cannot contain control characters.")
    return name


def _check_uid(uid: int) -> None:
    if isinstance(uid, bool) or not isinstance(uid, int) or uid <= 0:
        raise ValidationError("An API key belongs to a positive user id.")


def _ip(ip: str) -> str:
    if not isinstance(ip, str):
        raise ValidationError("An IP address must be a text.")
    return ip[:_MAX_IP]


def _epoch(now: datetime) -> float:
    if now.tzinfo is None:
        raise ValidationError("The time must be timezone-aware.")
    return now.timestamp()
