"""Run the dashboard: ``python -m dashboard`` (settings from BEACON_* variables)."""

import uvicorn

from dashboard.app import create_app
from dashboard.settings import DashboardSettings
from runtime.logging import configure_logging
from runtime.settings import load_settings


def main() -> None:
    settings = load_settings(DashboardSettings)
    configure_logging("dashboard")
    uvicorn.run(
        create_app(settings),
        host=settings.dashboard_host,
        port=settings.dashboard_port,
        log_config=None,
        access_log=False,  # URLs may carry the token
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
