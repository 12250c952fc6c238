"""Every route of the Odoo-compatible API, for `create_app` to mount.

    POST /xmlrpc/2/{common,object,db}      XML-RPC, integer fault codes
    POST /xmlrpc/{common,object,db}        XML-RPC, Odoo's historical string fault codes
    POST /jsonrpc                          JSON-RPC to the same services
    POST /web/session/authenticate         cookie session for JSON clients (no second factor)
    POST /web/session/get_session_info     the session's user, companies and version
    POST /web/session/destroy              sign-out
    POST /web/dataset/call_kw[/<path>]     a model method as the session's user
    POST /web/webclient/version_info       the server version (odoorpc asks first)
    POST /json/2/<model>/<method>          Odoo 19's JSON API with a bearer API key

Faults and error bodies for all of them come from `faults.py`.
"""

from __future__ import annotations

from starlette.routing import Route

from bastion.core.clock import Clock
from bastion.settings import Settings
from bastion.web.rpc.credentials import VerifiedPasswords
from bastion.web.rpc.json2 import Json2
from bastion.web.rpc.jsonrpc import JsonRpc
from bastion.web.rpc.lanes import lane_threads
from bastion.web.rpc.session_api import SessionApi
from bastion.web.rpc.xmlrpc import XmlRpc


def rpc_routes(settings: Settings, clock: Clock, *, list_db: bool = False) -> list[Route]:
    """The API's routes. `list_db`: let `db.list` name the databases this host may reach
    (off by default: database names help an attacker aim)."""
    # One per process: each worker builds its own app.
    passwords = VerifiedPasswords()
    return [
        *XmlRpc(clock, list_db=list_db, passwords=passwords).routes(),
        Route(
            "/jsonrpc",
            JsonRpc(
                clock,
                list_db=list_db,
                passwords=passwords,
                lane_threads=lane_threads(settings.database_url),
            ).endpoint,
            methods=["POST"],
        ),
        *SessionApi(settings, clock).routes(),
        *Json2(clock).routes(),
    ]
