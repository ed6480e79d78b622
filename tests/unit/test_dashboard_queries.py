"""The dashboard's named queries: one copy of each, shown verbatim in the analyst guide, parameterised by the site
and the period (the end-to-end tests run them: the guide's test on generated traffic, test_dashboard.py in the
browser)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import pytest

from dashboard.app import BadRequestError, jsonable, period_of
from dashboard.queries import BY_NAME, QUERIES, DashboardFilter, guide_section
from schemas.journeys import default_journey
from tests.support.analyst_guide import GUIDE, guide_queries

KNOWN_PARAMETERS = {"site", "from", "to", "stages"}
PAGE = GUIDE.parent.parent / "dashboard" / "web" / "src"


def test_every_query_is_in_the_guide_verbatim_and_the_guide_shows_no_other() -> None:
    guide = GUIDE.read_text()
    assert guide_section() in guide, "docs/analysts.md differs: paste `python -m dashboard.queries` into it"
    shown = re.findall(r"^-- dashboard query `(\w+)`", guide, re.MULTILINE)
    assert shown == [query.name for query in QUERIES]


def test_the_guide_test_runs_each_query_with_its_parameters() -> None:
    statements = {query.sql: query for query in guide_queries()}
    for query in QUERIES:
        ran = statements[query.guide_text().removesuffix(";")]
        assert set(ran.parameters("shop")) == set(query.parameters)


def test_names_are_unique_and_parameters_known() -> None:
    assert len(BY_NAME) == len(QUERIES)
    for query in QUERIES:
        assert set(query.parameters) <= KNOWN_PARAMETERS, query.name
        assert query.title
        assert not query.sql.rstrip().endswith(";")


def test_every_query_but_the_site_list_is_about_one_site() -> None:
    for query in QUERIES:
        if query.name != "sites":
            assert "site_id = {site:String}" in query.sql, query.name


def test_period_queries_filter_on_the_sorting_keys_day() -> None:
    """Within the period's days as the tables' sorting keys name them, so ClickHouse reads only those parts."""
    assert "toDate(event_time) BETWEEN {from:Date} AND {to:Date}" in BY_NAME["top_pages"].sql
    for name in ("channels", "campaigns", "devices", "countries", "retention_cohorts"):
        assert "toDate(start_time) BETWEEN {from:Date} AND {to:Date}" in BY_NAME[name].sql, name


def test_the_journey_funnel_counts_people_per_step_as_funnels_do() -> None:
    sql = BY_NAME["journey_funnel"].sql
    assert "countIf(furthest_step >= step) AS people" in sql
    assert "ARRAY JOIN range(1, length({stages:Array(String)}) + 1) AS step" in sql
    assert "funnel_id = 'customer-journey'" in sql


def test_the_filter_gives_each_parameter() -> None:
    chosen = DashboardFilter("shop", date(2025, 1, 1), date(2025, 1, 31), default_journey("shop"))
    values = chosen.values()
    assert set(values) == KNOWN_PARAMETERS
    assert values["stages"] == ["Awareness", "Consideration", "Purchase", "Service", "Loyalty"]


def test_the_page_asks_only_for_named_queries() -> None:
    page = (PAGE / "index.html").read_text() + (PAGE / "dashboard.js").read_text()
    asked = set(re.findall(r"data-query=\"(\w+)\"", page)) | set(re.findall(r"rowsOf\('(\w+)'", page))
    asked |= set(re.findall(r"^  (\w+): draw\w+,$", page, re.MULTILINE))
    assert asked
    assert asked <= set(BY_NAME)


def test_the_period_defaults_to_the_last_30_days_and_is_checked() -> None:
    today = date(2025, 3, 31)
    assert period_of({}, today, 400) == (date(2025, 3, 2), today)
    assert period_of({"from": "2025-01-01", "to": "2025-01-31"}, today, 400) == (date(2025, 1, 1), date(2025, 1, 31))
    with pytest.raises(BadRequestError, match="from is after to"):
        period_of({"from": "2025-02-01", "to": "2025-01-31"}, today, 400)
    with pytest.raises(BadRequestError, match="days, as"):
        period_of({"from": "yesterday"}, today, 400)
    with pytest.raises(BadRequestError, match="longer than 31 days"):
        period_of({"from": "2025-01-01", "to": "2025-02-01"}, today, 31)


def test_values_become_json() -> None:
    assert jsonable(datetime(2025, 1, 2, 3, 4, tzinfo=UTC)) == "2025-01-02T03:04:00"
    assert jsonable(date(2025, 1, 2)) == "2025-01-02"
    assert jsonable(Decimal("1.5")) == 1.5
    assert jsonable(float("nan")) is None
    assert jsonable(UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert jsonable(("a", 1)) == ["a", 1]
