"""How each Kafka topic's records become rows of a ClickHouse table (the columns match the migrations)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from schemas.dead_letters import DeadLetter
from schemas.events import Event
from schemas.topics import DEAD_LETTERS, EVENTS

Row = tuple[Any, ...]


@dataclass(frozen=True)
class WarehouseTable:
    """A topic whose records land in a table: decode with ``model``, then ``to_row`` in ``columns`` order."""

    topic: str
    table: str
    model: type[BaseModel]
    columns: Sequence[str]
    to_row: Callable[[Any], Row]

    def row_from_json(self, payload: bytes) -> Row:
        return self.to_row(self.model.model_validate_json(payload))


def _event_row(event: Event) -> Row:
    return (
        event.event_id,
        event.site_id,
        event.event_name,
        event.event_time,
        event.received_at,
        event.anonymous_id,
        event.user_id,
        event.url,
        event.referrer,
        event.user_agent,
        event.ip,
        event.properties,
        event.source.value,
    )


def _dead_letter_row(letter: DeadLetter) -> Row:
    return (
        letter.dead_letter_id,
        letter.stage.value,
        letter.reason.value,
        letter.detail,
        letter.site_id,
        letter.received_at,
        letter.rejected_at,
        letter.payload,
    )


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
        "url",
        "referrer",
        "user_agent",
        "ip",
        "properties",
        "source",
    ),
    to_row=_event_row,
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
    ),
    to_row=_dead_letter_row,
)

WAREHOUSE_TABLES: tuple[WarehouseTable, ...] = (EVENTS_TABLE, DEAD_LETTERS_TABLE)
