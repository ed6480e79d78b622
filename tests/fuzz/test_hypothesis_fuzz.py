"""Hypothesis against the running collector: every API's inputs, valid, near-valid and hostile.

Each example is a list of requests sent at once (the JSON APIs spend most of a request waiting for the broker).
Every answer must be the one its route promises (no 5xx, the GIF, a refusal naming its dead letters), and at
the end every refused input must be in ``beacon.dead_letters`` and every marker in events or dead letters.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import strategies
from tests.fuzz.harness import Collector, Ledger, Probe, fuzz_settings

pytestmark = pytest.mark.fuzz

MIN_REQUESTS_PER_EXAMPLE, MAX_REQUESTS_PER_EXAMPLE = 4, 16  # about 9 on average


def fuzz(target: Collector, ledger: Ledger, probes: st.SearchStrategy[Probe], examples: int) -> None:
    """Run ``examples`` hypothesis examples of a few probes each (tests/fuzz/conftest.py then looks for every
    input in ClickHouse)."""

    @fuzz_settings(examples)
    @given(st.lists(probes, min_size=MIN_REQUESTS_PER_EXAMPLE, max_size=MAX_REQUESTS_PER_EXAMPLE))
    def send(batch: list[Probe]) -> None:
        target.send_all(batch, ledger)

    send()


Suite = Callable[[Collector], st.SearchStrategy[Probe]]


@pytest.mark.parametrize(
    ("probes", "examples"),
    [
        pytest.param(lambda target: strategies.pixel_probes(target.site_id), 560, id="pixel"),
        pytest.param(
            lambda target: st.one_of(
                strategies.snowplow_get_probes(target.site_id), strategies.tp2_probes(target.site_id)
            ),
            240,
            id="snowplow",
        ),
        pytest.param(lambda target: strategies.browser_probes(target.site_id), 220, id="browser"),
        pytest.param(lambda target: strategies.segment_probes(target.write_key), 200, id="segment"),
        pytest.param(lambda target: strategies.email_probes(), 220, id="email"),
        pytest.param(
            lambda target: st.one_of(
                strategies.hostile_probes(target.site_id, target.write_key), strategies.preflight_probes()
            ),
            170,
            id="hostile",
        ),
    ],
)
def test_every_input_is_answered_and_kept(probes: Suite, examples: int, fuzz_target: Collector, ledger: Ledger) -> None:
    fuzz(fuzz_target, ledger, probes(fuzz_target), examples)
