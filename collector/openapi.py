"""The collector's OpenAPI document, true to what it accepts and answers.

FastAPI sees neither the JSON bodies (the routes read them themselves, to keep the raw bytes for the dead
letters and to answer per item) nor the plain Starlette GET routes (pixels and links, kept off FastAPI's
machinery for speed). Both are described here, from the same pydantic types the routes validate with.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from schemas.answers import Accepted, Refusal
from schemas.browser import BrowserBatch, BrowserEvent
from schemas.segment import SINGLE_CALLS, SegmentBatch, SegmentMessage
from schemas.snowplow import PayloadData

OpenApiObject = dict[str, Any]

_REFUSALS = {
    "400": "invalid JSON, gzip or message (per-item errors for a batch)",
    "401": "missing or invalid write key",
    "403": "the page's origin is not a domain of the site",
    "413": "the body exceeds the size limit",
    "415": "unsupported Content-Encoding",
    "429": "rate limited (see Retry-After)",
    "503": "the event stream is unavailable, or the collector is starting (see Retry-After)",
}
_WRITE_KEY = {
    "type": "http",
    "scheme": "basic",
    "description": "the site's write key as the user name, empty password (or `writeKey` in the body instead)",
}
_GIF = {"200": {"description": "a 43-byte transparent GIF, whatever the input",
                "content": {"image/gif": {"schema": {"type": "string", "format": "binary"}}}}}  # fmt: skip


def describe_api(app: FastAPI) -> None:
    """Make ``app.openapi()`` (served at ``/openapi.json``) include the bodies and the plain routes."""

    def openapi() -> OpenApiObject:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes)
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            bodies = {
                "/v1/batch": _component(schemas, SegmentBatch),
                **{f"/v1/{call}": _component(schemas, SegmentMessage) for call in SINGLE_CALLS},
                "/api/event": _single_browser_event(schemas),
                "/api/events": _component(schemas, BrowserBatch),
                "/com.snowplowanalytics.snowplow/tp2": _component(schemas, PayloadData),
            }
            accepted, refusal = _component(schemas, Accepted), _component(schemas, Refusal)
            document["components"]["securitySchemes"] = {"writeKey": _WRITE_KEY}
            for path, body in bodies.items():
                operation = document["paths"][path]["post"]
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": body}, "text/plain": {"schema": body}},
                }
                if path.startswith("/v1/"):
                    operation["security"] = [{"writeKey": []}]
                operation["responses"] = {
                    "200": {"description": "accepted", "content": {"application/json": {"schema": accepted}}},
                    **{status: {"description": description, "content": {"application/json": {"schema": refusal}}}
                       for status, description in _REFUSALS.items()},
                }  # fmt: skip
            document["paths"].update(_plain_routes())
            document["paths"]["/readyz"]["get"]["responses"]["503"] = {
                "description": "not ready: the spool is above its threshold, or no sites are known yet",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _component(schemas: OpenApiObject, model: type[BaseModel]) -> OpenApiObject:
    """Register ``model``'s schema (and the types it uses) under components/schemas; a reference to it."""
    return _register(schemas, model.__name__, _schema_of(schemas, model))


def _schema_of(schemas: OpenApiObject, model: type[BaseModel]) -> OpenApiObject:
    """``model``'s JSON schema, its nested types registered under components/schemas."""
    schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    return schema


def _register(schemas: OpenApiObject, name: str, schema: OpenApiObject) -> OpenApiObject:
    schemas[name] = schema
    return {"$ref": f"#/components/schemas/{name}"}


def _single_browser_event(schemas: OpenApiObject) -> OpenApiObject:
    """``POST /api/event``: one browser event with ``site`` and ``sent_at`` beside its fields."""
    schema = _schema_of(schemas, BrowserEvent)
    schema["title"] = "BrowserSingleEvent"
    schema["properties"] |= BrowserBatch.model_json_schema()["properties"]
    schema["properties"].pop("events")
    schema["required"] = ["site"]
    return _register(schemas, "BrowserSingleEvent", schema)


def _query(name: str, description: str, *, required: bool = False, **schema: Any) -> OpenApiObject:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": {"type": "string", **schema}}  # fmt: skip


def _plain_routes() -> dict[str, OpenApiObject]:
    token = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"},
             "description": "a signed token made by `./beacon email sign`"}  # fmt: skip
    return {
        "/p.gif": {"get": {
            "tags": ["pixel"], "summary": "Tracking pixel (docs/tracking-api.md); `p.<name>` adds a property",
            "operationId": "pixel",
            "parameters": [
                _query("site", "site id", required=True), _query("e", "event name, default page_view"),
                _query("eid", "event id (UUID)"), _query("url", "page URL"), _query("ref", "referrer"),
                _query("aid", "anonymous id"), _query("uid", "user id"),
                _query("ts", "client event time, ms since the epoch"), _query("st", "client send time, ms"),
                _query("consent", "the visitor's consent", enum=["granted", "denied"]),
            ],
            "responses": _GIF,
        }},
        "/i": {"get": {
            "tags": ["snowplow"], "summary": "Snowplow tracker protocol, GET", "operationId": "snowplow_pixel",
            "parameters": [
                _query("e", "event type: pv, pp, se, ue, tr, ti", required=True), _query("aid", "site id"),
                _query("eid", "event id (UUID)"), _query("url", "page URL"), _query("refr", "referrer"),
                _query("duid", "domain user id"), _query("uid", "user id"), _query("dtm", "client time, ms"),
                _query("stm", "send time, ms"), _query("se_ac", "structured event action"),
                _query("ue_px", "self-describing event, base64"),
            ],
            "responses": _GIF,
        }},
        "/o/{token}.gif": {"get": {
            "tags": ["email"], "summary": "Email open pixel", "operationId": "email_open",
            "parameters": [token], "responses": _GIF,
        }},
        "/c/{token}": {"get": {
            "tags": ["email"], "summary": "Email click: records it and redirects", "operationId": "email_click",
            "parameters": [token],
            "responses": {
                "302": {"description": "to the link's destination",
                        "headers": {"Location": {"schema": {"type": "string"}}}},
                "400": {"description": "the token is not valid: never redirects",
                        "content": {"text/plain": {"schema": {"type": "string"}}}},
            },
        }},
    }  # fmt: skip
