"""The base module: companies, partners, users, groups, access rights and record rules."""

from __future__ import annotations

from bastion.apps.base import data, demo
from bastion.apps.base.models import (
    Company,
    Groups,
    ModelAccess,
    ModelData,
    ModuleRecord,
    Partner,
    Rule,
    Users,
)
from bastion.core.module import Access, GroupDef, Module, Ref
from bastion.core.module import Rule as RuleDef

USER = "base.group_user"
SYSTEM = "base.group_system"

_ADMIN_ONLY = ("ir.model.access", "ir.rule", "ir.model.data", "ir.module.module")

MODULE = Module(
    name="base",
    summary="Companies, contacts, users, groups and access control.",
    data=data.load,
    demo=demo.load,
    models=(Company, Partner, Groups, Users, ModelAccess, Rule, ModelData, ModuleRecord),
    groups=(
        GroupDef(USER, "Internal user", comment="Every employee who signs in."),
        GroupDef(SYSTEM, "Administrator", implied=(USER,), comment="Full administration."),
    ),
    access=(
        Access("res.partner", USER, read=True, write=True, create=True),
        Access("res.partner", SYSTEM, read=True, write=True, create=True, unlink=True),
        Access("res.company", USER, read=True),
        Access("res.company", SYSTEM, read=True, write=True, create=True, unlink=True),
        Access("res.users", USER, read=True),
        Access("res.users", SYSTEM, read=True, write=True, create=True, unlink=True),
        Access("res.groups", USER, read=True),
        Access("res.groups", SYSTEM, read=True, write=True, create=True, unlink=True),
        *(Access(m, SYSTEM, read=True, write=True, create=True, unlink=True) for m in _ADMIN_ONLY),
    ),
    rules=(RuleDef("base.res_company_rule", "res.company", [("id", "in", Ref("company_ids"))]),),
)
