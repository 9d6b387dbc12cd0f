"""The OpenAPI 3.1 document, made from the endpoint table and the msgspec types.

Every route of :data:`~ccroute_web._api.ENDPOINTS` becomes an operation; its
body and answer schemas are msgspec's JSON Schema of the very types the
handler decodes and encodes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import msgspec

from ._http import Endpoint
from ._schemas import ErrorOut

__all__ = ["METRICS_PATH", "openapi"]

#: The Prometheus endpoint (text, not JSON).
METRICS_PATH = "/metrics"

_REF = "#/components/schemas/{name}"
_REASONS = {
    400: "The body is not JSON",
    401: "Not logged in, or bad credentials",
    403: "Not allowed for this user",
    404: "Unknown contact, queue or agent",
    409: "The state does not allow it",
    413: "The body is too large",
    415: "The body is not sent as application/json",
    422: "A field is missing or invalid (the error names it)",
    429: "Too many failed logins: wait",
    503: "The service is not running",
}


def _errors(endpoint: Endpoint) -> set[int]:
    codes = set(endpoint.errors)
    if endpoint.roles is not None:
        codes |= {401, 403}
    if endpoint.body is not None:
        codes |= {400, 413, 415, 422}
    if endpoint.needs_service:
        codes.add(503)
    return codes


def openapi(
    endpoints: Iterable[Endpoint], *, version: str, websockets: dict[str, str]
) -> dict[str, Any]:
    """The document describing ``endpoints`` (and, under ``x-websockets``, the sockets)."""
    endpoints = list(endpoints)
    types: list[Any] = [ErrorOut]
    for e in endpoints:
        if e.body is not None:
            types.append(e.body)
        if e.answer is not None:
            types.append(e.answer)
    schemas, components = msgspec.json.schema_components(types, ref_template=_REF)
    by_type = dict(zip(types, schemas, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        operation: dict[str, Any] = {
            "summary": e.summary,
            "operationId": re.sub(r"\W+", "_", f"{e.method}_{e.path}").strip("_").lower(),
            "tags": [e.tag],
            "responses": {
                str(e.status): {
                    "description": "OK",
                    "content": {e.media_type: {"schema": by_type[e.answer]}},
                }
            },
        }
        for code in sorted(_errors(e)):
            operation["responses"][str(code)] = {
                "description": _REASONS.get(code, "Refused"),
                "content": {"application/json": {"schema": by_type[ErrorOut]}},
            }
        params = re.findall(r"{(\w+)}", e.path)
        if params:
            operation["parameters"] = [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in params
            ]
        if e.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": by_type[e.body]}},
            }
        if e.roles is not None:
            operation["security"] = [{"session": []}, {"basic": []}]
            operation["description"] = "Roles: " + ", ".join(sorted(e.roles))
        paths.setdefault(e.path, {})[e.method.lower()] = operation
    paths[METRICS_PATH] = {
        "get": {
            "summary": "Prometheus metrics",
            "operationId": "get_metrics",
            "tags": ["metrics"],
            "description": "Open to loopback clients; others authenticate as supervisor or integration.",
            "security": [{}, {"basic": []}],
            "responses": {
                "200": {
                    "description": "Prometheus text exposition format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                "401": {
                    "description": _REASONS[401],
                    "content": {"application/json": {"schema": by_type[ErrorOut]}},
                },
                "403": {
                    "description": _REASONS[403],
                    "content": {"application/json": {"schema": by_type[ErrorOut]}},
                },
            },
        }
    }
    paths["/openapi.json"] = {
        "get": {
            "summary": "This document",
            "operationId": "get_openapi",
            "tags": ["health"],
            "responses": {
                "200": {
                    "description": "OpenAPI 3.1",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ccroute web API",
            "version": version,
            "description": "Agent desktop, wallboard, webhook and statistics of a ccroute service (docs/web.md).",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "ccroute_session"},
                "basic": {"type": "http", "scheme": "basic"},
            },
        },
        "x-websockets": websockets,
    }
