"""Fuzz fixtures: the running collector as a target, a ledger per test, and the checks made once at the end.

Each test checks every answer as it comes (no 5xx, the GIF, a refusal naming its dead letters). What must
reach ClickHouse is looked up once, after the last fuzz test, in one wait: every dead letter named, every
marker sent; and the stack must have logged no error meanwhile. A full run of the suite must also have
generated at least ``MIN_CASES`` cases.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from clickhouse_connect.driver.client import Client

from schemas.email import EmailTokens
from stack.email_keys import email_signing_keys
from stack.settings import StackSettings
from tests.fuzz.harness import Collector, Ledger, assert_nothing_lost, errors_logged_since, log_sizes
from tests.support.sites import RegisteredSite

MIN_CASES = 10_000  # the acceptance criterion, for a full run of tests/fuzz
SENDERS = 16  # requests in flight: the JSON APIs answer once the broker has acked, so they are mostly waiting
STORED_WITHIN_SECONDS = 60
FUZZ_DIR = Path(__file__).resolve().parent

_LEDGERS: list[Ledger] = []
_DESELECTED: list[str] = []


@pytest.fixture(scope="package")
def fuzz_target(
    beacon_stack: StackSettings, registered_site: RegisteredSite, clickhouse: Client
) -> Iterator[Collector]:
    """The collector; after the last fuzz test (package scope: before other tests use the stack), everything
    the fuzz tests sent is looked up in ClickHouse and the stack's logs are read for errors logged meanwhile."""
    limits = httpx.Limits(max_connections=SENDERS, max_keepalive_connections=SENDERS)
    logged_before = log_sizes(beacon_stack.log_dir)
    with httpx.Client(timeout=30, limits=limits) as client, ThreadPoolExecutor(SENDERS) as pool:
        yield Collector(
            url=beacon_stack.collector_url,
            site_id=registered_site.site_id,
            write_key=registered_site.write_key,
            email_tokens=EmailTokens(email_signing_keys(beacon_stack.home).split(",")),
            client=client,
            pool=pool,
        )
    try:
        if _LEDGERS:
            assert_nothing_lost(_LEDGERS, registered_site.site_id, clickhouse, STORED_WITHIN_SECONDS)
    finally:
        errors = errors_logged_since(logged_before, beacon_stack.log_dir)
        assert not errors, f"the stack logged {len(errors)} errors while fuzzed:\n" + "\n".join(errors[:10])


@pytest.fixture
def ledger(request: pytest.FixtureRequest, fuzz_target: Collector) -> Iterator[Ledger]:
    """What this test sent, looked up in ClickHouse after the last fuzz test."""
    kept = Ledger(request.node.nodeid)
    yield kept
    _LEDGERS.append(kept)


@pytest.fixture(scope="package", autouse=True)
def suite_case_count(request: pytest.FixtureRequest) -> Iterator[None]:
    """When the whole fuzz suite ran (every module, nothing deselected, nothing failed), it must have generated
    at least ``MIN_CASES`` cases."""
    yield
    ran = {item.nodeid for item in request.session.items if item.path.parent == FUZZ_DIR}
    modules = {item.path for item in request.session.items if item.path.parent == FUZZ_DIR}
    counted = {ledger.test for ledger in _LEDGERS}
    whole_suite = modules == set(FUZZ_DIR.glob("test_*.py")) and not _DESELECTED
    if whole_suite and not request.session.testsfailed and counted:
        total = sum(ledger.cases for ledger in _LEDGERS if ledger.test in ran)
        assert total >= MIN_CASES, f"the fuzz suite generated {total} cases, fewer than {MIN_CASES}"


def pytest_deselected(items: list[pytest.Item]) -> None:
    _DESELECTED.extend(item.nodeid for item in items if item.path.parent == FUZZ_DIR)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The cases of each fuzz test (parametrizations on one line), and the total."""
    if not _LEDGERS:
        return
    by_test: dict[str, list[Ledger]] = {}
    for ledger in _LEDGERS:
        by_test.setdefault(ledger.test.partition("[")[0], []).append(ledger)
    terminalreporter.write_sep("-", f"fuzz cases: {sum(ledger.cases for ledger in _LEDGERS)}")
    for test, ledgers in sorted(by_test.items()):
        parts = ", ".join(f"{ledger.cases} {ledger.test.partition('[')[2].rstrip(']')}" for ledger in ledgers)
        terminalreporter.write_line(f"{sum(ledger.cases for ledger in ledgers):>6}  {test}: {parts}")
