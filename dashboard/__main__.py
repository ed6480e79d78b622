"""Run the dashboard: ``python -m dashboard`` (settings from BEACON_* variables)."""

from dashboard.app import create_app
from dashboard.settings import DashboardSettings
from runtime.http_serving import serve
from runtime.logging import configure_logging
from runtime.settings import load_settings


def main() -> None:
    settings = load_settings(DashboardSettings)
    configure_logging("dashboard")
    serve(create_app(settings), settings.dashboard_host, settings.dashboard_port, graceful_shutdown_seconds=5)


if __name__ == "__main__":
    main()
