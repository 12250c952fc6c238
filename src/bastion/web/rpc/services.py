"""Odoo's RPC services (`common`, `object`, `db`), shared by XML-RPC and JSON-RPC.

Every `object` call carries the database, the user id and the password (or API key), checked
on each call as Odoo does: the credentials must verify for that user in that database, and the
database must be one this host may reach (`BASTION_DBFILTER`). Then the call goes through
`dispatch.execute_kw`, like every other transport. Everything here blocks: run it in a thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bastion.auth.apiauth import KEY_PREFIX, ApiIdentity
from bastion.auth.loginrisk import challenged, refused
from bastion.bootstrap.app import Services
from bastion.bootstrap.auth import TenantAuth
from bastion.core.database import shared_reading
from bastion.errors import AccessError, RateLimitError, ValidationError, VerificationError
from bastion.web.rpc.credentials import VerifiedPasswords
from bastion.web.rpc.dispatch import execute_kw
from bastion.web.rpc.faults import FaultError, access_denied, not_found

#: What we tell clients we are: a version every current Odoo client library accepts (odoorpc
#: switches to /jsonrpc from 10.0 on; nothing we know refuses 17.0).
SERVER_VERSION = "17.0"
VERSION_INFO: dict[str, Any] = {
    "server_version": SERVER_VERSION,
    "server_version_info": [17, 0, 0, "final", 0, ""],
    "server_serie": SERVER_VERSION,
    "protocol_version": 1,
}
WRONG_CREDENTIALS = "Wrong login or password."
#: The user agent the sign-in flow records for RPC attempts (`ApiAuthenticator`).
RPC_AGENT = "api"
NO_DATABASE = "This address serves no database of that name."
NO_DB_MANAGEMENT = "Databases are managed with the bastion command line, not over the network."
NO_DB_LISTING = "Listing databases is disabled on this server."


@dataclass(frozen=True, slots=True)
class Caller:
    """Where a call comes from: the Host it was sent to (which databases it may reach) and the
    client address (for throttles)."""

    host: str
    ip: str
    now: datetime
    #: The tenants this host may reach, when this request has listed them already (the
    #: session middleware does, to pick a browser's tenant): one listing per request.
    tenants: tuple[str, ...] | None = None


def call_service(
    services: Services,
    caller: Caller,
    service: object,
    method: object,
    params: Sequence[Any],
    *,
    list_db: bool = False,
    passwords: VerifiedPasswords | None = None,
) -> Any:
    """Run `service.method(*params)`; raise `BastionError`s or `FaultError`s. `passwords`:
    where this process keeps the passwords that verified (None: keep none)."""
    if not isinstance(method, str):
        raise ValidationError("The method must be given as a string.")
    if service == "common":
        return _common(services, caller, method, list(params))
    if service == "object":
        return _object(services, caller, method, list(params), passwords)
    if service == "db":
        return _db(services, caller, method, list(params), list_db)
    raise FaultError(not_found("There is no such service: use common, object or db."))


def model_method(service: object, method: object, params: Sequence[Any]) -> str | None:
    """The model method an `object` call (`execute_kw`, `execute`) names, or None."""
    if service != "object" or method not in ("execute_kw", "execute") or len(params) < 5:
        return None
    name = params[4]
    return name if isinstance(name, str) else None


def tenant_for(services: Services, caller: Caller, db: object) -> str:
    """`db` if the caller's host may reach it; a session, key or password belongs to one
    tenant."""
    if not isinstance(db, str) or not db:
        raise ValidationError("The database must be given as a non-empty string.")
    reachable = caller.tenants
    if reachable is None:
        reachable = tuple(services.tenants_for_host(caller.host))
    if db not in reachable:
        raise FaultError(access_denied(NO_DATABASE, 404))
    return db


# -- common ----------------------------------------------------------------------------------


def _common(services: Services, caller: Caller, method: str, params: list[Any]) -> Any:
    if method == "version":
        return dict(VERSION_INFO)
    if method == "login":
        _arity("common.login", params, 3, 3, "db, login, password")
        return authenticate(services, caller, *params[:3])
    if method == "authenticate":
        _arity("common.authenticate", params, 3, 4, "db, login, password, user_agent_env")
        return authenticate(services, caller, *params[:3])
    raise FaultError(not_found("The common service has version, login and authenticate."))


def authenticate(
    services: Services, caller: Caller, db: object, login: object, password: object
) -> int | bool:
    """Odoo's `common.authenticate`: the user id, or False for wrong credentials."""
    name = tenant_for(services, caller, db)
    if not isinstance(login, str) or not isinstance(password, str):
        raise ValidationError("The login and password must be strings.")
    auth = services.auth(name)
    try:
        identity = auth.api.password_or_key(login, password, ip=caller.ip, now=caller.now)
    except VerificationError:
        return False
    except AccessError as exc:
        # An account with a second factor: a password alone would get around it.
        raise FaultError(access_denied(exc.message)) from None
    return identity.uid


# -- object ----------------------------------------------------------------------------------


def _object(
    services: Services,
    caller: Caller,
    method: str,
    params: list[Any],
    passwords: VerifiedPasswords | None = None,
) -> Any:
    if method == "execute_kw":
        _arity("object.execute_kw", params, 6, 7, "db, uid, password, model, method, args, kwargs")
        db, uid, password, model, name, args = params[:6]
        kwargs = params[6] if len(params) > 6 else None
    elif method == "execute":
        _arity("object.execute", params, 5, None, "db, uid, password, model, method, *args")
        db, uid, password, model, name = params[:5]
        args, kwargs = params[5:], None
    else:
        raise FaultError(not_found("The object service has execute and execute_kw."))
    tenant_name = tenant_for(services, caller, db)
    auth = services.auth(tenant_name)
    identity = check_credentials(auth, caller, uid, password, passwords)
    if (model, name) == ("res.users", "context_get") and name not in _rpc_methods(auth, model):
        # odoorpc asks for this right after signing in; until the users model offers it,
        # answer with the defaults (nothing but the caller's own id).
        return {"lang": "en_US", "tz": "UTC", "uid": identity.uid}
    return execute_kw(auth.tenant, identity, model, name, args, kwargs)


def check_credentials(
    auth: TenantAuth,
    caller: Caller,
    uid: object,
    secret: object,
    passwords: VerifiedPasswords | None = None,
) -> ApiIdentity:
    """The identity of `uid` if `secret` is its password or one of its API keys.

    An unknown or disabled uid goes through the same path with an empty login (a dummy hash,
    a throttle failure), so neither timing nor answer tells which user ids exist. A password
    kept in `passwords` for this address skips the sign-in flow's hash and risk assessment,
    not its throttle nor what users, groups and second factors decide (see `credentials.py`).
    """
    if isinstance(uid, str) and uid.isdigit() and len(uid) < 12:
        uid = int(uid)
    if isinstance(uid, bool) or not isinstance(uid, int):
        raise ValidationError("The user id must be a whole number.")
    if not isinstance(secret, str):
        raise FaultError(access_denied(WRONG_CREDENTIALS))
    stamp = None
    if passwords is not None and not secret.startswith(KEY_PREFIX):  # keys: a fast hash
        identity = _verified_before(auth, caller, uid, secret, passwords)
        if identity is not None:
            return identity
        # Read before the user's row: what is kept is never newer than what it was checked on.
        stamp = auth.tenant.access_cache.stamp()
    try:
        login = auth.login.get_user(uid).login
    except AccessError:
        login = ""
    try:
        identity = auth.api.password_or_key(login, secret, ip=caller.ip, now=caller.now)
    except VerificationError:
        raise FaultError(access_denied(WRONG_CREDENTIALS)) from None
    except AccessError as exc:
        raise FaultError(access_denied(exc.message)) from None
    if identity.uid != uid:
        raise FaultError(access_denied(WRONG_CREDENTIALS))
    if passwords is not None and stamp is not None:
        now = caller.now.timestamp()
        passwords.remember(
            auth.tenant.name, uid, caller.ip, secret, stamp=stamp, login=login, now=now
        )
    return identity


def _verified_before(
    auth: TenantAuth, caller: Caller, uid: int, password: str, passwords: VerifiedPasswords
) -> ApiIdentity | None:
    """The identity of `uid` if `password` verified for it from this address before and nothing
    the full check depends on has changed since; None: take the full path (which also refuses
    whatever must be refused)."""
    tenant = auth.tenant.name
    found = passwords.lookup(tenant, uid, caller.ip, password, caller.now.timestamp())
    if found is None:
        return None
    throttle = auth.login.throttle
    keys = throttle.keys(found.login, caller.ip, None)
    # Both reads on one connection where both live in the tenant's database.
    with shared_reading(auth.tenant.engine):
        try:
            seen = throttle.check(keys, caller.now)
        except RateLimitError:
            return None  # the full path refuses it, and records that it did
        stamp, second_factor = auth.mfa.stamp_and_second_factor(uid, auth.tenant.access_cache)
    if found.stamp != stamp or second_factor:
        passwords.forget(tenant, uid, caller.ip, password)
        return None
    now = caller.now.timestamp()
    if found.assessment_due(now):
        if not _risk_allows(auth, found.login, uid, caller):
            return None  # the full path refuses it, and records that it did
        passwords.assessed(tenant, uid, caller.ip, password, now)
    throttle.succeeded(keys, caller.now, seen)
    return ApiIdentity(uid, None)


def _risk_allows(auth: TenantAuth, login: str, uid: int, caller: Caller) -> bool:
    """The risk engine's word before the password, as the sign-in flow asks it for an RPC
    attempt (`ApiAuthenticator.password_or_key`): address bans, a tenant in defensive mode,
    whatever it refuses or would challenge (a program cannot answer a challenge)."""
    risk = auth.login.risk
    if risk is None:
        return True
    signal = risk.signal(
        login=login,
        ip=caller.ip,
        user_agent=RPC_AGENT,
        device_id=None,
        now=caller.now,
        uid=uid,
        device_known=False,
        channel="rpc",
    )
    assessment = risk.before(signal)
    return not (refused(assessment) or challenged(assessment))


def _rpc_methods(auth: TenantAuth, model: str) -> frozenset[str]:
    registry = auth.tenant.registry
    return registry[model].rpc_methods() if model in registry else frozenset()


# -- db --------------------------------------------------------------------------------------


def _db(services: Services, caller: Caller, method: str, params: list[Any], list_db: bool) -> Any:
    if method == "server_version":
        return SERVER_VERSION
    if method == "list":
        if not list_db:
            raise FaultError(access_denied(NO_DB_LISTING))
        return services.tenants_for_host(caller.host)
    # Creating, dropping, dumping or restoring a database is an operator's job (DESIGN.md).
    raise FaultError(access_denied(NO_DB_MANAGEMENT))


def _arity(name: str, params: list[Any], low: int, high: int | None, shape: str) -> None:
    if len(params) < low or (high is not None and len(params) > high):
        raise ValidationError(f"{name} takes ({shape}).")
