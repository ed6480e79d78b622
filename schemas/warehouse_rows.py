"""How each Kafka topic's records become rows of a ClickHouse table (the columns match the migrations)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from schemas.dead_letters import DeadLetter
from schemas.email import EmailDelivery
from schemas.events import Event
from schemas.funnels import FunnelTransition
from schemas.profiles import CustomerProfile
from schemas.segments import SegmentChange
from schemas.stream_records import BotVisitor, EventSessionChange, IdentityLink, SessionRecord
from schemas.topics import (
    BOT_VISITORS,
    CUSTOMER_PROFILES,
    DEAD_LETTERS,
    EMAIL_DELIVERIES,
    EVENT_SESSION_CHANGES,
    EVENTS,
    FUNNEL_TRANSITIONS,
    IDENTITIES,
    SEGMENT_CHANGES,
    SESSIONS,
)

Row = tuple[Any, ...]


@dataclass(frozen=True)
class WrittenRows:
    """Where a table that cannot absorb a repeated row (a collapsing table) records the keys of rows written,
    so the writer skips a row sent twice (``key`` are the columns that identify a row)."""

    table: str
    key: Sequence[str]


@dataclass(frozen=True)
class WarehouseTable:
    """A topic whose records land in a table: each column is the model's field of the same name."""

    topic: str
    table: str
    model: type[BaseModel]
    columns: Sequence[str]
    written_rows: WrittenRows | None = None  # None: the table itself absorbs repeats (ReplacingMergeTree)

    def row_from_json(self, payload: bytes) -> Row:
        record = self.model.model_validate_json(payload)
        return tuple(getattr(record, column) for column in self.columns)


EVENTS_TABLE = WarehouseTable(
    topic=EVENTS.name,
    table="beacon.events",
    model=Event,
    columns=(
        "event_id",
        "site_id",
        "event_name",
        "event_time",
        "received_at",
        "anonymous_id",
        "user_id",
        "visitor_id",
        "session_id",
        "too_late",
        "time_clamped",
        "url",
        "referrer",
        "user_agent",
        "ip",
        "locale",
        "do_not_track",
        "global_privacy_control",
        "consent",
        "browser",
        "browser_version",
        "os",
        "os_version",
        "device_type",
        "is_bot",
        "bot_reason",
        "country",
        "region",
        "city",
        "channel",
        "referrer_host",
        "referrer_source",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
        "click_id_type",
        "visitor_hash",
        "mail_fetcher",
        "properties",
        "source",
    ),
)
DEAD_LETTERS_TABLE = WarehouseTable(
    topic=DEAD_LETTERS.name,
    table="beacon.dead_letters",
    model=DeadLetter,
    columns=(
        "dead_letter_id",
        "stage",
        "reason",
        "detail",
        "site_id",
        "received_at",
        "rejected_at",
        "payload",
        "payload_bytes",
    ),
)

SESSIONS_TABLE = WarehouseTable(
    topic=SESSIONS.name,
    table="beacon.sessions",
    model=SessionRecord,
    columns=tuple(SessionRecord.model_fields),
    written_rows=WrittenRows(table="beacon.session_rows_written", key=("session_id", "version", "sign")),
)
EVENT_SESSION_CHANGES_TABLE = WarehouseTable(
    topic=EVENT_SESSION_CHANGES.name,
    table="beacon.event_session_changes",
    model=EventSessionChange,
    columns=tuple(EventSessionChange.model_fields),
)
IDENTITIES_TABLE = WarehouseTable(
    topic=IDENTITIES.name, table="beacon.identities", model=IdentityLink, columns=tuple(IdentityLink.model_fields)
)
BOT_VISITORS_TABLE = WarehouseTable(
    topic=BOT_VISITORS.name, table="beacon.bot_visitors", model=BotVisitor, columns=tuple(BotVisitor.model_fields)
)

FUNNEL_TRANSITIONS_TABLE = WarehouseTable(
    topic=FUNNEL_TRANSITIONS.name,
    table="beacon.funnel_transitions",
    model=FunnelTransition,
    columns=tuple(FunnelTransition.model_fields),
)

EMAIL_DELIVERIES_TABLE = WarehouseTable(
    topic=EMAIL_DELIVERIES.name,
    table="beacon.email_deliveries",
    model=EmailDelivery,
    columns=tuple(EmailDelivery.model_fields),
)

CUSTOMER_PROFILES_TABLE = WarehouseTable(
    topic=CUSTOMER_PROFILES.name,
    table="beacon.customer_profiles",
    model=CustomerProfile,
    columns=tuple(CustomerProfile.model_fields),
)

SEGMENT_CHANGES_TABLE = WarehouseTable(
    topic=SEGMENT_CHANGES.name,
    table="beacon.segment_changes",
    model=SegmentChange,
    columns=tuple(SegmentChange.model_fields),
)

WAREHOUSE_TABLES: tuple[WarehouseTable, ...] = (
    EVENTS_TABLE,
    DEAD_LETTERS_TABLE,
    SESSIONS_TABLE,
    EVENT_SESSION_CHANGES_TABLE,
    IDENTITIES_TABLE,
    BOT_VISITORS_TABLE,
    FUNNEL_TRANSITIONS_TABLE,
    EMAIL_DELIVERIES_TABLE,
    CUSTOMER_PROFILES_TABLE,
    SEGMENT_CHANGES_TABLE,
)
