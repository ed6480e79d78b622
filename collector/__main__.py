"""Run the collector: ``python -m collector`` (settings from BEACON_* variables)."""

from collector.app import create_app
from collector.settings import CollectorSettings
from runtime.http_serving import serve
from runtime.logging import configure_logging
from runtime.settings import load_settings


def main() -> None:
    settings = load_settings(CollectorSettings)
    configure_logging("collector")
    serve(
        create_app(settings),
        settings.collector_host,
        settings.collector_port,
        proxy_headers=True,
        forwarded_allow_ips=settings.collector_trusted_proxies,
    )


if __name__ == "__main__":
    main()
