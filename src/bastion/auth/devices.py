"""Known devices (a user signed in from them before) and trusted ones ("don't ask again").

The web layer owns the device cookie and passes an opaque id; only its SHA-256 is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from bastion.auth.schema import METADATA
from bastion.core.database import reading
from bastion.crypto.digest import sha256_hex
from bastion.errors import ValidationError

_MAX_DEVICE_ID = 256
_MAX_IP = 64
_MAX_USER_AGENT = 300
_MAX_TRUST_DAYS = 365

auth_device = sa.Table(
    "auth_device",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uid", sa.Integer, nullable=False, index=True),
    sa.Column("device_hash", sa.String(64), nullable=False),
    sa.Column("first_seen", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
    sa.Column("ip", sa.String(_MAX_IP), nullable=False),
    sa.Column("user_agent", sa.String(_MAX_USER_AGENT), nullable=False),
    sa.Column("trusted_until", sa.Float, nullable=True),
    sa.UniqueConstraint("uid", "device_hash", name="auth_device_uid_device_hash_key"),
)


@dataclass(frozen=True)
class DeviceInfo:
    """A device as the user sees it in "My security"; times are epoch seconds."""

    id: int
    first_seen: float
    last_seen: float
    ip: str
    user_agent: str
    trusted_until: float | None  # None: not trusted (or the trust has run out)


class Devices:
    """The devices of each user, in the `auth_device` table."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def is_known(self, uid: int, device_id: str) -> bool:
        """Whether `uid` has completed a sign-in from this device before."""
        t = auth_device
        with reading(self.engine) as conn:
            found = conn.execute(
                sa.select(t.c.id).where(t.c.uid == uid, t.c.device_hash == _hash(device_id))
            ).first()
        return found is not None

    def remember(
        self, uid: int, device_id: str, now: datetime, *, ip: str, user_agent: str
    ) -> None:
        """Record a completed sign-in of `uid` from this device."""
        at = _epoch(now)
        self._upsert(
            uid,
            _hash(device_id),
            {"last_seen": at, "ip": _ip(ip), "user_agent": _user_agent(user_agent)},
            first_seen=at,
        )

    def trust(self, uid: int, device_id: str, now: datetime, *, days: int = 30) -> None:
        """Skip the second factor on this device for `days` (the user ticked "don't ask")."""
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= _MAX_TRUST_DAYS:
            raise ValidationError(f"Trust a device for 1 to {_MAX_TRUST_DAYS} days.")
        at = _epoch(now)
        self._upsert(uid, _hash(device_id), {"trusted_until": at + days * 86_400.0}, first_seen=at)

    def is_trusted(self, uid: int, device_id: str, now: datetime) -> bool:
        t = auth_device
        with reading(self.engine) as conn:
            until = conn.execute(
                sa.select(t.c.trusted_until).where(
                    t.c.uid == uid, t.c.device_hash == _hash(device_id)
                )
            ).scalar_one_or_none()
        return until is not None and _epoch(now) < until

    def forget_trust(self, uid: int, device_id: str | None = None) -> int:
        """Withdraw trust from one device of `uid`, or from all of them; return how many."""
        t = auth_device
        where = [t.c.uid == uid, t.c.trusted_until.is_not(None)]
        if device_id is not None:
            where.append(t.c.device_hash == _hash(device_id))
        with self.engine.begin() as conn:
            return conn.execute(t.update().where(*where).values(trusted_until=None)).rowcount

    def forget_trust_by_id(self, uid: int, info_id: int) -> bool:
        """Withdraw trust from the device listed as `info_id`, if it is one of `uid`'s."""
        t = auth_device
        with self.engine.begin() as conn:
            result = conn.execute(
                t.update()
                .where(t.c.id == info_id, t.c.uid == uid, t.c.trusted_until.is_not(None))
                .values(trusted_until=None)
            )
        return result.rowcount > 0

    def forget(self, uid: int, device_id: str | None = None) -> int:
        """Forget one device of `uid` (or all): it is unknown again, and untrusted."""
        t = auth_device
        where = [t.c.uid == uid]
        if device_id is not None:
            where.append(t.c.device_hash == _hash(device_id))
        with self.engine.begin() as conn:
            return conn.execute(t.delete().where(*where)).rowcount

    def list_for_user(self, uid: int, now: datetime) -> list[DeviceInfo]:
        """The devices of `uid`, most recently seen first."""
        t = auth_device
        at = _epoch(now)
        with reading(self.engine) as conn:
            rows = conn.execute(
                sa.select(t).where(t.c.uid == uid).order_by(t.c.last_seen.desc(), t.c.id.desc())
            ).all()
        return [
            DeviceInfo(
                id=row.id,
                first_seen=row.first_seen,
                last_seen=row.last_seen,
                ip=row.ip,
                user_agent=row.user_agent,
                trusted_until=row.trusted_until
                if row.trusted_until is not None and at < row.trusted_until
                else None,
            )
            for row in rows
        ]

    def _upsert(
        self, uid: int, device_hash: str, values: dict[str, object], *, first_seen: float
    ) -> None:
        _check_uid(uid)
        t = auth_device
        match = (t.c.uid == uid, t.c.device_hash == device_hash)
        insert = {"first_seen": first_seen, "last_seen": first_seen, "ip": "", "user_agent": ""}
        with self.engine.begin() as conn:
            if conn.execute(t.update().where(*match).values(**values)).rowcount:
                return
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    t.insert().values(uid=uid, device_hash=device_hash, **(insert | values))
                )
        except sa.exc.IntegrityError:
            # Two sign-ins from one new device raced to insert it; the loser updates instead.
            with self.engine.begin() as conn:
                conn.execute(t.update().where(*match).values(**values))


def _hash(device_id: str) -> str:
    # The id is already opaque, but a stored hash keeps a leaked table from naming a cookie.
    if not isinstance(device_id, str) or not 0 < len(device_id) <= _MAX_DEVICE_ID:
        raise ValidationError("A device id must be a short, non-empty text.")
    return sha256_hex(device_id.encode())


def _check_uid(uid: int) -> None:
    if isinstance(uid, bool) or not isinstance(uid, int) or uid <= 0:
        raise ValidationError("A device belongs to a positive user id.")


def _ip(ip: str) -> str:
    if not isinstance(ip, str) or len(ip) > _MAX_IP:
        raise ValidationError("An IP address must be a short text.")
    return ip


def _user_agent(user_agent: str) -> str:
    if not isinstance(user_agent, str):
        raise ValidationError("A user agent must be a text.")
    return user_agent[:_MAX_USER_AGENT]


def _epoch(now: datetime) -> float:
    if now.tzinfo is None:
        raise ValidationError("The time must be timezone-aware.")
    return now.timestamp()
