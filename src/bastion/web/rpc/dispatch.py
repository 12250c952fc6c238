"""`execute_kw`: one remote call (model, method, args, kwargs) as a user, whatever the transport.

XML-RPC, JSON-RPC, `/web/dataset/call_kw`, `/json/2` and REST all end here, so the rules are
the same everywhere: only the model's allow-listed methods (`Model.rpc_methods()`), arguments
checked against the method's own signature (a clear `ValidationError`, never a `TypeError`
from deep inside), an API key's scope (models, read-only) applied before the ORM is touched,
and one transaction per call, rolled back on any error.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from bastion.auth.apiauth import ApiIdentity
from bastion.core.tenant import Tenant
from bastion.errors import AccessError, ValidationError
from bastion.web.risk_calls import note_caller

#: Methods that only read: the rest need a read-write key.
READ_METHODS = frozenset(
    {"search", "search_read", "read", "search_count", "fields_get", "name_search",
     "check_access_rights"}
)  # fmt: skip
#: Keyword arguments Odoo clients send that carry no meaning here (context is applied apart).
IGNORED_KWARGS = frozenset({"context", "load"})
#: Context keys a remote caller may set; everything else in a context is dropped.
ALLOWED_CONTEXT = frozenset({"active_test", "lang", "tz"})


def execute_kw(  # noqa: PLR0917 - Odoo's own execute_kw(model, method, args, kwargs) shape
    tenant: Tenant,
    identity: ApiIdentity,
    model: str,
    method: str,
    args: Sequence[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """Run `env[model].method(*args, **kwargs)` for the caller; raise `BastionError`s."""
    note_caller(tenant.name, identity.uid, identity.key_id)  # for the risk guard (risk_api)
    args, kwargs = _shapes(model, method, args, kwargs)
    if model not in tenant.registry:
        raise ValidationError(f"There is no model named '{_short(model)}'.")
    cls = tenant.registry[model]
    # Deny by default: a name not on the model's allow-list is refused whatever it is.
    if method not in cls.rpc_methods():
        raise AccessError(f"The method '{_short(method)}' of '{model}' cannot be called remotely.")
    scope = identity.scope
    if scope is not None and not scope.allows(model, write=method not in READ_METHODS):
        raise AccessError(f"This API key does not allow {_verb(method)} '{model}'.")
    context = _context(kwargs.pop("context", None))
    for name in IGNORED_KWARGS & kwargs.keys():
        kwargs.pop(name)
    args, kwargs = _false_means_unset(getattr(cls, method), model, method, args, kwargs)
    with tenant.transaction(readonly=method in READ_METHODS) as tx:
        env = tx.env(identity.uid, context=context)
        return getattr(env[model], method)(*args, **kwargs)


def _shapes(
    model: object, method: object, args: object, kwargs: object
) -> tuple[list[Any], dict[str, Any]]:
    if not isinstance(model, str) or not model:
        raise ValidationError("The model must be given as a non-empty string.")
    if not isinstance(method, str) or not method:
        raise ValidationError("The method must be given as a non-empty string.")
    if args is None:
        args = []
    if not isinstance(args, list | tuple):
        raise ValidationError("The arguments must be a list.")
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) for k in kwargs):
        raise ValidationError("The keyword arguments must be an object with string keys.")
    return list(args), dict(kwargs)


def _context(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError("The context must be an object.")
    return {k: v for k, v in value.items() if k in ALLOWED_CONTEXT}


#: The signatures of the models' methods, read once (the same few are called over and over).
_signature = functools.lru_cache(maxsize=1024)(inspect.signature)


def _false_means_unset(
    function: Any, model: str, method: str, args: list[Any], kwargs: dict[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    """The arguments bound to `function`'s parameters (a `ValidationError` if they do not
    fit). XML-RPC has no null, so Odoo clients send False for an optional argument they leave
    out (`search(domain, 0, False, False)`): a parameter whose default is None takes None."""
    signature = _signature(function)
    try:
        bound = signature.bind(None, *args, **kwargs)  # None stands for self
    except TypeError as exc:
        raise ValidationError(
            f"Wrong arguments for {model}.{method}: {_short(str(exc), 120)}."
        ) from None
    for name, value in bound.arguments.items():
        if value is False and signature.parameters[name].default is None:
            bound.arguments[name] = None
    return list(bound.args[1:]), dict(bound.kwargs)


def _verb(method: str) -> str:
    return "reading" if method in READ_METHODS else "changing"


def _short(text: str, limit: int = 60) -> str:
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
