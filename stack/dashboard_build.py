"""The dashboard's assets: ``dashboard/web/dist/`` (the page, its script with uPlot bundled in, its stylesheet),
made by esbuild from npm when missing or stale, as the tracker is (``stack/tracker_build.py``), for ``./beacon up``
and ``./beacon test``. Not committed."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

from dashboard.settings import WEB_DIR
from stack.tracker_build import Step, TrackerBuild, ensure_npm_built

SCRIPT_PATH = Path("dist/dashboard.js")


def ensure_dashboard_built(directory: Path = WEB_DIR, step: Step = lambda _: nullcontext()) -> TrackerBuild:
    """Install the npm tooling and build the assets when either is missing or stale; return the script."""
    return ensure_npm_built(directory, SCRIPT_PATH, "the dashboard", "dashboard/web/", step)
