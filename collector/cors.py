"""CORS by site: a page may call the collector only from one of its site's registered domains.

A preflight carries no body, so it cannot name its site: it is allowed when any active site lists the
page's origin. The request itself is then checked against the site it names, and its answer names that
origin alone (never ``*``), with credentials allowed, as Snowplow's browser tracker sends cookies.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from runtime.site_registry import SiteRegistry
from schemas.sites import Site

_PREFLIGHT_MAX_AGE_SECONDS = "86400"


def origin_host(origin: str) -> str:
    """``https://shop.example:8443`` -> ``shop.example:8443`` (default ports dropped); ``""`` for an Origin that
    is not a URL (a port out of range, a broken IPv6 literal), which no site allows."""
    try:
        parts = urlsplit(origin)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return ""
    return f"{host}:{port}" if port and port not in (80, 443) else host


def origin_refused(site: Site, origin: str | None) -> bool:
    """A page's origin outside the site's domains; requests without an Origin (not from a page) pass."""
    return origin is not None and not site.allows_origin_host(origin_host(origin))


def cors_headers(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}


def preflight_response(registry: SiteRegistry, request: Request) -> Response:
    origin = request.headers.get("origin", "")
    if not origin or not registry.any_site_allows(origin_host(origin)):
        return Response(status_code=403)
    headers = {
        **cors_headers(origin),
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Max-Age": _PREFLIGHT_MAX_AGE_SECONDS,
    }
    return Response(status_code=204, headers=headers)


def with_cors(response: Response, request: Request) -> Response:
    """Add the CORS headers for the request's origin (already checked against its site)."""
    origin = request.headers.get("origin")
    if origin is not None:
        response.headers.update(cors_headers(origin))
    return response
