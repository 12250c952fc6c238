"""The records UI's only way to the data: `execute_kw` as the signed-in user.

Access rights, record rules and field groups apply exactly as they do to the external API;
nothing here reads a record another way. Every method blocks: call it from a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bastion.auth.apiauth import ApiIdentity
from bastion.core.tenant import Tenant
from bastion.errors import AccessError, MissingError
from bastion.web.records.views import RESTRICTED, ModelView
from bastion.web.rpc.dispatch import execute_kw

#: How many choices a many2one picker offers (and the name lookup returns) at once.
PICKER_LIMIT = 80
#: How many names of a one2many / many2many a form lists.
X2MANY_SHOWN = 80
OPERATIONS = ("read", "write", "create", "unlink")


@dataclass(frozen=True, slots=True)
class Rights:
    read: bool
    write: bool
    create: bool
    unlink: bool


class RecordsOrm:
    """One user's calls on one tenant; each call is its own transaction (as over RPC)."""

    def __init__(self, tenant: Tenant, uid: int) -> None:
        self.tenant = tenant
        # A browser session acts with the user's full rights (no API key scope applies).
        self.identity = ApiIdentity(uid, None)

    def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return execute_kw(self.tenant, self.identity, model, method, list(args), kwargs)

    # -- metadata ----------------------------------------------------------------------------

    def label(self, model: str) -> str:
        """The model's description; model names are not records, so no access is needed."""
        cls = self.tenant.registry[model]
        return cls._description or model

    def exists(self, model: str) -> bool:
        return model in self.tenant.registry

    def can(self, model: str, operation: str) -> bool:
        return bool(self.call(model, "check_access_rights", operation, raise_exception=False))

    def rights(self, model: str) -> Rights:
        return Rights(*(self.can(model, op) for op in OPERATIONS))

    def view(self, model: str) -> ModelView:
        """The model's fields this user may read (raises AccessError without read access)."""
        described = self.call(model, "fields_get")
        rec_name = self.tenant.registry[model].rec_name()
        return ModelView.build(model, self.label(model), described, rec_name)

    def menu(self) -> list[tuple[str, str, list[tuple[str, str]]]]:
        """(module name, summary, [(model, label)]) of every installed module, with only the
        models this user may read; modules without any are left out."""
        registry = self.tenant.registry
        out: list[tuple[str, str, list[tuple[str, str]]]] = []
        for module in registry.modules:
            models = [
                (cls._name, cls._description or cls._name)
                for cls in registry
                if cls._module == module.name and self.can(cls._name, "read")
            ]
            if models:
                out.append((module.name, module.summary, sorted(models, key=lambda m: m[1])))
        return out

    # -- records -----------------------------------------------------------------------------

    def read_one(self, view: ModelView, record_id: int) -> dict[str, Any]:
        names = [f.name for f in view.fields]
        found: list[dict[str, Any]] = self.call(view.model, "read", [record_id], names)
        if not found:
            raise MissingError(f"Record does not exist or has been deleted: {view.model}.")
        return found[0]

    def name_search(self, model: str, name: str = "", limit: int = PICKER_LIMIT) -> list[Any]:
        return list(self.call(model, "name_search", name, limit=limit))

    def picker_choices(
        self, model: str, current: list[tuple[int, str | None]]
    ) -> list[tuple[int, str]] | None:
        """The first names of `model` for a many2one select, with the current value(s) kept;
        None when the user may not read `model` at all (the field is then shown read-only)."""
        try:
            found = [(int(i), str(n)) for i, n in self.name_search(model)]
        except AccessError:
            return None
        known = {i for i, _ in found}
        extra = [(i, n or f"{RESTRICTED} #{i}") for i, n in current if i not in known]
        return [*extra, *found]

    def names_of(self, model: str, ids: list[int]) -> list[tuple[int, str]]:
        """Names of some records (for one2many / many2many lists), at most a page; raises
        AccessError if the user may not read `model`."""
        if not ids:
            return []
        rows = self.call(
            model,
            "search_read",
            [("id", "in", ids[:X2MANY_SHOWN])],
            ["display_name"],
            context={"active_test": False},
        )
        names = {r["id"]: r.get("display_name") or f"#{r['id']}" for r in rows}
        return [(i, str(names[i])) for i in ids if i in names]

    def name_of(self, model: str, record_id: int) -> str | None:
        """One readable record's name (to keep a picked value when a form is shown again)."""
        try:
            found = self.names_of(model, [record_id])
        except AccessError:
            return None
        return found[0][1] if found else None
