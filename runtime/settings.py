"""Settings shared by Beacon's services, read once from ``BEACON_*`` environment variables.

Each service defines one frozen settings class that inherits the connection blocks it needs, and loads it
with :func:`load_settings`, which names the offending environment variable when a value is wrong.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "BEACON_"


class BeaconSettings(BaseSettings):
    """Base of every service's settings: immutable, prefixed, unknown variables ignored."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")


class KafkaSettings(BeaconSettings):
    kafka_bootstrap: str = Field(
        default="127.0.0.1:19092", min_length=1, description="Kafka bootstrap servers, comma separated."
    )
    # Replicas of each topic Beacon creates (provisioning, a segment's own topic): 1 for one broker, 3 on a cluster
    # (deploy/kubernetes/), so that a topic made before the cluster's own topic definitions is as safe as they are.
    kafka_replication_factor: int = Field(default=1, ge=1)


class ClickHouseSettings(BeaconSettings):
    clickhouse_url: str = Field(
        default="http://127.0.0.1:8123",
        pattern=r"^https?://",
        description="ClickHouse HTTP interface; user and password may be given in the URL.",
    )


class SettingsError(ValueError):
    """A ``BEACON_*`` variable is missing or invalid; the message names it."""


SettingsT = TypeVar("SettingsT", bound=BeaconSettings)


def load_settings(settings_class: type[SettingsT]) -> SettingsT:
    """Read ``settings_class`` from the environment, or fail with the names of the bad variables."""
    try:
        return settings_class()
    except ValidationError as error:
        problems = [
            f"{ENV_PREFIX}{'_'.join(str(part) for part in issue['loc']).upper()}: {issue['msg']}"
            for issue in error.errors()
        ]
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
