"""The employees module: a directory everyone reads, private fields only HR officers see.

A plain internal user reads only their own employee record; HR officers read every employee of
their companies and change them; HR administrators may also delete them.
"""

from __future__ import annotations

from bastion.apps.hr import demo
from bastion.apps.hr.models import OFFICER, Employee, Users
from bastion.core.module import Access, GroupDef, Module, Ref, Rule

USER = "base.group_user"
MANAGER = "hr.group_hr_manager"

MODULE = Module(
    name="hr",
    depends=("base",),
    summary="Employees and their private information.",
    models=(Employee, Users),
    groups=(
        GroupDef(
            OFFICER,
            "Employees / Officer",
            implied=(USER,),
            comment="Reads and changes every employee of their companies, private fields too.",
        ),
        GroupDef(
            MANAGER,
            "Employees / Administrator",
            implied=(OFFICER,),
            comment="Officer rights, and may delete employees.",
        ),
    ),
    access=(
        Access("hr.employee", USER, read=True),
        Access("hr.employee", OFFICER, read=True, write=True, create=True),
        Access("hr.employee", MANAGER, read=True, write=True, create=True, unlink=True),
    ),
    rules=(
        Rule(
            "hr.hr_employee_own_rule",
            "hr.employee",
            [("user_id", "=", Ref("user.id"))],
            groups=(USER,),
        ),
        Rule("hr.hr_employee_officer_rule", "hr.employee", [(1, "=", 1)], groups=(OFFICER,)),
    ),
    demo=demo.load,
)
