"""Settings of the segment webhook sender."""

from __future__ import annotations

import socket
from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from destinations.webhook_retries import RetryPolicy
from runtime.settings import KafkaSettings


class SegmentWebhookSettings(KafkaSettings):
    # Keys that sign every request, comma separated, newest first: each request carries one signature per key,
    # so receivers can move to a new key while the old one still verifies (docs/segments.md, rotating keys).
    webhook_signing_keys: SecretStr = SecretStr("")
    webhook_host: str = "127.0.0.1"
    webhook_port: int = Field(default=6068, ge=1, le=65535)
    webhook_group_id: str = "beacon-segment-webhooks"
    # Static group membership, as for the writer. Empty: "<host>-<port>".
    webhook_instance_id: str = ""
    # Segment definitions (and their webhooks): the same folder the stream worker reads.
    definitions_dir: Path = Path("config")
    # One attempt's limit, unless a destination sets its own `timeout`.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_max_attempts: int = Field(default=12, ge=1)
    # A change still failing this long after its first attempt goes to dead letters, unless a destination sets
    # its own `give_up_after`. Meanwhile later changes keep flowing, but offsets cannot pass it.
    webhook_give_up_after_seconds: float = Field(default=3600.0, gt=0)
    webhook_first_retry_seconds: float = Field(default=1.0, gt=0)
    webhook_max_retry_seconds: float = Field(default=300.0, gt=0)
    # Requests in flight at once, over every destination.
    webhook_concurrency: int = Field(default=64, ge=1)
    # Changes read but not yet delivered, per partition: beyond, the partition is paused (memory stays bounded).
    webhook_max_pending_per_partition: int = Field(default=1000, ge=1)

    @field_validator("webhook_signing_keys")
    @classmethod
    def _at_least_one_key(cls, value: SecretStr) -> SecretStr:
        if not [key for key in value.get_secret_value().split(",") if key.strip()]:
            raise ValueError("at least one signing key is needed (comma separated, newest first)")
        return value

    def signing_keys(self) -> list[str]:
        return [key.strip() for key in self.webhook_signing_keys.get_secret_value().split(",") if key.strip()]

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.webhook_max_attempts,
            give_up_after_seconds=self.webhook_give_up_after_seconds,
            first_retry_seconds=self.webhook_first_retry_seconds,
            max_retry_seconds=self.webhook_max_retry_seconds,
        )

    def group_instance_id(self) -> str:
        return self.webhook_instance_id or f"{socket.gethostname()}-{self.webhook_port}"
