"""Errors in Odoo's shapes: one mapping from our errors to XML-RPC faults, JSON-RPC error objects
and `/json/2` error bodies, so every transport says the same thing about the same failure.

    BastionError       Odoo name                         XML-RPC /2  /xmlrpc (legacy)     /json/2
    ValidationError    odoo.exceptions.ValidationError   2           warning -- UserError  422
    UserError          odoo.exceptions.UserError         2           warning -- UserError  422
    MissingError       odoo.exceptions.MissingError      2           warning -- MissingError 404
    AccessError        odoo.exceptions.AccessError       4           warning -- AccessError 403
    VerificationError  odoo.exceptions.AccessDenied      3           AccessDenied          401
    RateLimitError     odoo.exceptions.AccessDenied      3           AccessDenied          429
    anything else      werkzeug...InternalServerError    1           (generic sentence)    500

Faults carry the error's own one-sentence message and never a traceback (`debug` is always
empty): Odoo puts the server's traceback there, which tells an attacker our code paths. An
unexpected exception is logged here and answered with a fixed sentence.
"""

from __future__ import annotations

import logging
import xmlrpc.client
from dataclasses import dataclass, replace
from typing import Any

from bastion.errors import (
    AccessError,
    BastionError,
    MissingError,
    RateLimitError,
    TenantError,
    UserError,
    ValidationError,
    VerificationError,
)

log = logging.getLogger(__name__)

ACCESS_DENIED = "odoo.exceptions.AccessDenied"
INTERNAL = "Something went wrong on our side; it has been logged."
NO_DATABASE = "This address serves no database of that name."

# XML-RPC fault codes of /xmlrpc/2 (Odoo's RPC_FAULT_CODE_*): clients test these numbers.
CODE_APPLICATION_ERROR = 1
CODE_WARNING = 2
CODE_ACCESS_DENIED = 3
CODE_ACCESS_ERROR = 4

# JSON-RPC error codes: Odoo's own (200, 100, 404) and JSON-RPC 2.0's for malformed envelopes.
JSONRPC_SERVER_ERROR = 200
JSONRPC_SESSION_EXPIRED = 100
JSONRPC_NOT_FOUND = 404
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
_JSONRPC_MESSAGES = {
    JSONRPC_SERVER_ERROR: "Odoo Server Error",
    JSONRPC_SESSION_EXPIRED: "Odoo Session Expired",
    JSONRPC_NOT_FOUND: "404: Not Found",
    PARSE_ERROR: "Parse error",
    INVALID_REQUEST: "Invalid Request",
    METHOD_NOT_FOUND: "Method not found",
    INVALID_PARAMS: "Invalid params",
}


@dataclass(frozen=True, slots=True)
class Fault:
    """One failure as every transport tells it.

    `name`: the exception name Odoo clients test (`error.data.name`); `code`: the /xmlrpc/2
    fault code; `legacy`: the /xmlrpc fault code (a string there), with the message moved to
    the fault string when `legacy_message` is set; `status`: the HTTP status of /json/2;
    `jsonrpc`: the JSON-RPC error code; `retry_after`: seconds, for throttled calls.
    """

    name: str
    message: str
    code: int
    legacy: str
    status: int
    jsonrpc: int = JSONRPC_SERVER_ERROR
    legacy_message: bool = False
    retry_after: int | None = None


class FaultError(Exception):
    """A refusal decided at the edge (bad envelope, no session, no database): its Odoo shape
    is fixed where it is raised. `http_status` is the status for transports whose replies
    carry one (malformed requests get 4xx even on XML-RPC and JSON-RPC)."""

    def __init__(self, fault: Fault, http_status: int = 200) -> None:
        super().__init__(fault.message)
        self.fault = fault
        self.http_status = http_status


def _warning(kind: str, message: str) -> str:
    return f"warning -- {kind}\n\n{message}"


def access_denied(message: str = "Access Denied", status: int = 403) -> Fault:
    return Fault(
        ACCESS_DENIED, message, CODE_ACCESS_DENIED, "AccessDenied", status, legacy_message=True
    )


def session_expired(message: str = "Your session has ended; sign in again.") -> Fault:
    return Fault(
        "odoo.http.SessionExpiredException",
        message,
        CODE_ACCESS_DENIED,
        "AccessDenied",
        401,
        jsonrpc=JSONRPC_SESSION_EXPIRED,
        legacy_message=True,
    )


def not_found(message: str) -> Fault:
    return Fault(
        "werkzeug.exceptions.NotFound",
        message,
        CODE_APPLICATION_ERROR,
        message,
        404,
        jsonrpc=JSONRPC_NOT_FOUND,
    )


def bad_request(message: str, jsonrpc: int = INVALID_REQUEST, status: int = 400) -> Fault:
    """A request that is not a well-formed call (JSON-RPC's own codes apply)."""
    return Fault(
        "werkzeug.exceptions.BadRequest", message, CODE_APPLICATION_ERROR, message, status,
        jsonrpc=jsonrpc,
    )  # fmt: skip


def internal() -> Fault:
    return Fault(
        "werkzeug.exceptions.InternalServerError", INTERNAL, CODE_APPLICATION_ERROR, INTERNAL,
        500,
    )  # fmt: skip


def fault_of(exc: BaseException, *, where: str = "an RPC call") -> Fault:
    """The Odoo shape of `exc`. Anything not ours is logged (with its traceback) and hidden."""
    if isinstance(exc, FaultError):
        return exc.fault
    if isinstance(exc, RateLimitError):
        return replace(access_denied(exc.message, 429), retry_after=exc.retry_after)
    if isinstance(exc, VerificationError):
        return access_denied(exc.message, 401)
    if isinstance(exc, AccessError):
        return Fault("odoo.exceptions.AccessError", exc.message, CODE_ACCESS_ERROR,
                     _warning("AccessError", exc.message), 403)  # fmt: skip
    if isinstance(exc, MissingError):
        return Fault("odoo.exceptions.MissingError", exc.message, CODE_WARNING,
                     _warning("MissingError", exc.message), 404)  # fmt: skip
    if isinstance(exc, ValidationError | UserError):
        name = "ValidationError" if isinstance(exc, ValidationError) else "UserError"
        return Fault(f"odoo.exceptions.{name}", exc.message, CODE_WARNING,
                     _warning("UserError", exc.message), 422)  # fmt: skip
    if isinstance(exc, TenantError):
        # Its own message may name paths or servers: say only what the caller needs.
        return not_found(NO_DATABASE)
    if isinstance(exc, BastionError):
        log.error("Unmapped %s error in %s", exc.code, where, exc_info=exc)
    else:
        log.error("Unexpected error in %s", where, exc_info=exc)
    return internal()


# -- per transport ---------------------------------------------------------------------------


def jsonrpc_error(fault: Fault) -> dict[str, Any]:
    """The `error` member of a JSON-RPC reply, as Odoo's web client and odoorpc read it."""
    return {
        "code": fault.jsonrpc,
        "message": _JSONRPC_MESSAGES.get(fault.jsonrpc, "Odoo Server Error"),
        "data": json2_body(fault),
    }


def json2_body(fault: Fault) -> dict[str, Any]:
    """The body of a `/json/2` error (and `error.data` of JSON-RPC): never a traceback."""
    arguments: list[Any] = [fault.message]
    if fault.name.startswith("werkzeug."):
        arguments.append(fault.status)
    return {
        "name": fault.name,
        "message": fault.message,
        "arguments": arguments,
        "context": {},
        "debug": "",
    }


def xmlrpc_fault(fault: Fault, *, legacy: bool) -> xmlrpc.client.Fault:
    """An XML-RPC fault: integer codes on /xmlrpc/2, Odoo's historical strings on /xmlrpc."""
    if not legacy:
        return xmlrpc.client.Fault(fault.code, fault.message)
    if fault.legacy_message:
        return xmlrpc.client.Fault(fault.legacy, fault.message)  # type: ignore[arg-type]
    if fault.legacy.startswith("warning -- "):
        return xmlrpc.client.Fault(fault.legacy, "")  # type: ignore[arg-type]
    return xmlrpc.client.Fault(fault.legacy, fault.message)  # type: ignore[arg-type]
