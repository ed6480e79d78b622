"""The baseline of the collector benchmark: a bare Starlette endpoint returning the same 43-byte GIF."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collector.pixel import TRANSPARENT_GIF


async def pixel(_: Request) -> Response:
    return Response(TRANSPARENT_GIF, media_type="image/gif", headers={"Cache-Control": "no-store, max-age=0"})


app = Starlette(routes=[Route("/p.gif", pixel)])
