"""Every query in the analyst guide (docs/analysts.md) runs against a stack that received generated traffic, so the
guide cannot rot: each statement of each ```sql block, on the generated site (its id in place of the guide's
``'demo'``, and its id, the last 30 days and the default journey's stages for the parameters of the dashboard's
queries), must run, and return rows unless a comment in it says ``(may be empty)``. Queries added to the guide
later are picked up by themselves; the funnels they name are installed for the site before the traffic."""

from __future__ import annotations

import time

import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from tests.e2e.conftest import GeneratedSite
from tests.support.analyst_guide import GUIDE, GuideQuery, guide_queries

QUERIES = guide_queries()
SETTLE_SECONDS = 30  # a stage the fixture does not wait for (a newer one) may still be catching up


def test_every_sql_block_of_the_guide_is_collected() -> None:
    text = GUIDE.read_text()
    assert text.count("```sql\n") == len({query.block for query in QUERIES})
    assert len(QUERIES) >= 20


@pytest.mark.parametrize("query", QUERIES, ids=[f"line-{query.line}" for query in QUERIES])
def test_the_guide_query_runs_on_generated_traffic(
    query: GuideQuery, generated_site: GeneratedSite, clickhouse: Client
) -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        try:
            sql, site_id = query.on_site(generated_site.site_id), generated_site.site_id
            rows = clickhouse.query(sql, parameters=query.parameters(site_id)).result_rows
        except ClickHouseError as error:
            pytest.fail(f"docs/analysts.md line {query.line}: {error}\n{query.sql}")
        if rows or query.may_be_empty or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert rows or query.may_be_empty, f"docs/analysts.md line {query.line} returned no rows:\n{query.sql}"
