"""How the collector serves the tracker (collector/tracker_script.py): validators, the versioned URL, the demo page."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from collector.tracker_script import IMMUTABLE, REVALIDATED, TrackerScript, tracker_routes

SCRIPT = b"(()=>{window.beacon=1})();\n"
DEMO = '<script defer src="{{SCRIPT_URL}}" data-site="{{SITE_ID}}"></script>'


@pytest.fixture
def tracker_dir(tmp_path: Path) -> Path:
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist/beacon.js").write_bytes(SCRIPT)
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo/shop.html").write_text(DEMO)
    return tmp_path


async def get(tracker_dir: Path, path: str, demo_site: str = "demo", **options: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=Starlette(routes=tracker_routes(tracker_dir, demo_site)))
    async with httpx.AsyncClient(transport=transport, base_url="http://collector.test") as client:
        return await client.get(path, **options)  # type: ignore[arg-type]


async def test_beacon_js_is_revalidated_by_etag(tracker_dir: Path) -> None:
    version = TrackerScript.of(SCRIPT).version
    answer = await get(tracker_dir, "/beacon.js", headers={"Accept-Encoding": "identity"})
    assert answer.status_code == 200
    assert answer.content == SCRIPT
    assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
    assert (answer.headers["cache-control"], answer.headers["etag"]) == (REVALIDATED, f'"{version}"')
    assert answer.headers["access-control-allow-origin"] == "*"  # Subresource Integrity needs CORS
    unchanged = await get(tracker_dir, "/beacon.js", headers={"If-None-Match": f'"{version}"'})
    assert (unchanged.status_code, unchanged.content) == (304, b"")


async def test_the_versioned_url_is_cached_for_good_and_an_old_one_redirects(tracker_dir: Path) -> None:
    script = TrackerScript.of(SCRIPT)
    answer = await get(tracker_dir, script.versioned_path)
    assert (answer.status_code, answer.content, answer.headers["cache-control"]) == (200, SCRIPT, IMMUTABLE)
    old = await get(tracker_dir, "/beacon.0123456789abcdef.js", follow_redirects=False)
    assert (old.status_code, old.headers["location"]) == (307, "/beacon.js")


async def test_gzip_for_clients_that_take_it(tracker_dir: Path) -> None:
    answer = await get(tracker_dir, "/beacon.js", headers={"Accept-Encoding": "gzip, br"})
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.headers["vary"] == "Accept-Encoding"
    assert answer.content == SCRIPT  # decoded by the client
    assert TrackerScript.of(SCRIPT).gzipped == gzip.compress(SCRIPT, 9, mtime=0)


async def test_the_demo_shop_loads_the_versioned_script_for_the_demo_site(tracker_dir: Path) -> None:
    for path in ("/demo", "/demo/product/MUG-1"):
        page = await get(tracker_dir, path)
        assert page.status_code == 200
        assert page.text == f'<script defer src="{TrackerScript.of(SCRIPT).versioned_path}" data-site="demo"></script>'
    assert (await get(tracker_dir, "/demo", demo_site="")).status_code == 404


async def test_a_collector_without_the_build_says_what_to_run(tmp_path: Path) -> None:
    answer = await get(tmp_path, "/beacon.js")
    assert answer.status_code == 404
    assert "./beacon up" in answer.text
