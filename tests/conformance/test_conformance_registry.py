"""Registry-wide conformance for a tenant with every business module installed:

* every model has at least one access row (deny by default must be a decision, not an accident);
* every record rule compiles, and runs, for a user of every group;
* every model's RPC surface is exactly the allow-list plus what it declares, and nothing private;
* every field whose name says "secret" is a Password, or pii, or limited to groups, and the
  audit trail's redaction hides it (and every pii/encrypted field).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from bastion.audit.redaction import REDACTED, is_secret_name, redact
from bastion.bootstrap.tenants import create_tenant, drop_tenant
from bastion.bootstrap.users import add_user, all_group_xmlids
from bastion.core import domain as dom
from bastion.core.access import resolve_refs, rights_table
from bastion.core.clock import FixedClock
from bastion.core.events import AuditEvent
from bastion.core.model import RPC_METHODS, Model
from bastion.core.order import parse_order
from bastion.core.registry import load_module
from bastion.core.relational import Password
from bastion.core.tenant import Tenant
from bastion.errors import AccessError, ConfigError
from bastion.settings import Settings
from support.postgres import require_postgres

#: The modules checked, all of them shipped; one that fails to import fails the suite.
MODULES = ("base", "contacts", "sales", "hr")
#: The allow-list of DESIGN.md ("RPC surface").
DESIGN_RPC = {
    "search", "search_read", "read", "create", "write", "unlink", "search_count", "fields_get",
    "check_access_rights", "name_search",
}  # fmt: skip
PASSWORD = "correct horse battery staple"


def _importable(name: str) -> bool:
    try:
        load_module(name)
    except ConfigError:
        return False
    return True


AVAILABLE = tuple(m for m in MODULES if _importable(m))
MISSING = tuple(m for m in MODULES if m not in AVAILABLE)


@dataclass(frozen=True)
class Installed:
    tenant: Tenant
    users: dict[str, int]  # group xmlid -> a user in only that group ("" -> no group)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def installed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Installed]:
    url = require_postgres() if request.param == "postgresql" else None
    settings = Settings(data_dir=tmp_path_factory.mktemp("conformance") / "var", database_url=url)
    name = f"bastion_test_{uuid.uuid4().hex[:12]}"
    tenant = create_tenant(
        settings,
        name,
        modules=AVAILABLE,
        clock=FixedClock(dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)),
    )
    try:
        users = {"": add_user(tenant, "no_group", PASSWORD, groups=())}
        for n, xmlid in enumerate(all_group_xmlids(tenant)):
            users[xmlid] = add_user(tenant, f"member_{n}", PASSWORD, groups=[xmlid])
        yield Installed(tenant, users)
    finally:
        tenant.dispose()
        drop_tenant(settings, name)


def models(installed: Installed) -> list[type[Model]]:
    return list(installed.tenant.registry)


def test_every_listed_module_is_available() -> None:
    assert not MISSING, f"modules that do not import: {', '.join(MISSING)}"
    assert AVAILABLE == MODULES


def test_every_model_has_an_access_row(installed: Installed) -> None:
    with installed.tenant.transaction() as tx:
        rights = rights_table(tx.access_data())
    missing = [m._name for m in models(installed) if not rights.get(m._name)]
    assert missing == []


def test_every_access_row_names_a_known_model(installed: Installed) -> None:
    with installed.tenant.transaction() as tx:
        rights = rights_table(tx.access_data())
    assert set(rights) <= {m._name for m in models(installed)}


def test_every_rule_names_a_known_model_and_valid_modes(installed: Installed) -> None:
    names = {m._name for m in models(installed)}
    with installed.tenant.transaction() as tx:
        rules = [r for rows in tx.access_data().rules.values() for r in rows]
    assert rules
    for rule in rules:
        assert rule.model in names
        assert rule.modes <= {"read", "write", "create", "unlink"}


def test_every_rule_compiles_and_runs_for_every_group(installed: Installed) -> None:
    registry = installed.tenant.registry
    with installed.tenant.transaction() as tx:
        rules = [r for rows in tx.access_data().rules.values() for r in rows]
        for uid in installed.users.values():
            env = tx.env(uid)
            assert env.user is not None
            for rule in rules:
                model = registry[rule.model]
                node = dom.parse(resolve_refs(rule.domain, env.user, env.company_ids))
                condition = env.compiler.where(model, node)
                query = sa.select(sa.func.count()).select_from(model._table).where(condition)
                assert env.conn.execute(query).scalar() >= 0
            for model in registry:
                for operation in ("read", "write", "create", "unlink"):
                    node = env.policy.rule_domain(model._name, operation)
                    env.compiler.where(model, node)  # the combined rules compile too


def test_every_model_can_be_searched_by_whoever_may_read_it(installed: Installed) -> None:
    with installed.tenant.transaction() as tx:
        for uid in installed.users.values():
            env = tx.env(uid)
            for model in installed.tenant.registry:
                if env.policy.model_allowed(model._name, "read"):
                    assert env[model._name].search_count([]) >= 0
                    env[model._name].fields_get()
                else:
                    with pytest.raises(AccessError):
                        env[model._name].search([])


def test_every_default_order_is_valid(installed: Installed) -> None:
    with installed.tenant.transaction() as tx:
        policy = tx.system_env("check default orders").policy
        for model in installed.tenant.registry:
            assert parse_order(model, None, policy)


def test_rpc_methods_are_the_allow_list(installed: Installed) -> None:
    assert RPC_METHODS == DESIGN_RPC
    for model in models(installed):
        methods = model.rpc_methods()
        assert methods == RPC_METHODS | model._rpc, model._name
        assert not [m for m in methods if m.startswith("_")], model._name
        for name in methods:
            assert callable(getattr(model, name, None)), f"{model._name}.{name} does not exist"


def test_no_model_exposes_private_or_elevating_names(installed: Installed) -> None:
    forbidden = {"sudo", "elevated", "with_user", "with_context", "env", "browse"}
    for model in models(installed):
        assert not model.rpc_methods() & forbidden, model._name


def _sensitive(model: type[Model]) -> frozenset[str]:
    """What the ORM tells the audit trail to redact for `model` (orm_write._emit)."""
    return frozenset(n for n, f in model._fields.items() if f.sensitive)


def test_fields_named_like_secrets_are_protected(installed: Installed) -> None:
    for model in models(installed):
        for name, f in model._fields.items():
            if is_secret_name(name):
                assert isinstance(f, Password) or f.pii or f.groups, (
                    f"{model._name}.{name} looks secret but is an ordinary field"
                )


@pytest.mark.parametrize("action", ["create", "write", "unlink"])
def test_sensitive_fields_are_redacted_from_the_audit_trail(
    installed: Installed, action: str
) -> None:
    checked = 0
    for model in models(installed):
        sensitive = _sensitive(model)
        secret_like = {n for n in model._fields if is_secret_name(n)}
        for name in sensitive | secret_like:
            value = ["old value", "new value"] if action == "write" else "clear value"
            event = AuditEvent(
                action,
                "conformance",
                dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
                1,
                model=model._name,
                res_ids=(7,),
                changes={"7": {name: value, "id_like": 7}},
                sensitive=sensitive,
            )
            redacted = redact(event)["7"]
            expected = [REDACTED, REDACTED] if action == "write" else REDACTED
            assert redacted[name] == expected, f"{model._name}.{name}"
            assert redacted["id_like"] == 7
            checked += 1
    assert checked, "no sensitive field at all: the check would be empty"


def test_password_fields_are_write_only(installed: Installed) -> None:
    with installed.tenant.transaction() as tx:
        admin = tx.system_env("check password fields")
        for model in models(installed):
            for name, f in model._fields.items():
                if isinstance(f, Password):
                    assert name not in admin[model._name].fields_get()
                    assert f.sensitive
                    assert not f.tracked
