"""Only the token's holder sees the dashboard: the page, the login, the cookie and the JSON API, with a stand-in
for ClickHouse (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from clickhouse_connect.driver.client import Client
from starlette.testclient import TestClient

from dashboard.access import COOKIE_NAME, session_cookie, token_matches
from dashboard.app import create_app
from dashboard.settings import DashboardSettings
from runtime.settings import SettingsError, load_settings

TOKEN = "a-token-of-the-dashboard-0123"


@dataclass
class Answer:
    column_names: tuple[str, ...]
    result_rows: list[tuple[Any, ...]]


@dataclass
class FakeClickHouse:
    asked: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def query(self, sql: str, parameters: dict[str, Any]) -> Answer:
        self.asked.append((sql, parameters))
        return Answer(("step", "stage", "people"), [(1, "Awareness", 3)])


@pytest.fixture
def clickhouse() -> FakeClickHouse:
    return FakeClickHouse()


@pytest.fixture
def browser(tmp_path: Path, clickhouse: FakeClickHouse) -> TestClient:
    (tmp_path / "index.html").write_text("<html>the dashboard</html>")
    settings = DashboardSettings(
        dashboard_token=TOKEN, dashboard_assets_dir=tmp_path, definitions_dir=tmp_path / "config"
    )  # type: ignore[arg-type]
    return TestClient(create_app(settings, cast(Client, clickhouse)), follow_redirects=False)


def test_the_token_is_compared_whole() -> None:
    assert token_matches(TOKEN, TOKEN)
    assert token_matches(f" {TOKEN}\n", TOKEN)
    assert not token_matches(TOKEN[:-1], TOKEN)
    assert not token_matches("", TOKEN)


def test_the_cookie_is_not_the_token_and_changes_with_it() -> None:
    assert TOKEN not in session_cookie(TOKEN)
    assert session_cookie(TOKEN) != session_cookie(TOKEN + "x")


def test_without_the_token_the_page_is_a_login_form_and_the_api_refuses(browser: TestClient) -> None:
    page = browser.get("/dashboard")
    assert page.status_code == 401
    assert 'action="/dashboard/login"' in page.text
    assert browser.get("/dashboard/api/queries/journey_funnel", params={"site": "shop"}).status_code == 401
    assert browser.get("/dashboard?token=wrong").status_code == 401
    assert browser.post("/dashboard/login", data={"token": "wrong"}).status_code == 401
    browser.cookies.set(COOKIE_NAME, session_cookie("another-token-0123456"))
    assert browser.get("/dashboard").status_code == 401


@pytest.mark.parametrize("how", ["link", "form"])
def test_the_token_gives_a_cookie_and_leaves_the_address_bar(browser: TestClient, how: str) -> None:
    if how == "link":
        answer = browser.get("/dashboard", params={"token": TOKEN})
    else:
        answer = browser.post("/dashboard/login", data={"token": TOKEN})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard"
    assert "httponly" in answer.headers["set-cookie"].lower()
    assert TOKEN not in answer.headers["set-cookie"]
    page = browser.get("/dashboard")
    assert page.status_code == 200
    assert page.text == "<html>the dashboard</html>"


def test_the_api_runs_a_named_query_with_its_parameters(browser: TestClient, clickhouse: FakeClickHouse) -> None:
    answer = browser.get(
        "/dashboard/api/queries/journey_funnel",
        params={"site": "shop", "from": "2025-01-01", "to": "2025-01-31"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"query": "journey_funnel", "columns": ["step", "stage", "people"],
                             "rows": [[1, "Awareness", 3]]}  # fmt: skip
    assert answer.headers["cache-control"] == "no-store"
    ((_, parameters),) = clickhouse.asked
    assert parameters == {"site": "shop", "stages": ["Awareness", "Consideration", "Purchase", "Service", "Loyalty"]}


def test_the_api_refuses_what_it_cannot_run(browser: TestClient, clickhouse: FakeClickHouse) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert browser.get("/dashboard/api/queries/no_such", headers=headers).status_code == 404
    bad_site = browser.get("/dashboard/api/queries/top_pages", params={"site": "x' OR 1"}, headers=headers)
    assert bad_site.status_code == 400
    assert "site" in bad_site.json()["error"]
    assert browser.get("/dashboard/api/queries/top_pages", params={"site": "shop", "from": "soon"},
                       headers=headers).status_code == 400  # fmt: skip
    assert clickhouse.asked == []


def test_the_dashboard_refuses_to_start_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BEACON_DASHBOARD_TOKEN", raising=False)
    with pytest.raises(SettingsError, match="BEACON_DASHBOARD_TOKEN"):
        load_settings(DashboardSettings)
    monkeypatch.setenv("BEACON_DASHBOARD_TOKEN", "short")
    with pytest.raises(SettingsError, match="BEACON_DASHBOARD_TOKEN"):
        load_settings(DashboardSettings)
