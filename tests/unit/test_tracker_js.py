"""The website tracker's own checks, run by pytest so `./beacon test` and CI run them: its unit tests (node's
test runner), its size budget, and the names it shares with the Python side."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from schemas.browser import BrowserBatch, BrowserEvent
from stack.tracker_build import TRACKER_DIR, ensure_tracker_built
from stream_processors.enrich.campaigns import CLICK_IDS, UTM_TAGS

SIZE_BUDGET_BYTES = 2560  # 2.5 KB (KiB), minified and gzipped


@pytest.fixture(scope="module")
def built_script() -> bytes:
    """The script as `./beacon up` builds it (npm ci and esbuild when missing or stale)."""
    return ensure_tracker_built().script.read_bytes()


def test_the_tracker_unit_tests_pass() -> None:
    node = shutil.which("node")
    assert node, "node is needed for the tracker's unit tests (Debian: apt-get install -y nodejs npm)"
    result = subprocess.run(
        [node, "--test", "--test-reporter=tap", "test/"], cwd=TRACKER_DIR, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert re.search(r"^# pass [1-9]", result.stdout, re.MULTILINE), result.stdout[-2000:]


def test_the_script_fits_its_size_budget_minified_and_gzipped(built_script: bytes) -> None:
    size = len(gzip.compress(built_script, compresslevel=9))
    assert size <= SIZE_BUDGET_BYTES, f"beacon.js is {size} bytes gzipped, over the budget of {SIZE_BUDGET_BYTES}"


def test_the_build_is_one_minified_script_with_no_source_maps(built_script: bytes) -> None:
    text = built_script.decode()
    assert text.startswith("(()=>{")
    assert text.count("\n") <= 1
    assert "sourceMappingURL" not in text


def _js_regex(source: Path, name: str) -> re.Pattern[str]:
    """A regular expression literal of the tracker's source, compiled in Python (the syntax they share)."""
    found = re.search(rf"{name}\s*=\s*/(.+)/[a-z]*\n", source.read_text())
    assert found, f"{name} not found in {source}"
    return re.compile(found.group(1))


def test_campaign_tags_captured_on_landing_are_those_the_stream_reads() -> None:
    campaign_tag = _js_regex(TRACKER_DIR / "src/campaign.js", "CAMPAIGN_TAG")
    for name in (*CLICK_IDS, *UTM_TAGS):
        assert campaign_tag.fullmatch(name), f"the tracker does not keep {name} from the landing URL"
    assert not campaign_tag.fullmatch("page")


def test_names_shortened_by_the_build_are_never_names_the_collector_or_the_page_sees() -> None:
    internal = _js_regex(TRACKER_DIR / "build.js", "INTERNAL_PROPERTIES")
    seen_outside = {*BrowserEvent.model_fields, *BrowserBatch.model_fields, "q", "loaded", "beacon"}
    assert not {name for name in seen_outside if internal.fullmatch(name)}


def test_the_image_builds_the_tracker_and_carries_the_script_and_the_demo_page() -> None:
    dockerfile = (TRACKER_DIR.parent / "Dockerfile").read_text()
    assert "RUN npm ci" in dockerfile
    assert "RUN npm run build" in dockerfile
    assert "COPY --from=tracker /tracker_js/dist ./tracker_js/dist" in dockerfile
    assert "COPY tracker_js/demo ./tracker_js/demo" in dockerfile
