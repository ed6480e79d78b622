"""Settings of the dashboard (``BEACON_DASHBOARD_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from runtime.settings import ClickHouseSettings

MINIMUM_TOKEN_LENGTH = 16
WEB_DIR = Path(__file__).resolve().parent / "web"  # the page's sources and npm build; dist/ is served


class DashboardSettings(ClickHouseSettings):
    # Who may look: the token opens the page (`/dashboard?token=…` or the login form, then a cookie) and the JSON
    # API (`Authorization: Bearer …`). Required: the dashboard shows every site's figures.
    dashboard_token: SecretStr = SecretStr("")
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = Field(default=6069, ge=1, le=65535)
    # The page and its script (`dashboard/web/dist/`, built by `./beacon up`).
    dashboard_assets_dir: Path = WEB_DIR / "dist"
    # Each site's customer-journey stages (`journeys/<site_id>.yaml`): the same folder the stream worker reads.
    definitions_dir: Path = Path("config")
    # The longest period one request may ask for.
    dashboard_max_days: int = Field(default=400, ge=1)

    @field_validator("dashboard_token")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value().strip()) < MINIMUM_TOKEN_LENGTH:
            raise ValueError(f"a token of at least {MINIMUM_TOKEN_LENGTH} characters is needed")
        return value
