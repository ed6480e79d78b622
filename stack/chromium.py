"""Debian's Chromium for the browser end-to-end tests: ``/usr/bin/chromium``, installed with apt when missing.

Playwright's own browser download is not reachable from our machines (only the PyPI, Debian and npm registries
are), so Playwright for Python drives this one through ``executable_path``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
_APT_TIMEOUT_SECONDS = 900

Step = Callable[[str], AbstractContextManager[None]]


class ChromiumError(RuntimeError):
    """Chromium is missing and cannot be installed here; the message says how to install it."""


def _silent_step(_: str) -> AbstractContextManager[None]:
    return nullcontext()


def ensure_chromium(step: Step = _silent_step) -> Path:
    """Chromium's path, after installing Debian's package when it is missing (which needs root and apt-get)."""
    if CHROMIUM.exists():
        return CHROMIUM
    apt_get = shutil.which("apt-get")
    if apt_get is None or os.geteuid() != 0:
        raise ChromiumError(
            f"the browser tests need Chromium at {CHROMIUM}: install it with `sudo apt-get install -y chromium`"
        )
    with step("Installing Chromium with apt-get (for the browser end-to-end tests)"):
        environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = [apt_get, "install", "-y", "--no-install-recommends", "chromium"]
        if _apt(install, environment).returncode != 0:  # a stale package index: refresh it once
            _apt([apt_get, "update"], environment)
            result = _apt(install, environment)
            if result.returncode != 0:
                tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
                raise ChromiumError(f"`apt-get install chromium` failed:\n{tail}")
    if not CHROMIUM.exists():
        raise ChromiumError(f"apt-get installed chromium, but {CHROMIUM} is still missing")
    return CHROMIUM


def _apt(command: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=_APT_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        raise ChromiumError(f"`{' '.join(command)}` took over {_APT_TIMEOUT_SECONDS} s") from None
