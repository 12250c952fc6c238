"""Identity services of one tenant, built from `Settings`: stores in the tenant's database, or
in Redis when `BASTION_REDIS_URL` is set (sessions and throttles shared by every worker); the
sign-in flow wired to the tenant's risk engine, e-mail codes and the Odoo-format auth log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from bastion.auth.admission import HashGate
from bastion.auth.apiauth import ApiAuthenticator
from bastion.auth.apikeys import ApiKeys
from bastion.auth.authlog import OdooAuthLog
from bastion.auth.counters import CounterStore, RedisCounterStore, SqlCounterStore
from bastion.auth.devices import Devices
from bastion.auth.emailcodes import EmailCodes
from bastion.auth.login import LoginFlow
from bastion.auth.loginrisk import LoginRisk
from bastion.auth.mail import Mailer, OutboxMailer, SmtpMailer
from bastion.auth.mfa import Mfa
from bastion.auth.passkeys import Passkeys
from bastion.auth.policy import PasswordPolicy
from bastion.auth.recovery import RecoveryCodes
from bastion.auth.riskpolicy import load_risk_policy
from bastion.auth.schema import create_auth_tables
from bastion.auth.sessions import RedisSessionStore, SessionManager, SessionStore, SqlSessionStore
from bastion.auth.throttle import LoginThrottle
from bastion.auth.totp import TotpFactor
from bastion.bootstrap.risk import TenantRisk, build_tenant_risk
from bastion.core.clock import Clock
from bastion.core.events import AuditEvent
from bastion.core.tenant import Tenant
from bastion.crypto.keyfile import load_or_create_key
from bastion.crypto.sealing import Sealer
from bastion.crypto.signing import Signer
from bastion.risk.geo import GeoResolver
from bastion.settings import Settings

#: The sender of development mail (the outbox) when BASTION_MAIL_FROM is not set.
OUTBOX_SENDER = "bastion@localhost"


@dataclass(frozen=True, slots=True)
class AuthKeys:
    """Server keys of the identity layer, kept in the data directory's owner-only key folder."""

    secrets: bytes  # seals MFA secrets at rest
    auth: bytes  # signs device cookies and anonymous CSRF tokens; peppers recovery codes

    def __repr__(self) -> str:
        return "AuthKeys(***)"

    @classmethod
    def load(cls, settings: Settings) -> AuthKeys:
        keys = settings.keys_dir
        return cls(
            secrets=load_or_create_key(keys / "secrets.key"),
            auth=load_or_create_key(keys / "auth.key"),
        )

    def signer(self, purpose: str) -> Signer:
        return Signer([self.auth], purpose)


@dataclass(frozen=True, slots=True)
class TenantAuth:
    """Everything the edge needs to sign people in to one tenant."""

    tenant: Tenant
    sessions: SessionManager
    login: LoginFlow
    devices: Devices
    apikeys: ApiKeys
    totp: TotpFactor
    recovery: RecoveryCodes
    passkeys: Passkeys
    mfa: Mfa
    policy: PasswordPolicy
    api: ApiAuthenticator
    risk: TenantRisk
    codes: EmailCodes


def redis_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def mailer_for(settings: Settings, clock: Clock | None = None) -> Mailer:
    """SMTP when `BASTION_SMTP_URL` is set, else .eml files in the data directory's outbox."""
    if settings.smtp_url is not None and settings.mail_from is not None:
        return SmtpMailer(settings.smtp_url, settings.mail_from, clock=clock)
    return OutboxMailer(
        settings.outbox_dir, sender=settings.mail_from or OUTBOX_SENDER, clock=clock
    )


def auth_log_for(settings: Settings) -> OdooAuthLog | None:
    """The Odoo-format auth log of `BASTION_AUTH_LOG`, or None when it is off."""
    return OdooAuthLog(settings.auth_log) if settings.auth_log is not None else None


def build_tenant_auth(
    settings: Settings,
    tenant: Tenant,
    keys: AuthKeys,
    redis: Any | None = None,
    *,
    purge: bool = False,
    gate: HashGate | None = None,
    geo: GeoResolver | None = None,
    mailer: Mailer | None = None,
    auth_log: OdooAuthLog | None = None,
) -> TenantAuth:
    """`geo`, `mailer` and `auth_log` are the process's (see `Services`); without them: no
    geolocation (networks only), the mailer and auth log `settings` name."""
    create_auth_tables(tenant.engine)
    engine: sa.Engine = tenant.engine
    counters: CounterStore
    store: SessionStore
    if redis is not None:
        prefix = f"bastion:{tenant.name}:"
        counters = RedisCounterStore(redis, prefix + "counter:")
        store = RedisSessionStore(redis, prefix + "session:")
    else:
        counters = SqlCounterStore(engine)
        store = SqlSessionStore(engine)
        if purge:
            # Expired rows would otherwise pile up: clear them as each worker starts.
            now = tenant.clock.now()
            counters.purge(now.timestamp())
            store.purge(now)
    sessions = SessionManager(
        store,
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=timedelta(hours=settings.session_absolute_hours),
    )
    devices = Devices(engine)
    totp = TotpFactor(engine, Sealer([keys.secrets], "mfa-secret"))
    recovery = RecoveryCodes(engine, keys.auth)
    passkeys = Passkeys(engine)
    mfa = Mfa(totp, recovery, passkeys)
    policy = PasswordPolicy(min_length=settings.password_min_length)
    risk = build_tenant_risk(tenant, redis, purge=purge)
    codes = EmailCodes(
        engine, mailer if mailer is not None else mailer_for(settings, tenant.clock), keys.auth
    )
    flow = LoginFlow(
        tenant,
        throttle=LoginThrottle(counters),
        devices=devices,
        mfa=mfa,
        policy=policy,
        gate=gate,
        risk=LoginRisk(risk.engine, tenant.name, geo=geo, policy=lambda: load_risk_policy(tenant)),
        codes=codes,
        auth_log=auth_log if auth_log is not None else auth_log_for(settings),
    )
    apikeys = ApiKeys(engine)
    return TenantAuth(
        tenant,
        sessions,
        flow,
        devices,
        apikeys,
        totp,
        recovery,
        passkeys,
        mfa,
        policy,
        ApiAuthenticator(flow, apikeys),
        risk,
        codes,
    )


def auth_for(settings: Settings, tenant: Tenant) -> TenantAuth:
    """Identity services for an operator's command (the CLI), with the server's stores."""
    redis = redis_client(settings.redis_url) if settings.redis_url else None
    return build_tenant_auth(settings, tenant, AuthKeys.load(settings), redis)


def revoke_sessions(settings: Settings, tenant: Tenant, uid: int, reason: str) -> int:
    """End every session of a user (password set, account disabled, operator's sign-out)."""
    auth = auth_for(settings, tenant)
    count = auth.sessions.revoke_user(uid)
    with tenant.transaction() as tx:
        tx.events.append(
            AuditEvent("admin", tenant.name, tenant.clock.now(), None, reason=f"{reason}: {count}")
        )
    return count
