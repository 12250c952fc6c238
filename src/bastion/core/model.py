"""The model base class: declarations on the class, Odoo-shaped ORM methods on bound instances.

`env["res.partner"]` returns an instance bound to an environment; its methods take ids and
return plain data (ids, dicts), with Odoo's argument names so the RPC layer maps one to one.
Every public method goes through access control; there is no `sudo()`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, overload

import sqlalchemy as sa

from bastion.core import orm_read, orm_write
from bastion.core.fields import Field

if TYPE_CHECKING:
    from bastion.core.environment import Environment

#: Methods every model exposes to remote callers (DESIGN.md, "RPC surface").
RPC_METHODS = frozenset(
    {
        "search",
        "search_read",
        "read",
        "create",
        "write",
        "unlink",
        "search_count",
        "fields_get",
        "check_access_rights",
        "name_search",
    }
)

Domain = Sequence[Any]


class Model:
    """Subclass with `_name` to declare a model, or with `_inherit` to extend one."""

    _name: ClassVar[str] = ""
    _inherit: ClassVar[str] = ""
    _description: ClassVar[str] = ""
    _order: ClassVar[str] = "id"
    _rec_name: ClassVar[str | None] = None
    #: extra public methods this model lets remote callers use, on top of RPC_METHODS
    _rpc: ClassVar[frozenset[str]] = frozenset()
    #: add the global multi-company rule when the model has a company_id field
    _check_company: ClassVar[bool] = True
    _parent_name: ClassVar[str] = "parent_id"

    # set by the registry on the composed class
    _fields: ClassVar[dict[str, Field]]
    _table: ClassVar[sa.Table]
    _module: ClassVar[str]

    def __init__(self, env: Environment) -> None:
        self.env = env

    def __repr__(self) -> str:
        return f"<model {self._name} uid={self.env.uid}>"

    # -- metadata -------------------------------------------------------------------------

    @classmethod
    def rpc_methods(cls) -> frozenset[str]:
        return RPC_METHODS | cls._rpc

    @classmethod
    def rec_name(cls) -> str | None:
        if cls._rec_name:
            return cls._rec_name
        return "name" if "name" in cls._fields else None

    # -- reading --------------------------------------------------------------------------

    def search(
        self,
        domain: Domain = (),
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
    ) -> list[int]:
        return orm_read.search(self, domain, offset=offset, limit=limit, order=order)

    def search_count(self, domain: Domain = (), limit: int | None = None) -> int:
        return orm_read.search_count(self, domain, limit=limit)

    def read(
        self, ids: Sequence[int] | int, fields: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        return orm_read.read(self, ids, fields)

    def search_read(
        self,
        domain: Domain = (),
        fields: Sequence[str] | None = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
    ) -> list[dict[str, Any]]:
        return orm_read.search_read(self, domain, fields, offset=offset, limit=limit, order=order)

    def name_search(
        self,
        name: str = "",
        args: Domain | None = None,
        operator: str = "ilike",
        limit: int = 100,
    ) -> list[tuple[int, str]]:
        return orm_read.name_search(self, name, args or (), operator, limit)

    def fields_get(
        self, allfields: Sequence[str] | None = None, attributes: Sequence[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        return orm_read.fields_get(self, allfields, attributes)

    def check_access_rights(self, operation: str, raise_exception: bool = True) -> bool:
        return self.env.policy.check_model(self._name, operation, raise_exception=raise_exception)

    # -- writing --------------------------------------------------------------------------

    @overload
    def create(self, vals_list: Mapping[str, Any]) -> int: ...
    @overload
    def create(self, vals_list: Sequence[Mapping[str, Any]]) -> list[int]: ...

    def create(self, vals_list: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> int | list[int]:
        if isinstance(vals_list, Mapping):
            return orm_write.create(self, [vals_list])[0]
        return orm_write.create(self, vals_list)

    def write(self, ids: Sequence[int] | int, vals: Mapping[str, Any]) -> bool:
        orm_write.write(self, ids, vals)
        return True

    def unlink(self, ids: Sequence[int] | int) -> bool:
        orm_write.unlink(self, ids)
        return True

    # -- hooks for modules ----------------------------------------------------------------

    def _prepare_create(self, vals: dict[str, Any]) -> dict[str, Any]:
        """Adjust the values of a record about to be created (already checked)."""
        return vals

    def _prepare_write(self, vals: dict[str, Any]) -> dict[str, Any]:
        """Adjust the values about to be written (already checked)."""
        return vals

    def _after_change(self, ids: Sequence[int], fields: frozenset[str], action: str) -> None:
        """Called after create/write (and before unlink, with action 'unlink')."""
