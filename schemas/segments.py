"""Live segments: people who match rules over their behaviour now, and their entering and leaving.

A segment is defined in YAML (``config/segments/<segment_id>.yaml``, or ``./beacon segments add``): rules that
must all hold for a person (the user id when known, else the visitor id) at a moment ``T``:

- ``count``: at least (and at most) so many events matching, in the last ``in_last`` before T (or ever);
- ``did`` … ``then_not`` … ``within``: some event matching ``did`` (in the last ``in_last``) was not followed
  by one matching ``then_not`` within ``within``, and that time is up ("added to cart, no purchase within 1h");
- ``not_seen_for`` / ``seen_within``: the person's latest event is older / newer than that;
- ``attribute``: the value of a field (country, device type…) on the person's latest event that has one.

A segment may also name webhook destinations: each change is POSTed, signed, to each of their URLs by the
webhook sender (``destinations/segment_webhooks.py``). They are not part of the segment's meaning: changing
them leaves its ``version`` (and its members) as they are.

The stream evaluates each person on each of their events and when time alone changes the answer (a window
slides, a deadline passes), and emits a ``SegmentChange`` for every entry and exit. The same rules evaluated in
SQL over ``beacon.events`` at T give the same members (``stream_processors/segments/segment_sql.py``).
Events of bots and page pings are not counted.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.event_matching import Condition, EventMatch, check_duration, duration_ms, yaml_shape
from schemas.yaml_definitions import read_yaml_definition

SEGMENT_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
SEGMENT_TOPIC_PREFIX = "beacon.segment."

# Fields a rule may read from the person's latest event that has a value.
PERSON_ATTRIBUTES = frozenset(
    {"country", "region", "city", "device_type", "browser", "os", "channel", "locale", "utm_source", "utm_campaign"}
)


class InvalidSegmentError(ValueError):
    """A segment definition that cannot be used; the message says which part and why."""


def _duration(value: str | None) -> str | None:
    return None if value is None else check_duration(value)


class CountRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    count: EventMatch
    at_least: int = Field(default=1, ge=0)
    at_most: int | None = Field(default=None, ge=0)
    in_last: str | None = None  # a duration; None: ever

    _check_in_last = field_validator("in_last")(_duration)


class AbsenceRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    did: EventMatch
    then_not: EventMatch
    within: str
    in_last: str | None = None  # only ``did`` events in the last ``in_last`` count

    _check_within = field_validator("within")(check_duration)
    _check_in_last = field_validator("in_last")(_duration)


class RecencyRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    not_seen_for: str | None = None
    seen_within: str | None = None

    _check = field_validator("not_seen_for", "seen_within")(_duration)

    @model_validator(mode="after")
    def _one_of_the_two(self) -> RecencyRule:
        if (self.not_seen_for is None) == (self.seen_within is None):
            raise ValueError("a recency rule has one of not_seen_for and seen_within")
        return self


class AttributeRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    attribute: str
    condition: Condition = Field(alias="is")

    @field_validator("attribute")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in PERSON_ATTRIBUTES:
            raise ValueError(f"unknown attribute {value!r}: one of {', '.join(sorted(PERSON_ATTRIBUTES))}")
        return value


SegmentRule = CountRule | AbsenceRule | RecencyRule | AttributeRule


class WebhookDestination(BaseModel):
    """Where a segment's entries and exits are POSTed (signed, retried: docs/segments.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(max_length=2048)
    # How long one attempt may take; None: BEACON_WEBHOOK_TIMEOUT_SECONDS.
    timeout: str | None = None
    # How long after the first attempt a change is still retried before it goes to dead letters; None:
    # BEACON_WEBHOOK_GIVE_UP_AFTER_SECONDS.
    give_up_after: str | None = None

    _check_durations = field_validator("timeout", "give_up_after")(_duration)

    @field_validator("url")
    @classmethod
    def _absolute_http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("a webhook url is an absolute http(s) URL")
        if parts.fragment:
            raise ValueError("a webhook url has no #fragment")
        return value

    @property
    def timeout_ms(self) -> int | None:
        return window_ms(self.timeout)

    @property
    def give_up_after_ms(self) -> int | None:
        return window_ms(self.give_up_after)

    @property
    def shown_url(self) -> str:
        """The URL without credentials or query string, for logs, metrics and dead letters."""
        parts = urlsplit(self.url)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


class SegmentDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    segment_id: str = Field(pattern=SEGMENT_ID_PATTERN)
    site_id: str = Field(min_length=1, max_length=63)
    name: str = ""
    rules: tuple[SegmentRule, ...] = Field(min_length=1, max_length=20)
    webhooks: tuple[WebhookDestination, ...] = Field(default=(), max_length=10)

    @field_validator("webhooks")
    @classmethod
    def _distinct_urls(cls, value: tuple[WebhookDestination, ...]) -> tuple[WebhookDestination, ...]:
        urls = [destination.url for destination in value]
        if len(set(urls)) != len(urls):
            raise ValueError("each webhook url is named once")
        return value

    @property
    def version(self) -> str:
        """Changes whenever the meaning changes: a new version evaluates everyone afresh. Only the site and the
        rules mean something; the name and the webhooks can change without a new version."""
        meaning = self.model_dump_json(include={"site_id", "rules"}, by_alias=True)
        return hashlib.sha256(meaning.encode()).hexdigest()[:12]

    @property
    def topic(self) -> str:
        """The Kafka topic of this segment's entries and exits, for marketing tools."""
        return SEGMENT_TOPIC_PREFIX + self.segment_id


class Change(StrEnum):
    ENTERED = "entered"
    EXITED = "exited"


class SegmentChange(BaseModel):
    """A person entered or left a segment (schema version 1, docs/segments.md).

    Published on the segment's own topic (``beacon.segment.<segment_id>``), keyed ``site_id:person_id``, and
    on ``beacon.segment_changes`` for ``beacon.segment_changes`` in ClickHouse. ``sequence`` counts the
    person's changes in the segment's version: a consumer seeing a sequence twice has seen a re-delivery.
    """

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = 1
    site_id: str
    segment_id: str
    segment_version: str
    person_id: str
    change: Change
    sequence: int
    changed_at: datetime  # the moment the stream saw it: the event's arrival, or the time a window moved
    event_id: str  # the event that caused it; '' when time alone did (a deadline passed, a window slid)

    def partition_key(self) -> bytes:
        return f"{self.site_id}:{self.person_id}".encode()


def read_segment_definition(text: str, origin: str = "<text>") -> SegmentDefinition:
    shape = "a segment is a YAML mapping (segment_id, site_id, rules)"
    return read_yaml_definition(text, origin, SegmentDefinition, InvalidSegmentError, shape)


def load_segment_file(path: Path) -> SegmentDefinition:
    return read_segment_definition(path.read_text(encoding="utf-8"), str(path))


def segment_yaml(segment: SegmentDefinition) -> str:
    document = segment.model_dump(mode="json", by_alias=True, exclude_none=True)
    if not document["webhooks"]:
        del document["webhooks"]
    for rule in document["rules"]:
        for key in ("count", "did", "then_not"):
            if key in rule:
                yaml_shape(rule[key])
        if "is" in rule:
            rule["is"] = rule["is"].get("equals", rule["is"])
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def window_ms(duration: str | None) -> int | None:
    return None if duration is None else duration_ms(duration)
