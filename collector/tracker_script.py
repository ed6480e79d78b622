"""The website tracker as the collector serves it: ``/beacon.js``, its versioned URL, and the demo shop page.

``/beacon.js`` is cached briefly and revalidated by ETag, so a new release reaches every site within minutes;
``/beacon.<version>.js`` (the version is a digest of the content) never changes, so browsers and CDNs keep it
for a year. Both are read once at start from the build (``stack/tracker_build.py``: esbuild, not committed); a
collector started without it answers 404 with what to run. ``/demo`` is a small shop that uses the snippet, for
a newcomer to click around and watch the events arrive.
"""

from __future__ import annotations

import gzip
import hashlib
import html
from dataclasses import dataclass
from pathlib import Path

import structlog
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

SCRIPT_FILE = Path("dist/beacon.js")
DEMO_PAGE_FILE = Path("demo/shop.html")
SCRIPT_PATH = "/beacon.js"
REVALIDATED = "public, max-age=300"  # /beacon.js: a release reaches sites within five minutes
IMMUTABLE = "public, max-age=31536000, immutable"  # /beacon.<version>.js
JAVASCRIPT = "text/javascript; charset=utf-8"

log = structlog.get_logger("collector.tracker")


@dataclass(frozen=True)
class TrackerScript:
    """The built script, gzipped once, and its version: the first 16 hex digits of its SHA-256."""

    body: bytes
    gzipped: bytes
    version: str

    @classmethod
    def of(cls, body: bytes) -> TrackerScript:
        return cls(body=body, gzipped=gzip.compress(body, 9, mtime=0), version=hashlib.sha256(body).hexdigest()[:16])

    @property
    def versioned_path(self) -> str:
        return f"/beacon.{self.version}.js"

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


def load_tracker_script(tracker_dir: Path) -> TrackerScript | None:
    """The build under ``tracker_dir``, or None (logged: the collector still starts, and ``/beacon.js`` says why)."""
    path = tracker_dir / SCRIPT_FILE
    try:
        return TrackerScript.of(path.read_bytes())
    except OSError:
        log.warning("tracker_script_missing", path=str(path), fix="./beacon up builds it (npm ci, esbuild)")
        return None


def script_response(script: TrackerScript, request: Request, cache_control: str) -> Response:
    """The script with its validators; gzipped when the client takes it, ``304`` when its copy is current."""
    headers = {
        "Cache-Control": cache_control,
        "ETag": script.etag,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        # Lets a page load it with crossorigin="anonymous", which Subresource Integrity (integrity=) needs.
        "Access-Control-Allow-Origin": "*",
    }
    if script.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(script.gzipped, media_type=JAVASCRIPT, headers={**headers, "Content-Encoding": "gzip"})
    return Response(script.body, media_type=JAVASCRIPT, headers=headers)


def tracker_routes(tracker_dir: Path, demo_site_id: str) -> list[BaseRoute]:
    """``GET /beacon.js``, ``GET /beacon.<version>.js``, and ``GET /demo[/…]`` unless ``demo_site_id`` is empty."""
    script = load_tracker_script(tracker_dir)

    async def current(request: Request) -> Response:
        if script is None:
            return _not_built()
        return script_response(script, request, REVALIDATED)

    async def versioned(request: Request) -> Response:
        if script is None:
            return _not_built()
        if request.path_params["version"] != script.version:
            # A page cached with an older version's URL keeps tracking, with today's script.
            return RedirectResponse(SCRIPT_PATH, status_code=307)
        return script_response(script, request, IMMUTABLE)

    routes: list[BaseRoute] = [
        Route(SCRIPT_PATH, current, methods=["GET"], include_in_schema=False),
        Route("/beacon.{version}.js", versioned, methods=["GET"], include_in_schema=False),
    ]
    if demo_site_id:
        page = _demo_page(tracker_dir, script, demo_site_id)

        async def demo(_: Request) -> Response:
            if page is None:
                return _not_built()
            return HTMLResponse(page, headers={"Cache-Control": "no-store"})

        routes += [
            Route("/demo", demo, methods=["GET"], include_in_schema=False),
            Route("/demo/{path:path}", demo, methods=["GET"], include_in_schema=False),  # its single-page routes
        ]
    return routes


def _demo_page(tracker_dir: Path, script: TrackerScript | None, site_id: str) -> str | None:
    """The demo shop, loading the versioned script for the demo site."""
    try:
        template = (tracker_dir / DEMO_PAGE_FILE).read_text()
    except OSError:
        return None
    script_url = script.versioned_path if script else SCRIPT_PATH
    return template.replace("{{SCRIPT_URL}}", html.escape(script_url)).replace("{{SITE_ID}}", html.escape(site_id))


def _not_built() -> Response:
    return PlainTextResponse(
        "The website tracker is not built: `./beacon up` builds it (npm ci and esbuild in tracker_js/), "
        "or set BEACON_COLLECTOR_TRACKER_DIR to a directory holding dist/beacon.js.\n",
        status_code=404,
    )
