"""The registry: modules in dependency order, their models composed, their tables declared."""

from __future__ import annotations

import copy
import importlib
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from bastion.core import attachments
from bastion.core.fields import MAGIC_FIELDS, Datetime, Field, Integer
from bastion.core.model import Model
from bastion.core.module import Module
from bastion.core.relational import Many2many, Many2one, One2many
from bastion.errors import ConfigError, ValidationError

MODEL_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
FIELD_NAME = re.compile(r"[a-z_][a-z0-9_]*")
MODULE_NAME = re.compile(r"[a-z][a-z0-9_]*")


def load_module(name: str) -> Module:
    """Import `bastion.apps.<name>` and return its `MODULE` manifest."""
    if not MODULE_NAME.fullmatch(name):
        raise ConfigError(f"'{name}' is not a valid module name.")
    try:
        package = importlib.import_module(f"bastion.apps.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"bastion.apps.{name}":
            raise  # the module exists but something it imports does not: a real bug
        raise ConfigError(f"There is no module named '{name}'.") from None
    manifest = getattr(package, "MODULE", None)
    if not isinstance(manifest, Module):
        raise ConfigError(f"Module '{name}' has no MODULE manifest.")
    return manifest


def resolve_modules(names: Iterable[str], extra: Sequence[Module] = ()) -> list[Module]:
    """The named modules, the `extra` ones, and their dependencies, dependencies first."""
    known = {m.name: m for m in extra}
    ordered: list[Module] = []
    state: dict[str, str] = {}

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise ConfigError(f"Modules depend on each other in a cycle: {' -> '.join(chain)}.")
        state[name] = "visiting"
        module = known.get(name) or load_module(name)
        known[name] = module
        for dep in module.depends:
            visit(dep, (*chain, dep))
        state[name] = "done"
        ordered.append(module)

    for name in [*names, *(m.name for m in extra)]:
        visit(name, (name,))
    return ordered


def _magic_fields() -> dict[str, Field]:
    fields: dict[str, Field] = {
        "id": Integer("ID", readonly=True),
        "create_uid": Many2one("res.users", "Created by", readonly=True, index=False),
        "create_date": Datetime("Created on", readonly=True),
        "write_uid": Many2one("res.users", "Last updated by", readonly=True, index=False),
        "write_date": Datetime("Last updated on", readonly=True),
    }
    for name, f in fields.items():
        f.name = name
    return fields


class Registry:
    """Models of a set of installed modules, composed and bound to one SQLAlchemy MetaData."""

    def __init__(self, modules: Sequence[Module]) -> None:
        self.modules = tuple(modules)
        self.metadata = sa.MetaData()
        self.models: dict[str, type[Model]] = {}
        self.relations: dict[str, sa.Table] = {}
        self._compose()
        self._declare_tables()

    @classmethod
    def for_modules(cls, names: Iterable[str], extra: Sequence[Module] = ()) -> Registry:
        return cls(resolve_modules(names, extra))

    def __getitem__(self, name: str) -> type[Model]:
        try:
            return self.models[name]
        except KeyError:
            raise ValidationError(f"Unknown model '{name}'.") from None

    def __contains__(self, name: object) -> bool:
        return name in self.models

    def __iter__(self) -> Iterator[type[Model]]:
        return iter(self.models.values())

    # -- composition ------------------------------------------------------------------------

    def _compose(self) -> None:
        layers: dict[str, list[tuple[str, type[Model]]]] = {}
        for module in self.modules:
            for cls in module.models:
                if cls._name and cls.__dict__.get("_name"):
                    if cls._name in layers:
                        raise ConfigError(f"Model '{cls._name}' is declared twice.")
                    if not MODEL_NAME.fullmatch(cls._name):
                        raise ConfigError(f"'{cls._name}' is not a valid model name.")
                    layers[cls._name] = [(module.name, cls)]
                elif cls._inherit:
                    if cls._inherit not in layers:
                        raise ConfigError(
                            f"Module '{module.name}' extends '{cls._inherit}', "
                            "which none of its dependencies declares."
                        )
                    layers[cls._inherit].append((module.name, cls))
                else:
                    raise ConfigError(f"{cls.__name__} declares neither _name nor _inherit.")
        for name, parts in layers.items():
            bases = tuple(cls for _, cls in reversed(parts))
            attrs: dict[str, Any] = {"_name": name, "_module": parts[0][0]}
            composed: type[Model] = type(name.replace(".", "_"), bases, attrs)
            fields = _magic_fields()
            for klass in reversed(composed.__mro__):
                for attr, value in vars(klass).items():
                    if isinstance(value, Field):
                        if not FIELD_NAME.fullmatch(attr) or attr in MAGIC_FIELDS:
                            raise ConfigError(f"'{name}.{attr}' is not an allowed field name.")
                        fields[attr] = copy.copy(value)
            for f in fields.values():
                f.model_name = name
            composed._fields = fields
            self.models[name] = composed
        for model in self.models.values():
            for f in model._fields.values():
                comodel = getattr(f, "comodel", None)
                if comodel is not None and comodel not in self.models:
                    raise ConfigError(f"{f!r} points to unknown model '{comodel}'.")
                if isinstance(f, One2many):
                    inverse = self.models[f.comodel]._fields.get(f.inverse_name)
                    if not isinstance(inverse, Many2one):
                        raise ConfigError(f"{f!r} needs a many2one '{f.inverse_name}' inverse.")

    def _declare_tables(self) -> None:
        attachments.declare(self.metadata)
        for name, model in self.models.items():
            columns: list[sa.Column[Any]] = [sa.Column("id", sa.Integer(), primary_key=True)]
            for fname, f in model._fields.items():
                if fname == "id" or not f.store:
                    continue
                if fname in ("create_uid", "write_uid"):
                    columns.append(sa.Column(fname, sa.Integer(), nullable=True))
                else:
                    columns.append(f.column())
            model._table = sa.Table(name.replace(".", "_"), self.metadata, *columns)
        for model in self.models.values():
            for f in model._fields.values():
                if isinstance(f, Many2many) and f.relation not in self.relations:
                    self.relations[f.relation] = self._relation_table(f)

    def _relation_table(self, f: Many2many) -> sa.Table:
        left = f.model_name.replace(".", "_")
        right = f.comodel.replace(".", "_")
        return sa.Table(
            f.relation,
            self.metadata,
            sa.Column(
                f.column1,
                sa.Integer(),
                sa.ForeignKey(f"{left}.id", ondelete="CASCADE"),
                primary_key=True,
            ),
            sa.Column(
                f.column2,
                sa.Integer(),
                sa.ForeignKey(f"{right}.id", ondelete="CASCADE"),
                primary_key=True,
                index=True,
            ),
        )

    def inverse_many2ones(self, model_name: str) -> Iterator[tuple[type[Model], Many2one]]:
        """Every many2one, anywhere, that points at `model_name`."""
        for model in self.models.values():
            for f in model._fields.values():
                if (
                    isinstance(f, Many2one)
                    and f.comodel == model_name
                    and f.name
                    not in (
                        "create_uid",
                        "write_uid",
                    )
                ):
                    yield model, f
