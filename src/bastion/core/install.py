"""Install modules into a tenant: tables, groups, access rows, record rules, data and demo.

Runs as the system (an elevated environment whose every change is audited).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from bastion.core.access_cache import install_stamp
from bastion.core.environment import Environment
from bastion.core.module import DemoOptions, Module, Ref
from bastion.core.schema import sync_schema
from bastion.core.tenant import Tenant
from bastion.errors import ConfigError, ValidationError


def domain_to_json(domain: Any) -> Any:
    """Rule domains are stored as JSON; `Ref` markers become {"ref": name}."""
    if isinstance(domain, Ref):
        return domain.to_json()
    if isinstance(domain, list | tuple):
        return [domain_to_json(d) for d in domain]
    return domain


def ref(env: Environment, xmlid: str) -> int:
    """The id of the record named `module.name`."""
    module, _, name = xmlid.partition(".")
    table = env.registry["ir.model.data"]._table
    found = env.conn.execute(
        sa.select(table.c.res_id).where(table.c.module == module, table.c.name == name)
    ).scalar()
    if found is None:
        raise ValidationError(f"There is no record named '{xmlid}'.")
    return int(found)


def set_xmlid(env: Environment, xmlid: str, model: str, res_id: int) -> None:
    module, _, name = xmlid.partition(".")
    if not module or not name:
        raise ConfigError(f"'{xmlid}' is not a module.name identifier.")
    env["ir.model.data"].create({"module": module, "name": name, "model": model, "res_id": res_id})


def installed_modules(conn: sa.Connection) -> list[str]:
    inspector = sa.inspect(conn)
    if "ir_module_module" not in inspector.get_table_names():
        return []
    return list(conn.execute(sa.text("SELECT name FROM ir_module_module ORDER BY id")).scalars())


def _install_one(env: Environment, module: Module) -> None:
    for group in module.groups:
        gid = env["res.groups"].create({"name": group.name, "comment": group.comment})
        set_xmlid(env, group.xmlid, "res.groups", gid)
    for group in module.groups:
        if group.implied:
            implied = [ref(env, x) for x in group.implied]
            env["res.groups"].write(
                [ref(env, group.xmlid)], {"implied_ids": [(4, i) for i in implied]}
            )
    for access in module.access:
        if access.model not in env.registry:
            raise ConfigError(
                f"Module '{module.name}' grants access to unknown model '{access.model}'."
            )
        env["ir.model.access"].create(
            {
                "name": f"{access.model} / {access.group or 'everyone'}",
                "model": access.model,
                "group_id": ref(env, access.group) if access.group else False,
                "perm_read": access.read,
                "perm_write": access.write,
                "perm_create": access.create,
                "perm_unlink": access.unlink,
            }
        )
    for rule in module.rules:
        rid = env["ir.rule"].create(
            {
                "name": rule.xmlid,
                "model": rule.model,
                "domain": domain_to_json(rule.domain),
                "groups": [(6, 0, [ref(env, g) for g in rule.groups])],
                "perm_read": rule.read,
                "perm_write": rule.write,
                "perm_create": rule.create,
                "perm_unlink": rule.unlink,
            }
        )
        set_xmlid(env, rule.xmlid, "ir.rule", rid)
    for model in module.models:
        name = model._name or model._inherit
        composed = env.registry[name]
        if "company_id" in composed._fields and composed._check_company and model._name:
            rid = env["ir.rule"].create(
                {
                    "name": f"{name} multi-company",
                    "model": name,
                    "domain": [
                        "|",
                        ["company_id", "=", False],
                        ["company_id", "in", {"ref": "company_ids"}],
                    ],
                }
            )
            set_xmlid(env, f"{module.name}.{name.replace('.', '_')}_company_rule", "ir.rule", rid)
    if module.data is not None:
        module.data(env)
    env["ir.module.module"].create({"name": module.name, "summary": module.summary})


def install(
    tenant: Tenant, modules: Sequence[Module] | None = None, demo: DemoOptions | None = None
) -> list[str]:
    """Bring the tenant's schema up to date and install the modules not yet installed."""
    wanted = list(modules if modules is not None else tenant.registry.modules)
    with tenant.transaction() as tx:
        sync_schema(tx.conn, tenant.registry)
        install_stamp(tx.conn, tenant.registry)
        tenant.audit.install(tx.conn)
        done = set(installed_modules(tx.conn))
    new = [m for m in wanted if m.name not in done]
    for module in new:
        with tenant.system(f"install module {module.name}") as env:
            _install_one(env, module)
    if demo is not None:
        for module in new:
            if module.demo is not None:
                with tenant.system(f"demo data of module {module.name}") as env:
                    module.demo(env, demo)
    return [m.name for m in new]
