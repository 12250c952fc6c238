"""REST over the records: `/api/v1/<model>[/<id>]` with bearer API keys, and an OpenAPI document."""

from __future__ import annotations

from bastion.web.rest.routes import rest_routes

__all__ = ["rest_routes"]
