"""`POST /xmlrpc/2/<service>` and the historical `/xmlrpc/<service>`: Odoo's XML-RPC.

Requests are parsed with defusedxml's expat parser with DTDs forbidden: no entity expansion
(billion laughs), no external entities or network fetches (XXE), and bodies above
`MAX_XML_BYTES` are refused before parsing. Faults follow Odoo: integer codes on /xmlrpc/2
(1 application error, 2 warning, 3 access denied, 4 access error), strings on /xmlrpc.
Refused calls are HTTP 200 faults (what XML-RPC clients read); a body that is not an XML-RPC
call at all gets 400 (413 when too large) with a fault body.
"""

from __future__ import annotations

import xmlrpc.client
from typing import Any

from anyio import to_thread
from defusedxml.common import DefusedXmlException
from defusedxml.xmlrpc import DefusedExpatParser
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bastion.core.clock import Clock
from bastion.errors import ValidationError
from bastion.web.rpc.credentials import VerifiedPasswords
from bastion.web.rpc.faults import Fault, FaultError, bad_request, fault_of, xmlrpc_fault
from bastion.web.rpc.jsonrpc import caller_of, read_body
from bastion.web.rpc.services import call_service
from bastion.web.rpc.values import check_depth, from_wire, to_odoo

#: XML is verbose but no real call comes near this; parsing costs far more than JSON.
MAX_XML_BYTES = 4 * 1024 * 1024
NOT_A_CALL = "The body is not an XML-RPC method call."
NO_DTD = "XML with a document type declaration (entities) is refused."


def parse_call(body: bytes) -> tuple[str, list[Any]]:
    """The (method name, params) of an XML-RPC call; `FaultError` (400) when it is not one."""
    unmarshaller = xmlrpc.client.Unmarshaller(use_datetime=True, use_builtin_types=True)
    parser = DefusedExpatParser(
        unmarshaller, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    try:
        parser.feed(body)
        parser.close()
        params = unmarshaller.close()
        method = unmarshaller.getmethodname()
    except DefusedXmlException:
        raise FaultError(bad_request(NO_DTD), 400) from None
    except Exception:  # expat errors, bad values (<int>x</int>), a <fault> sent to us...
        raise FaultError(bad_request(NOT_A_CALL), 400) from None
    if not isinstance(method, str) or not method or not isinstance(params, tuple):
        raise FaultError(bad_request(NOT_A_CALL), 400)
    try:
        check_depth(list(params))
    except ValidationError as exc:
        raise FaultError(bad_request(exc.message), 400) from None
    return method, from_wire(list(params))


def dump_result(result: Any) -> bytes:
    # allow_none=False: XML-RPC has no null; `to_odoo` already turned None into False.
    text = xmlrpc.client.dumps((to_odoo(result, xml=True),), methodresponse=True, allow_none=False)
    return text.encode("utf-8")


def dump_fault(fault: Fault, *, legacy: bool) -> bytes:
    text = xmlrpc.client.dumps(xmlrpc_fault(fault, legacy=legacy), methodresponse=True)
    return text.encode("utf-8")


class XmlRpc:
    """The XML-RPC endpoints; `list_db` lets `db.list` answer (off by default)."""

    def __init__(
        self,
        clock: Clock,
        *,
        list_db: bool = False,
        passwords: VerifiedPasswords | None = None,
    ) -> None:
        self.clock = clock
        self.list_db = list_db
        self.passwords = passwords

    def routes(self) -> list[Route]:
        return [
            Route("/xmlrpc/2/{service}", self.current, methods=["POST"]),
            Route("/xmlrpc/{service}", self.legacy, methods=["POST"]),
        ]

    async def current(self, request: Request) -> Response:
        return await self._handle(request, legacy=False)

    async def legacy(self, request: Request) -> Response:
        return await self._handle(request, legacy=True)

    async def _handle(self, request: Request, *, legacy: bool) -> Response:
        service = request.path_params["service"]
        try:
            body = await read_body(request, MAX_XML_BYTES)
            method, params = await to_thread.run_sync(parse_call, body)
            caller = caller_of(request, self.clock.now())
            services = request.app.state.services
            payload = await to_thread.run_sync(
                lambda: dump_result(
                    call_service(
                        services,
                        caller,
                        service,
                        method,
                        params,
                        list_db=self.list_db,
                        passwords=self.passwords,
                    )
                )
            )
        except Exception as exc:
            fault = fault_of(exc, where=request.url.path)
            status = exc.http_status if isinstance(exc, FaultError) else 200
            response = _xml(dump_fault(fault, legacy=legacy), status)
            if fault.retry_after is not None:
                response.headers["retry-after"] = str(fault.retry_after)
            return response
        return _xml(payload, 200)


def _xml(payload: bytes, status: int) -> Response:
    return Response(payload, status, {"cache-control": "no-store"}, media_type="text/xml")
