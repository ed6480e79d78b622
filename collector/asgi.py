"""An ASGI entry point for servers started by import string (``uvicorn collector.asgi:create_from_environment
--factory``): the app built from ``BEACON_*`` settings."""

from collector.app import CollectorApp, create_app
from collector.settings import CollectorSettings
from runtime.logging import configure_logging
from runtime.settings import load_settings


def create_from_environment() -> CollectorApp:
    configure_logging("collector")
    return create_app(load_settings(CollectorSettings))
