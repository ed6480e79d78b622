"""The tracker's build as `./beacon up` and `./beacon test` run it on a fresh clone: npm ci and esbuild when
missing, nothing when current, a rebuild when a source changed."""

from __future__ import annotations

import shutil
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from stack.tracker_build import SCRIPT_PATH, TRACKER_DIR, ensure_tracker_built


def test_a_fresh_clone_installs_and_builds_then_only_rebuilds_what_changed(tmp_path: Path) -> None:
    clone = tmp_path / "tracker_js"
    shutil.copytree(TRACKER_DIR, clone, ignore=shutil.ignore_patterns("node_modules", "dist"))
    steps: list[str] = []

    def step(title: str) -> AbstractContextManager[None]:
        steps.append(title)
        return nullcontext()

    first = ensure_tracker_built(clone, step)
    assert (first.installed_tooling, first.built) == (True, True)
    assert first.script == clone / SCRIPT_PATH
    assert first.script.read_bytes().startswith(b"(()=>{")
    assert steps == [
        "Installing the tracker's build tooling (npm ci in tracker_js/)",
        f"Building the tracker, {SCRIPT_PATH} (esbuild)",
    ]
    again = ensure_tracker_built(clone, step)
    assert (again.installed_tooling, again.built, len(steps)) == (False, False, 2)

    source = clone / "src/properties.js"
    source.write_text(source.read_text().replace("MAX_VALUE_LENGTH = 2048", "MAX_VALUE_LENGTH = 1024"))
    changed = ensure_tracker_built(clone, step)
    assert (changed.installed_tooling, changed.built) == (False, True)
    assert b"1024" in changed.script.read_bytes()
