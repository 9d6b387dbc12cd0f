"""The OpenAPI document: generated from the code, complete, and valid."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.routing import Mount, Route, WebSocketRoute
from web_testing import centre

from ccroute_web import WEBSOCKETS, WebChannel
from ccroute_web.testing import WebClient

pytestmark = pytest.mark.anyio


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        for value in node.values():
            found += _refs(value)
        return found
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


async def test_every_route_is_in_the_document_and_every_reference_resolves() -> None:
    async with centre() as (_service, web):
        doc = (await WebClient(web.app).get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    http = {
        (method.lower(), route.path)
        for route in web.app.routes
        if isinstance(route, Route) and route.include_in_schema
        for method in (route.methods or ()) - {"HEAD"}
    }
    documented = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert http == documented
    sockets = {r.path for r in web.app.routes if isinstance(r, WebSocketRoute)}
    assert sockets == set(doc["x-websockets"]) == set(WEBSOCKETS)
    assert any(isinstance(r, Mount) and r.path == "/static" for r in web.app.routes)
    schemas = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_the_document_is_valid_openapi() -> None:
    from openapi_spec_validator import validate

    validate(WebChannel().app.state.openapi)  # raises on the first error


def test_the_document_says_what_the_handlers_validate() -> None:
    doc = WebChannel().app.state.openapi
    schemas = doc["components"]["schemas"]
    presence = schemas["PresenceBody"]
    assert presence["properties"]["presence"]["enum"] == ["available", "not-ready", "offline"]
    assert presence["required"] == ["presence"]
    contact = schemas["NewContact"]
    assert contact["properties"]["requirements"]["additionalProperties"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 10,
    }
    accept = doc["paths"]["/api/agent/offers/{contact_id}/accept"]["post"]
    assert {"401", "403", "404", "409", "415", "422"} <= set(accept["responses"])
    assert accept["parameters"][0]["name"] == "contact_id"
