"""An ASGI entry point for servers started by import string (``uvicorn collector.asgi:create_from_environment
--factory``): the app built from ``BEACON_*`` settings."""

from fastapi import FastAPI

from collector.app import create_app
from collector.settings import CollectorSettings
from runtime.logging import configure_logging
from runtime.settings import load_settings


def create_from_environment() -> FastAPI:
    configure_logging("collector")
    return create_app(load_settings(CollectorSettings))
