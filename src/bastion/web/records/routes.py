"""The records UI under `/web/records/`: a menu of models, list and form pages, create, delete.

Every page acts as the signed-in user through `execute_kw` (see `orm.py`); errors become
pages here, in one place: AccessError 403, MissingError 404, a refused save shows the form
again with the user's input (400).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bastion.core.clock import Clock
from bastion.errors import AccessError, BastionError, MissingError, ValidationError
from bastion.settings import Settings
from bastion.web.errors import MESSAGES, STATUS_BY_CODE
from bastion.web.login_routes import enrolment_guard
from bastion.web.records import pages
from bastion.web.records.forms import FormError, field_named
from bastion.web.records.orm import PICKER_LIMIT, RecordsOrm
from bastion.web.routing_auth import Visitor, blocking, login_redirect, redirect
from bastion.web.templating import render

log = logging.getLogger(__name__)

#: Fixed messages after a redirect (`?m=<code>`): no request text is ever reflected.
FLASH = {
    "saved": "Changes saved.",
    "created": "Record created.",
    "deleted": "Record deleted.",
}
MAX_NAME_QUERY = 200
GET, POST = ["GET"], ["POST"]

Handler = Callable[[Request, Visitor, RecordsOrm], Awaitable[Response]]


def records_routes(settings: Settings, clock: Clock) -> list[Route]:
    """The routes to mount in `create_app`."""
    return RecordPages(settings, clock).routes()


class RecordPages:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.clock = clock
        self.session_seconds = settings.session_absolute_hours * 3600

    def routes(self) -> list[Route]:
        record = "/web/records/{model}/{record_id:int}"
        return [
            Route("/web/records", self._signed_in(self.menu), methods=GET),
            Route("/web/records/{model}", self._signed_in(self.records), methods=GET),
            Route("/web/records/{model}/new", self._signed_in(self.new), methods=GET),
            Route("/web/records/{model}/new", self._signed_in(self.create), methods=POST),
            Route("/web/records/{model}/names", self.names, methods=GET),
            Route(record, self._signed_in(self.form), methods=GET),
            Route(record, self._signed_in(self.save), methods=POST),
            Route(record + "/delete", self._signed_in(self.confirm_delete), methods=GET),
            Route(record + "/delete", self._signed_in(self.delete), methods=POST),
        ]

    # -- who is asking, and errors as pages --------------------------------------------------

    async def _orm(self, request: Request) -> tuple[Visitor, RecordsOrm | None]:
        v = Visitor(request, self.clock, self.session_seconds)
        if v.auth is None or not v.signed_in or v.session is None:
            return v, None
        services = request.app.state.services
        tenant = await blocking(services.tenant, request.scope["state"]["tenant"])
        return v, RecordsOrm(tenant, v.session.uid)

    def _signed_in(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            v, orm = await self._orm(request)
            if v.auth is None:
                return await self._error(v, 404, "This address serves no database, or several.")
            if orm is None:
                return login_redirect(request)
            if enrolment_guard(v):
                return redirect("/web/security?m=enrol_required")
            try:
                return await handler(request, v, orm)
            except BastionError as exc:
                return await self._refused(v, exc)

        return endpoint

    async def _refused(self, v: Visitor, exc: BastionError) -> Response:
        status = STATUS_BY_CODE.get(exc.code)
        if status is None:
            log.error("Unmapped error on %s", v.request.url.path, exc_info=exc)
            return await self._error(v, 500, MESSAGES[500])
        return await self._error(v, status, exc.message)

    async def _error(self, v: Visitor, status: int, message: str) -> Response:
        titles = {403: "Access denied", 404: "Not found", 400: "That did not work"}
        title = titles.get(status, HTTPStatus(status).phrase)
        return await self._page(v, "error.html", status, title=title, message=message)

    async def _page(self, v: Visitor, name: str, status: int = 200, **ctx: Any) -> Response:
        user = await blocking(v.user_summary) if v.signed_in else None
        ctx.setdefault("flash", FLASH.get(v.request.query_params.get("m", "")))
        ctx.setdefault("error", None)
        return render(v.request, name, status, csrf_token=v.csrf_token, user=user, **ctx)

    # -- menu and lists ----------------------------------------------------------------------

    async def menu(self, request: Request, v: Visitor, orm: RecordsOrm) -> Response:
        modules = await blocking(orm.menu)
        return await self._page(v, "records/menu.html", modules=modules)

    async def records(self, request: Request, v: Visitor, orm: RecordsOrm) -> Response:
        model = _model(orm, request)
        params = dict(request.query_params)
        listing = await blocking(pages.list_page, orm, model, params)
        status = 400 if listing.error else 200
        return await self._page(v, "records/list.html", status, page=listing, error=listing.error)

    # -- forms -------------------------------------------------------------------------------

    async def form(self, request: Request, v: Visitor, orm: RecordsOrm) -> Response:
        model, rid = _model(orm, request), int(request.path_params["record_id"])
        form = await blocking(pages.existing_form, orm, model, rid)
        return await self._page(v, "records/form.html", form=form)

    async def new(self, request: Request, v: Visitor, orm: RecordsOrm) -> Response:
        model = _model(orm, request)
        form = await blocking(pages.new_form, orm, model)
        return await self._page(v, "records/form.html", form=form)

    async def save(self, request: Request, v: Visitor, orm: RecordsOrm) -> Response:
        model, rid = _model(orm, request), int(request.path_params["record_id"])
        posted = await request.form()
        outcome = await blocking(pages.save, orm, model, rid, posted)
        if isinstance(outcome, pages.Refused):
            return await self._refused_form(v, outcome)
        return redirect(f"{outcome}?m=saved")

    async def create(self, request: Request, v: Visitor, orm: RecordsOrm) -> Response:
        model = _model(orm, request)
        posted = await request.form()
        outcome = await blocking(pages.create, orm, model, posted)
        if isinstance(outcome, pages.Refused):
            return await self._refused_form(v, outcome)
        return redirect(f"{outcome}?m=created")

    async def _refused_form(self, v: Visitor, refused: pages.Refused) -> Response:
        """The form again, with what the user typed and why it was not saved (nothing lost)."""
        error: BastionError | FormError = refused.error
        invalid = error.field.name if isinstance(error, FormError) else field_named(error.message)
        refused.form.invalid = invalid
        return await self._page(v, "records/form.html", 400, form=refused.form, error=error.message)

    # -- delete ------------------------------------------------------------------------------

    async def confirm_delete(self, request: Request, v: Visitor, orm: RecordsOrm) -> Response:
        model, rid = _model(orm, request), int(request.path_params["record_id"])
        form = await blocking(pages.delete_page, orm, model, rid)
        return await self._page(v, "records/delete.html", form=form)

    async def delete(self, request: Request, v: Visitor, orm: RecordsOrm) -> Response:
        model, rid = _model(orm, request), int(request.path_params["record_id"])
        target = await blocking(pages.delete, orm, model, rid)
        return redirect(f"{target}?m=deleted")

    # -- the many2one picker's name lookup (records.js) ------------------------------------

    async def names(self, request: Request) -> Response:
        """`{"results": [[id, name], ...]}`: a readable model's names matching `q`."""
        v, orm = await self._orm(request)
        if orm is None:
            return JSONResponse({"error": "Sign in first."}, 401, headers=_NO_STORE)
        if enrolment_guard(v):
            message = "Add a second factor on My security first."
            return JSONResponse({"error": message}, 403, headers=_NO_STORE)
        model = request.path_params["model"]
        query = request.query_params.get("q", "")[:MAX_NAME_QUERY]
        if not orm.exists(model):
            return JSONResponse({"error": "There is no such model."}, 404, headers=_NO_STORE)
        try:
            found = await blocking(lambda: orm.name_search(model, query, PICKER_LIMIT))
        except (AccessError, ValidationError) as exc:
            status = 403 if isinstance(exc, AccessError) else 400
            return JSONResponse({"error": exc.message}, status, headers=_NO_STORE)
        results = [[int(i), str(n)] for i, n in found]
        return JSONResponse({"results": results}, headers=_NO_STORE)


_NO_STORE = {"cache-control": "no-store"}


def _model(orm: RecordsOrm, request: Request) -> str:
    model = str(request.path_params["model"])
    if not orm.exists(model):
        raise MissingError(f"There is no model named '{model[:60]}'.")
    return model
