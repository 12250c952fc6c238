"""WebAuthn passkeys (py_webauthn): registration and sign-in ceremonies, stored credentials.

The caller keeps each ceremony's challenge server-side (in the session) and uses it once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

import sqlalchemy as sa
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import InvalidJSONStructure
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from bastion.auth.schema import METADATA
from bastion.core.database import reading
from bastion.crypto.random import token_bytes
from bastion.errors import MissingError, ValidationError, VerificationError

#: WebAuthn caps credential ids at 1023 bytes; base64url makes that 1364 characters.
MAX_CREDENTIAL_ID_BYTES = 1023
#: A bound on what one user may register, so the table cannot be grown without limit.
MAX_PASSKEYS_PER_USER = 20
MAX_CREDENTIAL_JSON = 64 * 1024
NAME_LENGTH = 80
REFUSED = "The passkey could not be verified."
_CHALLENGE_BYTES = 32
_HANDLE_BYTES = 32
_TIMEOUT_MS = 120_000
_TRANSPORTS = frozenset(t.value for t in AuthenticatorTransport)

PASSKEY_TABLE = sa.Table(
    "auth_passkey",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("uid", sa.Integer, nullable=False, index=True),
    # Unique across users: nobody may register (with a forged "none" attestation) a copy of a
    # credential id someone else already uses.
    sa.Column("credential_id", sa.String(1400), nullable=False, unique=True),
    sa.Column("public_key", sa.LargeBinary, nullable=False),  # COSE_Key
    sa.Column("sign_count", sa.BigInteger, nullable=False),  # unsigned 32-bit on the wire
    sa.Column("transports", sa.Text, nullable=False),  # JSON list of hints for the browser
    sa.Column("name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("last_used", sa.Float, nullable=True),
)

# The WebAuthn user handle: random per user and kept, not derived from the uid. Tenants on
# subdomains may share an RP id, and an authenticator keeps one discoverable credential per
# (RP id, user handle): a uid-based handle would let tenant A's user 2 overwrite tenant B's.
# Random bytes also tell the authenticator nothing about the account (WebAuthn section 14.6.1).
PASSKEY_USER_TABLE = sa.Table(
    "auth_passkey_user",
    METADATA,
    sa.Column("uid", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("user_handle", sa.LargeBinary(64), nullable=False, unique=True),
)


@dataclass(frozen=True, slots=True)
class PasskeyInfo:
    """What "My security" shows of a passkey (times are epoch seconds)."""

    id: int
    name: str
    created: float
    last_used: float | None


class Passkeys:
    """A tenant's registered passkeys."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> sa.Engine:
        """The database the factors are kept in."""
        return self._engine

    # -- registration --------------------------------------------------------------------

    def registration_options(
        self, uid: int, user_name: str, display_name: str, *, rp_id: str, rp_name: str
    ) -> tuple[str, str]:
        """Options for `navigator.credentials.create()` (JSON) and the challenge to keep."""
        challenge = token_bytes(_CHALLENGE_BYTES)
        try:
            options = generate_registration_options(
                rp_id=rp_id,
                rp_name=rp_name,
                user_name=user_name,
                user_id=self.user_handle(uid),
                user_display_name=display_name,
                challenge=challenge,
                timeout=_TIMEOUT_MS,
                attestation=AttestationConveyancePreference.NONE,
                authenticator_selection=AuthenticatorSelectionCriteria(
                    resident_key=ResidentKeyRequirement.PREFERRED,
                    user_verification=UserVerificationRequirement.PREFERRED,
                ),
                # The browser refuses an authenticator that already holds one of these, so a
                # user does not register the same key twice under two names.
                exclude_credentials=self._descriptors(uid),
            )
        except ValueError:
            raise ValidationError("The relying party and user names must not be empty.") from None
        return options_to_json(options), bytes_to_base64url(challenge)

    def finish_registration(
        self,
        uid: int,
        credential_json: str,
        *,
        challenge: str,
        rp_id: str,
        origin: str,
        name: str,
        now: datetime,
    ) -> int:
        """Verify the browser's `credential.toJSON()` and store the passkey; return its id."""
        label = _clean_name(name)
        credential = _parse(credential_json)
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=_challenge(challenge),
                expected_rp_id=rp_id,
                expected_origin=origin,
            )
        except Exception as exc:  # see _refuse
            _refuse(exc)
        if len(verified.credential_id) > MAX_CREDENTIAL_ID_BYTES:
            raise ValidationError("The passkey's credential id is too long.")
        t = PASSKEY_TABLE
        try:
            with self._engine.begin() as conn:
                count = conn.execute(
                    sa.select(sa.func.count()).select_from(t).where(t.c.uid == uid)
                ).scalar()
                if (count or 0) >= MAX_PASSKEYS_PER_USER:
                    raise ValidationError(
                        f"An account can hold at most {MAX_PASSKEYS_PER_USER} passkeys."
                    )
                passkey_id = conn.execute(
                    sa.insert(t)
                    .values(
                        uid=uid,
                        credential_id=bytes_to_base64url(verified.credential_id),
                        public_key=verified.credential_public_key,
                        sign_count=verified.sign_count,
                        transports=json.dumps(_transports(credential)),
                        name=label,
                        created=now.timestamp(),
                        last_used=None,
                    )
                    .returning(t.c.id)
                ).scalar_one()
        except sa.exc.IntegrityError:
            raise ValidationError("This passkey is already registered.") from None
        return int(passkey_id)

    # -- sign-in -------------------------------------------------------------------------

    def authentication_options(self, uid: int, *, rp_id: str) -> tuple[str, str]:
        """Options for `navigator.credentials.get()` (JSON) and the challenge to keep."""
        allowed = self._descriptors(uid)
        if not allowed:
            raise MissingError("No passkey is registered for this account.")
        challenge = token_bytes(_CHALLENGE_BYTES)
        try:
            options = generate_authentication_options(
                rp_id=rp_id,
                challenge=challenge,
                timeout=_TIMEOUT_MS,
                allow_credentials=allowed,
                user_verification=UserVerificationRequirement.PREFERRED,
            )
        except ValueError:
            raise ValidationError("The relying party id must not be empty.") from None
        return options_to_json(options), bytes_to_base64url(challenge)

    def verify_authentication(
        self,
        uid: int,
        credential_json: str,
        *,
        challenge: str,
        rp_id: str,
        origin: str,
        now: datetime,
    ) -> None:
        """Verify an assertion made with one of `uid`'s passkeys; raise `VerificationError`."""
        credential = _parse(credential_json)
        raw_id = credential.get("rawId")
        if not isinstance(raw_id, str) or len(raw_id) > 2 * MAX_CREDENTIAL_ID_BYTES:
            raise ValidationError("The passkey response is malformed.")
        try:
            credential_id = bytes_to_base64url(base64url_to_bytes(raw_id))
        except ValueError:
            credential_id = ""
        if credential_id != raw_id:  # the decoder skips stray characters: insist on one spelling
            raise ValidationError("The passkey response is malformed.")
        t = PASSKEY_TABLE
        with reading(self._engine) as conn:
            row = (
                conn.execution_options(bastion_readonly=True)
                .execute(
                    sa.select(t.c.id, t.c.public_key, t.c.sign_count).where(
                        t.c.uid == uid, t.c.credential_id == credential_id
                    )
                )
                .first()
            )
        # Only the user's own passkeys count: another account's valid assertion is refused.
        if row is None or not self._handle_matches(uid, credential):
            raise VerificationError(REFUSED)
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=_challenge(challenge),
                expected_rp_id=rp_id,
                expected_origin=origin,
                credential_public_key=row.public_key,
                # A counter that does not move forward is refused by the library: a sign of a
                # cloned authenticator (WebAuthn section 6.1.1).
                credential_current_sign_count=row.sign_count,
            )
        except Exception as exc:  # see _refuse
            _refuse(exc)
        new_count = verified.new_sign_count
        # Re-checked in the UPDATE so two requests replaying one assertion cannot both pass;
        # authenticators that never count (sign count 0) rely on the single-use challenge.
        moved = t.c.sign_count < new_count if new_count > 0 else t.c.sign_count == 0
        with self._engine.begin() as conn:
            done = conn.execute(
                sa.update(t)
                .where(t.c.id == row.id, t.c.uid == uid, moved)
                .values(sign_count=new_count, last_used=now.timestamp())
            ).rowcount
        if done != 1:
            raise VerificationError(REFUSED)

    # -- management ----------------------------------------------------------------------

    def list_for_user(self, uid: int) -> list[PasskeyInfo]:
        """The user's passkeys, oldest first."""
        t = PASSKEY_TABLE
        with reading(self._engine) as conn:
            rows = (
                conn.execution_options(bastion_readonly=True)
                .execute(
                    sa.select(t.c.id, t.c.name, t.c.created, t.c.last_used)
                    .where(t.c.uid == uid)
                    .order_by(t.c.created, t.c.id)
                )
                .all()
            )
        return [PasskeyInfo(r.id, r.name, r.created, r.last_used) for r in rows]

    def has_passkey(self, uid: int) -> bool:
        """True when the user has at least one passkey."""
        return bool(self._descriptors(uid))

    def remove(self, uid: int, passkey_id: int) -> None:
        """Delete one of the user's passkeys; another user's is `MissingError`, like a gap."""
        t = PASSKEY_TABLE
        with self._engine.begin() as conn:
            done = conn.execute(sa.delete(t).where(t.c.id == passkey_id, t.c.uid == uid)).rowcount
        if done != 1:
            raise MissingError("This passkey does not exist.")

    def remove_all(self, uid: int) -> int:
        """Delete all of the user's passkeys; return how many there were."""
        t = PASSKEY_TABLE
        with self._engine.begin() as conn:
            return int(conn.execute(sa.delete(t).where(t.c.uid == uid)).rowcount)

    def user_handle(self, uid: int) -> bytes:
        """The user's WebAuthn user handle, made on first use and then kept."""
        t = PASSKEY_USER_TABLE
        try:
            with self._engine.begin() as conn:
                handle = conn.execute(sa.select(t.c.user_handle).where(t.c.uid == uid)).scalar()
                if handle is None:
                    handle = token_bytes(_HANDLE_BYTES)
                    conn.execute(sa.insert(t).values(uid=uid, user_handle=handle))
        except sa.exc.IntegrityError:
            # Two first registrations at once: the other one made the handle; use it.
            with reading(self._engine) as conn:
                handle = conn.execute(sa.select(t.c.user_handle).where(t.c.uid == uid)).scalar()
            if handle is None:
                raise
        return bytes(handle)

    def _descriptors(self, uid: int) -> list[PublicKeyCredentialDescriptor]:
        t = PASSKEY_TABLE
        with reading(self._engine) as conn:
            rows = (
                conn.execution_options(bastion_readonly=True)
                .execute(
                    sa.select(t.c.credential_id, t.c.transports)
                    .where(t.c.uid == uid)
                    .order_by(t.c.id)
                )
                .all()
            )
        return [
            PublicKeyCredentialDescriptor(
                id=base64url_to_bytes(r.credential_id),
                transports=[AuthenticatorTransport(x) for x in _stored_transports(r.transports)],
            )
            for r in rows
        ]

    def _handle_matches(self, uid: int, credential: dict[str, Any]) -> bool:
        # Discoverable credentials report the user handle they were made for; it must be this
        # user's. Non-discoverable ones may send none: the credential id lookup decides.
        response = credential.get("response")
        sent = response.get("userHandle") if isinstance(response, dict) else None
        if sent is None or sent == "":
            return True
        if not isinstance(sent, str):
            return False
        t = PASSKEY_USER_TABLE
        with reading(self._engine) as conn:
            handle = (
                conn.execution_options(bastion_readonly=True)
                .execute(sa.select(t.c.user_handle).where(t.c.uid == uid))
                .scalar()
            )
        try:
            return handle is not None and base64url_to_bytes(sent) == bytes(handle)
        except ValueError:
            return False


def _parse(credential_json: str) -> dict[str, Any]:
    if not isinstance(credential_json, str) or len(credential_json) > MAX_CREDENTIAL_JSON:
        raise ValidationError("The passkey response is malformed.")
    try:
        value = json.loads(credential_json)
    except ValueError:
        raise ValidationError("The passkey response is malformed.") from None
    if not isinstance(value, dict):
        raise ValidationError("The passkey response is malformed.")
    return value


def _challenge(challenge: str) -> bytes:
    try:
        value = base64url_to_bytes(challenge)
    except (ValueError, TypeError):
        raise VerificationError(REFUSED) from None
    if len(value) < 16:
        # A missing or truncated challenge would make any old response replayable.
        raise VerificationError(REFUSED)
    return value


def _refuse(exc: Exception) -> NoReturn:
    # The library raises many exception types on hostile input (its own, ValueError, KeyError,
    # cbor and cryptography errors): every one becomes a clean refusal, never a traceback or a
    # 500 that would tell a prober which check failed.
    if isinstance(exc, InvalidJSONStructure):
        raise ValidationError("The passkey response is malformed.") from None
    if isinstance(exc, ValidationError | VerificationError):
        raise exc
    raise VerificationError(REFUSED) from None


def _clean_name(name: str) -> str:
    label = " ".join(str(name or "").split())
    if len(label) > NAME_LENGTH:
        raise ValidationError(f"A passkey name has at most {NAME_LENGTH} characters.")
    return label or "Passkey"


def _transports(credential: dict[str, Any]) -> list[str]:
    response = credential.get("response")
    sent = response.get("transports") if isinstance(response, dict) else None
    if not isinstance(sent, list):
        return []
    return sorted({t for t in sent if isinstance(t, str) and t in _TRANSPORTS})


def _stored_transports(text: str) -> list[str]:
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return [t for t in value if t in _TRANSPORTS] if isinstance(value, list) else []
