"""Field declarations: what a model's attributes are, how values are checked and stored.

Scalar fields live here; relational, binary and password fields in `relational.py`.
Each field converts an incoming value with `to_db` (raising `ValidationError` with a message
that names the field) and an outgoing one with `to_read`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from bastion.errors import ValidationError

if TYPE_CHECKING:
    from bastion.core.environment import Environment

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
JSON_MAX_DEPTH = 32
MAGIC_FIELDS = ("id", "create_uid", "create_date", "write_uid", "write_date")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", re.ASCII)


class Field:
    """Base of every field. Options follow DESIGN.md's data core semantics."""

    type: ClassVar[str] = "field"
    store: ClassVar[bool] = True
    relational: ClassVar[bool] = False
    #: operators a domain may apply to this field
    operators: ClassVar[frozenset[str]] = frozenset(
        {"=", "!=", "<", ">", "<=", ">=", "in", "not in"}
    )

    name: str
    model_name: str

    def __init__(
        self,
        string: str | None = None,
        *,
        required: bool = False,
        readonly: bool = False,
        index: bool = False,
        unique: bool = False,
        groups: str | None = None,
        pii: bool = False,
        tracked: bool = True,
        default: Any = None,
        help: str | None = None,
    ) -> None:
        self.string = string
        self.required = required
        self.readonly = readonly
        self.index = index or unique
        self.unique = unique
        self.groups: tuple[str, ...] = tuple(
            g.strip() for g in (groups or "").split(",") if g.strip()
        )
        self.pii = pii
        self.tracked = tracked
        self.default = default
        self.help = help

    def __set_name__(self, owner: object, name: str) -> None:
        self.name = name
        self.model_name = str(getattr(owner, "_name", "") or getattr(owner, "_inherit", ""))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {getattr(self, 'model_name', '?')}.{self.name}>"

    @property
    def label(self) -> str:
        return self.string or self.name.replace("_", " ").capitalize()

    @property
    def sensitive(self) -> bool:
        """Values never written to logs or the audit trail in clear."""
        return self.pii

    def sa_type(self) -> sa.types.TypeEngine[Any]:
        raise TypeError(f"{type(self).__name__} has no column")

    def column(self) -> sa.Column[Any]:
        return sa.Column(
            self.name, self.sa_type(), nullable=True, index=self.index, unique=self.unique or None
        )

    def default_value(self, env: Environment) -> Any:
        if callable(self.default):
            return self.default(env)
        return self.default

    def invalid(self, what: str) -> ValidationError:
        return ValidationError(f"Field '{self.name}' of '{self.model_name}' {what}.")

    def to_db(self, value: Any) -> Any:
        """Check an incoming value and convert it to what the column stores."""
        return value

    def to_read(self, value: Any) -> Any:
        return value

    def describe(self) -> dict[str, Any]:
        """The `fields_get` entry, in Odoo's shape."""
        return {
            "type": self.type,
            "string": self.label,
            "required": self.required,
            "readonly": self.readonly,
            "store": self.store,
            "help": self.help or "",
            "sortable": self.store and not self.relational,
            "searchable": True,
        }


def check_text(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None when it can."""
    # PostgreSQL cannot store NUL in text; refusing it everywhere keeps both backends alike.
    if "\x00" in value:
        return "cannot contain the NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (it holds a lone surrogate)"
    return None


def _reject_nul(field: Field, value: str) -> str:
    problem = check_text(value)
    if problem is not None:
        raise field.invalid(problem)
    return value


class Char(Field):
    type = "char"
    operators = Field.operators | {"like", "ilike", "=like", "=ilike"}

    def __init__(self, string: str | None = None, *, size: int | None = None, **kw: Any) -> None:
        super().__init__(string, **kw)
        self.size = size

    def sa_type(self) -> sa.types.TypeEngine[Any]:
        return sa.String(self.size) if self.size else sa.String()

    def to_db(self, value: Any) -> Any:
        if value is None or value is False:
            return None
        if not isinstance(value, str):
            raise self.invalid("expects text")
        if self.size is not None and len(value) > self.size:
            raise self.invalid(f"is limited to {self.size} characters")
        return _reject_nul(self, value)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        if self.size:
            d["size"] = self.size
        return d


class Text(Char):
    type = "text"

    def sa_type(self) -> sa.types.TypeEngine[Any]:
        return sa.Text()


class Integer(Field):
    type = "integer"

    def sa_type(self) -> sa.types.TypeEngine[Any]:
        return sa.Integer()

    def to_db(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.invalid("expects a whole number")
        if not INT32_MIN <= value <= INT32_MAX:
            raise self.invalid("is out of range for a 32-bit integer")
        return value


class Float(Field):
    type = "float"

    def sa_type(self) -> sa.types.TypeEngine[Any]:
        return sa.Float()

    def to_db(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.invalid("expects a number")
        number = float(value)
        if not math.isfinite(number):
            raise self.invalid("expects a finite number")
        return number


class MonetaryType(TypeDecorator[Decimal]):
    """Exact amounts stored as integer minor units (cents): same on SQLite and PostgreSQL."""

    impl = sa.BigInteger
    cache_ok = True

    def __init__(self, digits: int = 2) -> None:
        super().__init__()
        self.digits = digits

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> int | None:
        if value is None:
            return None
        return int(Decimal(value).scaleb(self.digits).to_integral_value(ROUND_HALF_EVEN))

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(int(value)).scaleb(-self.digits)


MONEY_LIMIT = Decimal(10) ** 15


class Monetary(Field):
    type = "monetary"

    def __init__(self, string: str | None = None, *, digits: int = 2, **kw: Any) -> None:
        super().__init__(string, **kw)
        self.digits = digits

    def sa_type(self) -> sa.types.TypeEngine[Any]:
        return MonetaryType(self.digits)

    def to_db(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
            raise self.invalid("expects an amount")
        try:
            amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        except (InvalidOperation, ValueError):
            raise self.invalid("expects an amount") from None
        if not amount.is_finite() or abs(amount) >= MONEY_LIMIT:
            raise self.invalid("expects a finite amount below 10^15")
        return amount.quantize(Decimal(1).scaleb(-self.digits), ROUND_HALF_EVEN)


class Boolean(Field):
    type = "boolean"
    operators = frozenset({"=", "!=", "in", "not in"})

    def sa_type(self) -> sa.types.TypeEngine[Any]:
        return sa.Boolean()

    def to_db(self, value: Any) -> Any:
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.invalid("expects true or false")
        return value

    def to_read(self, value: Any) -> Any:
        return bool(value)


class Date(Field):
    type = "date"

    def sa_type(self) -> sa.types.TypeEngine[Any]:
        return sa.Date()

    def to_db(self, value: Any) -> Any:
        if value is None or value is False:
            return None
        if isinstance(value, dt.datetime):
            raise self.invalid("expects a date, not a date and time")
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str) and _DATE_RE.fullmatch(value):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise self.invalid("expects a date as YYYY-MM-DD")


class Datetime(Field):
    type = "datetime"

    def sa_type(self) -> sa.types.TypeEngine[Any]:
        return sa.DateTime()

    def to_db(self, value: Any) -> Any:
        if value is None or value is False:
            return None
        if isinstance(value, str):
            if not _DATETIME_RE.fullmatch(value):
                raise self.invalid("expects a date and time as YYYY-MM-DD HH:MM:SS")
            try:
                value = dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
            except ValueError:
                raise self.invalid("expects a date and time as YYYY-MM-DD HH:MM:SS") from None
        if isinstance(value, dt.datetime):
            if value.tzinfo is not None:
                value = value.astimezone(dt.UTC).replace(tzinfo=None)
            return value.replace(microsecond=0)
        raise self.invalid("expects a date and time as YYYY-MM-DD HH:MM:SS")


class Selection(Field):
    type = "selection"
    operators = Field.operators | {"like", "ilike", "=like", "=ilike"}

    def __init__(
        self, selection: Sequence[tuple[str, str]], string: str | None = None, **kw: Any
    ) -> None:
        super().__init__(string, **kw)
        self.selection = tuple(selection)
        self.keys = frozenset(key for key, _ in self.selection)

    def sa_type(self) -> sa.types.TypeEngine[Any]:
        return sa.String(max(len(k) for k in self.keys))

    def to_db(self, value: Any) -> Any:
        if value is None or value is False:
            return None
        if not isinstance(value, str) or value not in self.keys:
            allowed = ", ".join(sorted(self.keys))
            raise self.invalid(f"expects one of: {allowed}")
        return value

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["selection"] = [list(pair) for pair in self.selection]
        return d


def _json_depth(value: Any, depth: int = 0) -> int:
    if depth > JSON_MAX_DEPTH:
        return depth
    if isinstance(value, dict):
        return max((_json_depth(v, depth + 1) for v in value.values()), default=depth + 1)
    if isinstance(value, list):
        return max((_json_depth(v, depth + 1) for v in value), default=depth + 1)
    return depth


class Json(Field):
    type = "json"
    operators = frozenset()

    def sa_type(self) -> sa.types.TypeEngine[Any]:
        return sa.JSON(none_as_null=True)

    def to_db(self, value: Any) -> Any:
        if value is None:
            return None
        if _json_depth(value) > JSON_MAX_DEPTH:
            raise self.invalid(f"nests deeper than {JSON_MAX_DEPTH} levels")
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise self.invalid("expects a JSON value") from None
        if "\\u0000" in text:
            raise self.invalid("cannot contain the NUL character")
        return json.loads(text)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["sortable"] = False
        d["searchable"] = False
        return d


Default = Callable[["Environment"], Any]
