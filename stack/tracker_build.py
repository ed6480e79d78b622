"""The website tracker's build: ``tracker_js/dist/beacon.js``, made by esbuild from npm, when missing or stale.

The build output is not committed, so a fresh clone makes it on ``./beacon up`` or ``./beacon test``: ``npm ci``
when the npm tooling is missing or older than ``package-lock.json``, then ``npm run build`` when the sources
changed. Stamps hold digests of the inputs, so an unchanged tree costs a few hashes and no npm at all. The
dashboard's assets (``stack/dashboard_build.py``) are built the same way, by ``ensure_npm_built``.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

TRACKER_DIR = Path(__file__).resolve().parent.parent / "tracker_js"
SCRIPT_PATH = Path("dist/beacon.js")
DEMO_PAGE_PATH = Path("demo/shop.html")
_BUILD_INPUTS = ("package.json", "package-lock.json", "build.js")
_TOOLING_STAMP = Path("node_modules/.beacon-lock-digest")
_BUILD_STAMP = Path("dist/.beacon-build-digest")
_NPM_TIMEOUT_SECONDS = 600

Step = Callable[[str], AbstractContextManager[None]]


class TrackerBuildError(RuntimeError):
    """The tracker cannot be built; the message says why and what to install."""


@dataclass(frozen=True)
class TrackerBuild:
    """What ``ensure_tracker_built`` did: the script's path and the npm steps it had to run."""

    script: Path
    installed_tooling: bool
    built: bool


def _silent_step(_: str) -> AbstractContextManager[None]:
    return nullcontext()


def _digest(paths: list[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_inputs_digest(directory: Path = TRACKER_DIR) -> str:
    """A digest of everything the output is built from: the sources, the build script and the locked tooling."""
    sources = sorted(path for path in (directory / "src").rglob("*") if path.is_file())
    return _digest([directory / name for name in _BUILD_INPUTS] + sources, directory)


def _stamp_matches(path: Path, digest: str) -> bool:
    return path.is_file() and path.read_text().strip() == digest


def _npm(directory: Path, *arguments: str) -> None:
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise TrackerBuildError(
            f"node and npm are needed to build {directory.name}/: install them "
            "(Debian: apt-get install -y nodejs npm) and run the command again"
        )
    try:
        subprocess.run(
            [npm, *arguments, "--no-audit", "--no-fund"],
            cwd=directory,
            capture_output=True,
            text=True,
            check=True,
            timeout=_NPM_TIMEOUT_SECONDS,
        )
    except subprocess.CalledProcessError as error:
        output = (error.stdout + error.stderr).strip().splitlines()[-20:]
        raise TrackerBuildError(f"`npm {' '.join(arguments)}` failed in {directory}:\n" + "\n".join(output)) from None
    except subprocess.TimeoutExpired:
        raise TrackerBuildError(f"`npm {' '.join(arguments)}` took over {_NPM_TIMEOUT_SECONDS} s") from None


def ensure_tracker_built(directory: Path = TRACKER_DIR, step: Step = _silent_step) -> TrackerBuild:
    """Install the npm tooling and build the script when either is missing or stale; return the script."""
    return ensure_npm_built(directory, SCRIPT_PATH, "the tracker", f"{directory.name}/", step)


def ensure_npm_built(directory: Path, output: Path, what: str, folder: str, step: Step = _silent_step) -> TrackerBuild:
    """Run ``npm ci`` in ``directory`` when its tooling is missing or older than its lock file, then ``npm run
    build`` when ``output`` (relative to it) is missing or its inputs changed: ``package.json``, the lock file,
    ``build.js`` and every file under ``src/``."""
    lock_digest = _digest([directory / "package-lock.json"], directory)
    installed = not _stamp_matches(directory / _TOOLING_STAMP, lock_digest)
    if installed:
        with step(f"Installing {what}'s build tooling (npm ci in {folder})"):
            _npm(directory, "ci")
            (directory / _TOOLING_STAMP).write_text(lock_digest + "\n")
    inputs_digest = build_inputs_digest(directory)
    built_file = directory / output
    built = installed or not built_file.is_file() or not _stamp_matches(directory / _BUILD_STAMP, inputs_digest)
    if built:
        with step(f"Building {what}, {output} (esbuild)"):
            _npm(directory, "run", "build", "--silent")
            (directory / _BUILD_STAMP).write_text(inputs_digest + "\n")
    return TrackerBuild(script=built_file, installed_tooling=installed, built=built)
