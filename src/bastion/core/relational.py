"""Relational fields (many2one, one2many, many2many) and non-column ones (binary, password)."""

from __future__ import annotations

import base64
import binascii
from typing import Any, ClassVar

import sqlalchemy as sa

from bastion.core.fields import INT32_MAX, Field

ONDELETE = frozenset({"set null", "restrict", "cascade"})


#: Ids are 32-bit (Odoo's too): PostgreSQL's integer columns refuse more with a driver error.
MAX_ID = INT32_MAX


def _positive_id(field: Field, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise field.invalid("expects a record id (a positive whole number)")
    return value


class Many2one(Field):
    type = "many2one"
    relational = True
    operators = Field.operators | {"like", "ilike", "=like", "=ilike", "child_of"}

    def __init__(
        self, comodel: str, string: str | None = None, *, ondelete: str = "set null", **kw: Any
    ) -> None:
        kw.setdefault("index", True)
        super().__init__(string, **kw)
        if ondelete not in ONDELETE:
            raise ValueError(f"ondelete must be one of {sorted(ONDELETE)}")
        self.comodel = comodel
        self.ondelete = ondelete

    def sa_type(self) -> sa.types.TypeEngine[Any]:
        return sa.Integer()

    def column(self) -> sa.Column[Any]:
        table = self.comodel.replace(".", "_")
        fk = sa.ForeignKey(f"{table}.id", ondelete=self.ondelete.upper(), use_alter=True)
        return sa.Column(self.name, sa.Integer(), fk, nullable=True, index=self.index)

    def to_db(self, value: Any) -> Any:
        if value is None or value is False:
            return None
        return _positive_id(self, value)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["relation"] = self.comodel
        d["sortable"] = True
        return d


class _X2many(Field):
    store: ClassVar[bool] = False
    relational = True
    operators = frozenset({"=", "!=", "in", "not in"})

    comodel: str

    def to_db(self, value: Any) -> Any:
        raise self.invalid("is written with commands, not a plain value")

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["relation"] = self.comodel
        d["sortable"] = False
        return d


class One2many(_X2many):
    type = "one2many"

    def __init__(self, comodel: str, inverse_name: str, string: str | None = None, **kw: Any):
        super().__init__(string, **kw)
        self.comodel = comodel
        self.inverse_name = inverse_name

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["relation_field"] = self.inverse_name
        return d


class Many2many(_X2many):
    type = "many2many"

    def __init__(
        self,
        comodel: str,
        relation: str | None = None,
        column1: str | None = None,
        column2: str | None = None,
        string: str | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(string, **kw)
        self.comodel = comodel
        self._relation = relation
        self._column1 = column1
        self._column2 = column2

    @property
    def relation(self) -> str:
        if self._relation:
            return self._relation
        tables = sorted([self.model_name.replace(".", "_"), self.comodel.replace(".", "_")])
        return f"{tables[0]}_{tables[1]}_rel"

    @property
    def column1(self) -> str:
        return self._column1 or f"{self.model_name.replace('.', '_')}_id"

    @property
    def column2(self) -> str:
        return self._column2 or f"{self.comodel.replace('.', '_')}_id"


class Binary(Field):
    """Content kept in `ir.attachment`, read and written as base64 text, as Odoo does."""

    type = "binary"
    store: ClassVar[bool] = False
    operators = frozenset({"=", "!="})
    MAX_BYTES = 25 * 1024 * 1024

    def __init__(self, string: str | None = None, **kw: Any) -> None:
        kw.setdefault("tracked", False)
        super().__init__(string, **kw)

    def to_db(self, value: Any) -> Any:
        if value is None or value is False:
            return None
        if isinstance(value, bytes):
            raw = value
        elif isinstance(value, str):
            try:
                raw = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise self.invalid("expects base64-encoded content") from None
        else:
            raise self.invalid("expects base64-encoded content")
        if len(raw) > self.MAX_BYTES:
            raise self.invalid(f"is limited to {self.MAX_BYTES // (1024 * 1024)} MiB")
        return raw

    def to_read(self, value: Any) -> Any:
        if value is None:
            return None
        return base64.b64encode(value).decode("ascii")


class Password(Field):
    """A write-only secret: hashed on write, never read back, never searched, always redacted."""

    type = "password"
    operators = frozenset()

    def __init__(self, string: str | None = None, **kw: Any) -> None:
        kw.setdefault("tracked", False)
        super().__init__(string, **kw)

    @property
    def sensitive(self) -> bool:
        return True

    def sa_type(self) -> sa.types.TypeEngine[Any]:
        return sa.String()

    def to_db(self, value: Any) -> Any:
        if value is None or value is False:
            return None
        if not isinstance(value, str) or not value:
            raise self.invalid("expects text")
        if "\x00" in value:
            raise self.invalid("cannot contain the NUL character")
        # imported late: hashing is slow to set up and most processes never set a password
        from bastion.crypto.passwords import hash_password

        return hash_password(value)
