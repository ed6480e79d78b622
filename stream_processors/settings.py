"""Settings of the stream worker and the warehouse writer."""

from __future__ import annotations

import socket
from pathlib import Path

from pydantic import Field, SecretStr

from runtime.settings import ClickHouseSettings, KafkaSettings
from schemas.sessions import SessionRules
from stream_processors.email.email_deliveries import EmailRules


class StreamWorkerSettings(KafkaSettings):
    stream_web_host: str = "127.0.0.1"
    stream_web_port: int = Field(default=6066, ge=1, le=65535)
    stream_data_dir: Path = Path(".beacon/stream")
    # Short timeouts make a worker joining or leaving rebalance in seconds, not the default minute.
    stream_session_timeout_seconds: float = Field(default=10.0, gt=0)
    # Store client IPs whole instead of anonymised (IPv4 /24, IPv6 /48). Off by default: turn it on only with
    # a legal basis to keep full addresses.
    stream_keep_full_ip: bool = False
    # A MaxMind GeoIP2/GeoLite2 City or Country database (.mmdb) for geolocation; without one, the country
    # comes from the data bundled with geoip2fast (GeoLite2 Country, no region or city).
    stream_geoip_database: Path | None = None
    # The secret the daily salts of cookieless visitor hashes are derived from (HMAC of the UTC date). Whoever
    # holds it can recompute any day's salt: keep it out of the data, and rotate it to cut old hashes loose.
    stream_visitor_salt_secret: SecretStr = SecretStr("")

    # Sessions (defaults as in GA and Plausible): a session ends after this much inactivity, at this length, on
    # a new campaign, and optionally at midnight in the time zone.
    stream_session_idle_minutes: float = Field(default=30.0, gt=0)
    stream_session_max_hours: float = Field(default=24.0, gt=0)
    stream_session_split_on_campaign: bool = True
    stream_session_split_at_midnight: bool = False
    stream_session_time_zone: str = "UTC"
    # Events delivered later than this (behind the newest receipt time of their partition) are kept but not
    # sessionized; within it, they update the sessions they belong to.
    stream_allowed_lateness_minutes: float = Field(default=60.0, gt=0)
    # More events than this from one visitor within a minute flags it as a bot (no person is that fast).
    stream_bot_max_events_per_minute: int = Field(default=120, ge=1)
    # How long a visitor's identity (and that its old sessions are closed) is remembered after its last hit.
    stream_visitor_memory_days: float = Field(default=7.0, gt=0)
    # Funnel (and later segment) definitions: YAML files under this folder, re-read when they change.
    definitions_dir: Path = Path("config")
    # How many events a person's progress in one funnel keeps (for late events); beyond, the oldest go and the
    # step they reached is kept as a floor.
    stream_funnel_max_entries: int = Field(default=256, ge=8)
    # Email opens and clicks within this many seconds of the send are a scanner's, not a person's.
    stream_email_scanner_seconds: float = Field(default=10.0, ge=0)
    # This many different links of one email clicked within this many seconds: a scanner following them all.
    stream_email_click_burst_links: int = Field(default=3, ge=2)
    stream_email_click_burst_seconds: float = Field(default=2.0, ge=0)
    # A purchase within this many days after a person's click in an email is a conversion of that email.
    stream_email_conversion_days: float = Field(default=7.0, gt=0)
    # How long (in stream time: receipt times) a person's counted event ids and sessions are remembered, so that
    # an event delivered again counts once in their profile; a person idle this long keeps only the totals.
    # Longer than any site's session idle timeout plus the allowed lateness.
    stream_person_memory_hours: float = Field(default=24.0, gt=0)
    # How many people's states the per-person agent keeps decoded in memory (the most recently active), besides
    # the encoded table, so an active person's state is not decoded on every event; 0 turns it off.
    stream_decoded_people: int = Field(default=5000, ge=0)
    # Static group membership: a worker restarted under the same id takes its partitions back at once. Empty:
    # "<host>-<web port>", unique per worker on a machine.
    stream_instance_id: str = ""

    def session_rules(self) -> SessionRules:
        minute_ms = 60_000
        return SessionRules(
            idle_timeout_ms=round(self.stream_session_idle_minutes * minute_ms),
            max_length_ms=round(self.stream_session_max_hours * 60 * minute_ms),
            split_on_campaign_change=self.stream_session_split_on_campaign,
            split_at_midnight=self.stream_session_split_at_midnight,
            time_zone=self.stream_session_time_zone,
            allowed_lateness_ms=round(self.stream_allowed_lateness_minutes * minute_ms),
        )

    def group_instance_id(self) -> str:
        return self.stream_instance_id or f"{socket.gethostname()}-{self.stream_web_port}"

    def email_rules(self) -> EmailRules:
        return EmailRules(
            scanner_seconds=self.stream_email_scanner_seconds,
            burst_links=self.stream_email_click_burst_links,
            burst_seconds=self.stream_email_click_burst_seconds,
            conversion_days=self.stream_email_conversion_days,
        )


class WarehouseWriterSettings(KafkaSettings, ClickHouseSettings):
    writer_group_id: str = "beacon-warehouse-writer"
    writer_host: str = "127.0.0.1"
    writer_port: int = Field(default=6067, ge=1, le=65535)
    writer_batch_rows: int = Field(default=5000, ge=1)
    writer_flush_interval_seconds: float = Field(default=1.0, gt=0)
    writer_max_retry_backoff_seconds: float = Field(default=30.0, gt=0)
    # Static group membership, as for the stream worker. Empty: "<host>-<port>".
    writer_instance_id: str = ""

    def group_instance_id(self) -> str:
        return self.writer_instance_id or f"{socket.gethostname()}-{self.writer_port}"
