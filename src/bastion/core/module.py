"""What a business module declares: models, groups, access rows, record rules, data and demo.

Access and rules are data, loaded into the tenant's `ir_model_access` and `ir_rule` tables at
install; nothing here is executed as code except the module's own `data`/`demo` functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bastion.core.environment import Environment
    from bastion.core.model import Model

#: The only names a rule domain may refer to (their values come from the acting user).
REF_NAMES = frozenset({"user.id", "user.company_id", "user.company_ids", "company_ids"})


@dataclass(frozen=True, slots=True)
class Ref:
    """A value in a rule domain resolved per user, e.g. `Ref("user.id")`. Stored as JSON."""

    name: str

    def __post_init__(self) -> None:
        if self.name not in REF_NAMES:
            raise ValueError(
                f"unknown rule reference {self.name!r}; use one of {sorted(REF_NAMES)}"
            )

    def to_json(self) -> dict[str, str]:
        return {"ref": self.name}


@dataclass(frozen=True, slots=True)
class GroupDef:
    """A security group, named by xmlid (`module.group_name`), with the groups it implies."""

    xmlid: str
    name: str
    implied: tuple[str, ...] = ()
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Access:
    """One model access row: who (a group xmlid, or None for every user) may do what."""

    model: str
    group: str | None
    read: bool = False
    write: bool = False
    create: bool = False
    unlink: bool = False


@dataclass(frozen=True, slots=True)
class Rule:
    """A record rule. No groups: global (AND-ed). With groups: OR-ed among the user's groups."""

    xmlid: str
    model: str
    domain: Sequence[Any]
    groups: tuple[str, ...] = ()
    read: bool = True
    write: bool = True
    create: bool = True
    unlink: bool = True


DataLoader = Callable[["Environment"], None]
DemoLoader = Callable[["Environment", "DemoOptions"], None]


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """How much demo data to make, and the passwords of the demo users by login."""

    passwords: dict[str, str] = field(default_factory=dict)
    scale: int = 1


@dataclass(frozen=True, slots=True)
class Module:
    """A business module's manifest."""

    name: str
    depends: tuple[str, ...] = ()
    models: tuple[type[Model], ...] = ()
    groups: tuple[GroupDef, ...] = ()
    access: tuple[Access, ...] = ()
    rules: tuple[Rule, ...] = ()
    data: DataLoader | None = None
    demo: DemoLoader | None = None
    summary: str = ""
