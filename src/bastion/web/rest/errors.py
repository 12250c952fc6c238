"""REST errors: one JSON shape, `{"error": code, "message": sentence}`, and one status table.

Every failure of a REST call ends here, so the mapping from `BastionError` codes to HTTP
statuses lives in one place. No traceback or exception text other than a `BastionError`'s own
one-sentence message ever reaches the client.
"""

from __future__ import annotations

import logging

from starlette.responses import JSONResponse

from bastion.errors import BastionError, RateLimitError

log = logging.getLogger(__name__)

#: RFC 6750: the challenge a 401 carries, so a client knows a bearer token is what is missing.
CHALLENGE = 'Bearer realm="bastion"'
#: Status of each `BastionError` code. "validation" (and "missing") is 422 instead when the
#: values of a record (a create or update body) were refused.
STATUS_BY_CODE = {
    "validation": 400,
    "access": 403,
    "missing": 404,
    "tenant": 404,
    "user": 409,
    "verification": 401,
    "rate_limit": 429,
}
INTERNAL = "Something went wrong on our side; it has been logged."


class RestError(Exception):
    """A refusal decided at the edge (bad parameter, unknown model, wrong content type)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def problem(status: int, code: str, message: str) -> JSONResponse:
    response = JSONResponse(
        {"error": code, "message": message}, status, headers={"cache-control": "no-store"}
    )
    if status == 401:
        response.headers["www-authenticate"] = CHALLENGE
    return response


def from_rest_error(exc: RestError) -> JSONResponse:
    return problem(exc.status, exc.code, exc.message)


def from_error(exc: BastionError, *, values: bool = False) -> JSONResponse:
    """The response for a domain error; `values`: the request carried a record's values."""
    status = STATUS_BY_CODE.get(exc.code)
    if status is None:
        # config, integrity, or a bare BastionError: the server's problem, not the caller's.
        log.error("REST call failed with %s", type(exc).__name__, exc_info=exc)
        return problem(500, "internal", INTERNAL)
    if exc.code in ("validation", "missing") and values:
        # The values were refused, or name a related record that does not exist: the
        # request was well-formed and its target exists (an unknown record is found first).
        status = 422
    response = problem(status, exc.code, exc.message)
    if isinstance(exc, RateLimitError):
        response.headers["retry-after"] = str(exc.retry_after)
    return response
