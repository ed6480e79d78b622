"""Run the collector: ``python -m collector`` (settings from BEACON_* variables)."""

import uvicorn

from collector.app import create_app
from collector.settings import CollectorSettings
from runtime.logging import configure_logging
from runtime.settings import load_settings


def main() -> None:
    settings = load_settings(CollectorSettings)
    configure_logging("collector")
    uvicorn.run(
        create_app(settings),
        host=settings.collector_host,
        port=settings.collector_port,
        proxy_headers=True,
        forwarded_allow_ips=settings.collector_trusted_proxies,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
