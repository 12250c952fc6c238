"""Server-side sessions: opaque 256-bit tokens kept only as hashes, with idle and absolute expiry.

Stores: `MemorySessionStore` (one process, tests), `SqlSessionStore` (the tenant database, the
default) and `RedisSessionStore`. `SessionManager` holds the rules; the stores only keep entries.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import redis
import sqlalchemy as sa

from bastion.auth.schema import METADATA
from bastion.core.database import reading
from bastion.crypto.digest import sha256_hex
from bastion.crypto.random import token_bytes, token_urlsafe
from bastion.errors import ConfigError, ValidationError, VerificationError

EXPIRED = "Your session has expired; please sign in again."
INVALID = "Your session is not valid; please sign in again."

#: token_urlsafe(32) gives 43 characters; anything far from that is not one of ours.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,128}")
_MAX_DATA = 4096
_MAX_USER_AGENT = 300
_MAX_IP = 64
_MAX_DEVICE_ID = 256
#: What `rotate` may change; sid, created and the csrf token follow the rotation rules instead.
_ROTATABLE = frozenset(
    {"uid", "auth_time", "mfa_pending", "persistent", "device_id", "ip", "user_agent", "data"}
)

auth_session = sa.Table(
    "auth_session",
    METADATA,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("sid", sa.String(32), nullable=False, unique=True),
    sa.Column("uid", sa.Integer, nullable=False, index=True),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
    sa.Column("payload", sa.Text, nullable=False),
)


@dataclass(frozen=True)
class Session:
    """One signed-in browser. Times are epoch seconds; `sid` is public, the token never is."""

    sid: str
    uid: int
    created: float
    last_seen: float
    auth_time: float
    mfa_pending: bool
    persistent: bool
    device_id: str | None
    ip: str
    user_agent: str
    csrf_token: str = field(repr=False)
    data: Mapping[str, Any] = field(default_factory=dict)


class SessionStore(Protocol):
    """Where sessions live, keyed by the SHA-256 of their token; expiry rules are the manager's."""

    def save(self, token_hash: str, session: Session, expires_at: float) -> None:
        """Store `session` under `token_hash`, replacing any entry there."""

    def replace(self, token_hash: str, session: Session, expires_at: float) -> bool:
        """Overwrite the entry only if it still exists; False if it was deleted meanwhile."""

    def get(self, token_hash: str) -> Session | None: ...

    def delete(self, token_hash: str) -> bool:
        """Delete the entry; True only for the one caller that actually removed it."""

    def by_user(self, uid: int) -> list[tuple[str, Session]]:
        """Every stored session of `uid` as (token hash, session), expired ones included."""

    def delete_sid(self, uid: int, sid: str) -> bool:
        """Delete the session `sid` if it belongs to `uid`."""


def encode_session(session: Session) -> str:
    """The session as a JSON document (what the SQL and Redis stores keep)."""
    doc = {f.name: getattr(session, f.name) for f in fields(Session)}
    doc["data"] = dict(session.data)
    return json.dumps(doc, separators=(",", ":"), sort_keys=True)


def decode_session(payload: str | bytes) -> Session:
    doc = json.loads(payload)
    return Session(**{f.name: doc[f.name] for f in fields(Session)})


class MemorySessionStore:
    """Sessions of one process (tests, single-worker tools); thread-safe."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Session, float]] = {}
        self._lock = threading.Lock()

    def save(self, token_hash: str, session: Session, expires_at: float) -> None:
        with self._lock:
            self._entries[token_hash] = (session, expires_at)

    def replace(self, token_hash: str, session: Session, expires_at: float) -> bool:
        with self._lock:
            if token_hash not in self._entries:
                return False
            self._entries[token_hash] = (session, expires_at)
            return True

    def get(self, token_hash: str) -> Session | None:
        with self._lock:
            entry = self._entries.get(token_hash)
        return None if entry is None else entry[0]

    def delete(self, token_hash: str) -> bool:
        with self._lock:
            return self._entries.pop(token_hash, None) is not None

    def by_user(self, uid: int) -> list[tuple[str, Session]]:
        with self._lock:
            return [(h, s) for h, (s, _) in self._entries.items() if s.uid == uid]

    def delete_sid(self, uid: int, sid: str) -> bool:
        with self._lock:
            for h, (s, _) in list(self._entries.items()):
                if s.uid == uid and s.sid == sid:
                    del self._entries[h]
                    return True
        return False

    def purge(self, now: datetime) -> int:
        """Drop entries whose expiry has passed; return how many."""
        at = _epoch(now)
        with self._lock:
            dead = [h for h, (_, exp) in self._entries.items() if exp <= at]
            for h in dead:
                del self._entries[h]
        return len(dead)


class SqlSessionStore:
    """Sessions in the `auth_session` table; run `purge` now and then to drop expired rows."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def save(self, token_hash: str, session: Session, expires_at: float) -> None:
        t = auth_session
        with self.engine.begin() as conn:
            conn.execute(t.delete().where(t.c.token_hash == token_hash))
            conn.execute(t.insert().values(token_hash=token_hash, **_row(session, expires_at)))

    def replace(self, token_hash: str, session: Session, expires_at: float) -> bool:
        t = auth_session
        with self.engine.begin() as conn:
            result = conn.execute(
                t.update().where(t.c.token_hash == token_hash).values(**_row(session, expires_at))
            )
        return result.rowcount > 0

    def get(self, token_hash: str) -> Session | None:
        t = auth_session
        with reading(self.engine) as conn:
            payload = conn.execute(
                sa.select(t.c.payload).where(t.c.token_hash == token_hash)
            ).scalar_one_or_none()
        return None if payload is None else decode_session(payload)

    def delete(self, token_hash: str) -> bool:
        t = auth_session
        with self.engine.begin() as conn:
            return conn.execute(t.delete().where(t.c.token_hash == token_hash)).rowcount > 0

    def by_user(self, uid: int) -> list[tuple[str, Session]]:
        t = auth_session
        with reading(self.engine) as conn:
            rows = conn.execute(sa.select(t.c.token_hash, t.c.payload).where(t.c.uid == uid))
            return [(row.token_hash, decode_session(row.payload)) for row in rows]

    def delete_sid(self, uid: int, sid: str) -> bool:
        t = auth_session
        with self.engine.begin() as conn:
            result = conn.execute(t.delete().where(t.c.uid == uid, t.c.sid == sid))
        return result.rowcount > 0

    def purge(self, now: datetime) -> int:
        """Delete the rows whose expiry has passed; return how many."""
        t = auth_session
        with self.engine.begin() as conn:
            return conn.execute(t.delete().where(t.c.expires_at <= _epoch(now))).rowcount


def _row(session: Session, expires_at: float) -> dict[str, Any]:
    return {
        "sid": session.sid,
        "uid": session.uid,
        "expires_at": expires_at,
        "payload": encode_session(session),
    }


class RedisSessionStore:
    """Sessions in Redis (7.0 or later): `<prefix>s:<hash>` holds the JSON with a TTL, and
    `<prefix>u:<uid>` the set of a user's token hashes, kept alive as long as its longest member.

    TTLs count from `session.last_seen`, the manager's clock, so a test clock works too.
    """

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def _skey(self, token_hash: str) -> str:
        return f"{self.prefix}s:{token_hash}"

    def _ukey(self, uid: int) -> str:
        return f"{self.prefix}u:{uid}"

    def _write(self, token_hash: str, session: Session, expires_at: float, *, xx: bool) -> bool:
        ttl_ms = int((expires_at - session.last_seen) * 1000)
        if ttl_ms <= 0:
            self.delete(token_hash)
            return False
        ukey = self._ukey(session.uid)
        pipe = self.client.pipeline(transaction=True)
        pipe.set(self._skey(token_hash), encode_session(session), px=ttl_ms, xx=xx)
        if not xx:
            pipe.sadd(ukey, token_hash)
        # The user's set must outlive every member, or revoke_user would miss a live session:
        # NX sets a first expiry, GT only ever lengthens it.
        pipe.pexpire(ukey, ttl_ms, nx=True)
        pipe.pexpire(ukey, ttl_ms, gt=True)
        results = pipe.execute()
        return bool(results[0])

    def save(self, token_hash: str, session: Session, expires_at: float) -> None:
        self._write(token_hash, session, expires_at, xx=False)

    def replace(self, token_hash: str, session: Session, expires_at: float) -> bool:
        return self._write(token_hash, session, expires_at, xx=True)

    def get(self, token_hash: str) -> Session | None:
        payload = self.client.get(self._skey(token_hash))
        return None if payload is None else decode_session(payload)

    def delete(self, token_hash: str) -> bool:
        # GETDEL is atomic: of two requests rotating the same token, only one gets it back.
        payload = self.client.getdel(self._skey(token_hash))
        if payload is None:
            return False
        self.client.srem(self._ukey(decode_session(payload).uid), token_hash)
        return True

    def by_user(self, uid: int) -> list[tuple[str, Session]]:
        ukey = self._ukey(uid)
        raw: set[bytes | str] = self.client.smembers(ukey)
        members = sorted(_text(m) for m in raw)
        if not members:
            return []
        payloads: list[bytes | str | None] = self.client.mget([self._skey(h) for h in members])
        found: list[tuple[str, Session]] = []
        stale: list[str] = []
        for token_hash, payload in zip(members, payloads, strict=True):
            if payload is None:
                stale.append(token_hash)  # expired by its TTL
            else:
                found.append((token_hash, decode_session(payload)))
        if stale:
            self.client.srem(ukey, *stale)
        return found

    def delete_sid(self, uid: int, sid: str) -> bool:
        for token_hash, session in self.by_user(uid):
            if session.sid == sid:
                return self.delete(token_hash)
        return False


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class SessionManager:
    """Creates, loads, rotates and revokes sessions.

    Lifetime: a session ends `idle` after its last use or `absolute` after `created`, whichever
    comes first. `rotate` keeps `created` (the sign-in), so re-authenticating or completing MFA
    never extends the absolute lifetime; only a new sign-in (`create`) does.
    """

    def __init__(
        self,
        store: SessionStore,
        *,
        idle: timedelta = timedelta(minutes=30),
        absolute: timedelta = timedelta(hours=12),
    ) -> None:
        if idle <= timedelta(0) or absolute < idle:
            raise ConfigError(
                "The session idle timeout must be positive and no longer than the absolute "
                "lifetime."
            )
        self.store = store
        self.idle = idle.total_seconds()
        self.absolute = absolute.total_seconds()
        # last_seen is written at most this often, to spare a write on every request; a session
        # may so end up to this much before `idle` after its last use, never after.
        self.touch_every = min(60.0, self.idle / 4)

    def expires_at(self, session: Session) -> float:
        """When `session` ends if unused (epoch seconds)."""
        return min(session.last_seen + self.idle, session.created + self.absolute)

    def create(
        self,
        uid: int,
        now: datetime,
        *,
        device_id: str | None,
        ip: str,
        user_agent: str,
        mfa_pending: bool,
        persistent: bool,
        data: Mapping[str, Any] | None = None,
    ) -> tuple[str, Session]:
        """Start a session for `uid` (just proved a password); return (token, session)."""
        at = _epoch(now)
        session = _checked(
            Session(
                sid=token_bytes(16).hex(),
                uid=uid,
                created=at,
                last_seen=at,
                auth_time=at,
                mfa_pending=mfa_pending,
                persistent=persistent,
                device_id=device_id,
                ip=ip,
                user_agent=_clip(user_agent),
                csrf_token=token_urlsafe(32),
                data=dict(data or {}),
            )
        )
        token = token_urlsafe(32)
        self.store.save(_hash(token), session, self.expires_at(session))
        return token, session

    def load(self, token: str, now: datetime) -> Session:
        """The live session of `token`; VerificationError if unknown or expired."""
        token_hash = _token_hash(token)
        at = _epoch(now)
        session = self._live(token_hash, at)
        if at - session.last_seen < self.touch_every:
            return session
        session = replace(session, last_seen=at)
        if not self.store.replace(token_hash, session, self.expires_at(session)):
            raise VerificationError(INVALID)  # rotated or revoked by a concurrent request
        return session

    def rotate(self, token: str, now: datetime, **changes: Any) -> tuple[str, Session]:
        """Replace `token` by a new one with a new CSRF token and `changes` applied.

        Call it at sign-in steps and privilege changes (MFA completed, re-authentication): a
        token an attacker planted or saw before (session fixation) dies here. The sid and
        `created` stay, unless `uid` changes: another user's session is a new session.
        """
        unknown = set(changes) - _ROTATABLE
        if unknown:
            raise ValidationError(f"A session rotation cannot change {sorted(unknown)[0]!r}.")
        if isinstance(changes.get("auth_time"), datetime):
            changes["auth_time"] = _epoch(changes["auth_time"])
        if "user_agent" in changes and isinstance(changes["user_agent"], str):
            changes["user_agent"] = _clip(changes["user_agent"])
        at = _epoch(now)
        old_hash = _token_hash(token)
        old = self._live(old_hash, at)
        new = replace(old, last_seen=at, csrf_token=token_urlsafe(32), **changes)
        if new.uid != old.uid:
            new = replace(new, sid=token_bytes(16).hex(), created=at)
        new = _checked(new)
        # Delete first, and only go on if this call removed it: two concurrent rotations of one
        # token must not both yield a live successor.
        if not self.store.delete(old_hash):
            raise VerificationError(INVALID)
        new_token = token_urlsafe(32)
        self.store.save(_hash(new_token), new, self.expires_at(new))
        return new_token, new

    def update(self, token: str, session: Session) -> None:
        """Save changed `data`, `ip`, flags... of the session of `token` (same token, same sid)."""
        token_hash = _token_hash(token)
        stored = self.store.get(token_hash)
        if stored is None:
            raise VerificationError(INVALID)
        for name in ("sid", "uid", "created", "csrf_token"):
            if getattr(session, name) != getattr(stored, name):
                raise ValidationError(f"Changing the session's {name} needs a rotation.")
        session = _checked(replace(session, user_agent=_clip(session.user_agent)))
        if not self.store.replace(token_hash, session, self.expires_at(session)):
            raise VerificationError(INVALID)

    def revoke(self, token: str) -> None:
        """End the session of `token` (sign-out); nothing happens for an unknown token."""
        if _valid_token(token):
            self.store.delete(_hash(token))

    def revoke_sid(self, uid: int, sid: str) -> bool:
        """End the session `sid` of `uid`; False if `uid` has no such session (not theirs)."""
        if not isinstance(sid, str) or not sid:
            return False
        return self.store.delete_sid(uid, sid)

    def revoke_user(self, uid: int, *, keep_sid: str | None = None) -> int:
        """End every session of `uid` except `keep_sid` (password or MFA changed, admin action).

        Returns how many were ended.
        """
        ended = 0
        for token_hash, session in self.store.by_user(uid):
            if session.sid != keep_sid and self.store.delete(token_hash):
                ended += 1
        return ended

    def list_for_user(self, uid: int, now: datetime) -> list[Session]:
        """The live sessions of `uid`, newest first."""
        at = _epoch(now)
        live = [s for _, s in self.store.by_user(uid) if self._alive(s, at)]
        return sorted(live, key=lambda s: (s.created, s.sid), reverse=True)

    def _alive(self, session: Session, at: float) -> bool:
        return at < session.last_seen + self.idle and at < session.created + self.absolute

    def _live(self, token_hash: str, at: float) -> Session:
        session = self.store.get(token_hash)
        if session is None:
            raise VerificationError(INVALID)
        if not self._alive(session, at):
            self.store.delete(token_hash)
            raise VerificationError(EXPIRED)
        return session


def _epoch(now: datetime) -> float:
    if now.tzinfo is None:
        raise ValidationError("The time must be timezone-aware.")
    return now.timestamp()


def _hash(token: str) -> str:
    # Only the hash is stored: a leaked store (backup, SQL injection, Redis dump) yields no
    # cookie anyone can present.
    return sha256_hex(token.encode())


def _valid_token(token: object) -> bool:
    return isinstance(token, str) and _TOKEN.fullmatch(token) is not None


def _token_hash(token: str) -> str:
    # Refuse junk before it reaches a store: no lookups for megabyte cookies or odd types.
    if not _valid_token(token):
        raise VerificationError(INVALID)
    return _hash(token)


def _clip(user_agent: str) -> str:
    return user_agent[:_MAX_USER_AGENT] if isinstance(user_agent, str) else user_agent


def _checked(session: Session) -> Session:
    if not isinstance(session.uid, int) or isinstance(session.uid, bool) or session.uid <= 0:
        raise ValidationError("A session needs a positive user id.")
    if not all(
        isinstance(v, (int, float)) and not isinstance(v, bool)
        for v in (session.created, session.last_seen, session.auth_time)
    ):
        raise ValidationError("Session times must be epoch seconds.")
    if not isinstance(session.mfa_pending, bool) or not isinstance(session.persistent, bool):
        raise ValidationError("Session flags must be booleans.")
    if session.device_id is not None and not _short_str(session.device_id, _MAX_DEVICE_ID):
        raise ValidationError("A session's device id must be a short text.")
    if not _short_str(session.ip, _MAX_IP, allow_empty=True):
        raise ValidationError("A session's IP address must be a short text.")
    if not _short_str(session.user_agent, _MAX_USER_AGENT, allow_empty=True):
        raise ValidationError("A session's user agent must be a text.")
    if not isinstance(session.data, Mapping) or not _all_str(session.data):
        raise ValidationError("Session data must be a mapping with text keys.")
    try:
        size = len(json.dumps(dict(session.data), separators=(",", ":")))
    except (TypeError, ValueError):
        raise ValidationError("Session data must be JSON.") from None
    if size > _MAX_DATA:
        raise ValidationError(f"Session data must stay under {_MAX_DATA} bytes.")
    return replace(session, data=dict(session.data))


def _short_str(value: object, limit: int, *, allow_empty: bool = False) -> bool:
    return isinstance(value, str) and (allow_empty or bool(value)) and len(value) <= limit


def _all_str(keys: Iterable[object]) -> bool:
    return all(isinstance(k, str) for k in keys)
