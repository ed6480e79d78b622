"""Funnels: the ordered steps a person takes within a conversion window, and the transitions between them.

A funnel is defined in YAML (``config/funnels/<funnel_id>.yaml``, or ``./beacon funnels add``). Its meaning is
ClickHouse's ``windowFunnel`` over a person's events: the stream keeps each person's furthest step on the fly,
and the same number comes out of ``windowFunnel(window)(event_time, step1, step2, …)`` over ``beacon.events``
(``stream_processors/funnels/funnel_sql.py`` prints that query), which the end-to-end tests check.

A person is the user id when the event carries one, else the visitor id (anonymous id or cookieless hash).
A funnel sees a site's events except page pings and events flagged as bots.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from uuid import UUID

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

MAX_FUNNEL_STEPS = 32  # windowFunnel's own limit
FUNNEL_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
PROPERTY_PREFIX = "properties."

# The event columns a step may filter on (all are strings in beacon.events); plus any ``properties.<key>``.
MATCHABLE_FIELDS = frozenset(
    {
        "url", "referrer", "referrer_host", "referrer_source", "channel", "source", "locale",
        "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "click_id_type",
        "country", "region", "city", "device_type", "browser", "os",
    }
)  # fmt: skip

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


class InvalidFunnelError(ValueError):
    """A funnel definition that cannot be used; the message says which part and why."""


class FunnelOrder(StrEnum):
    SEQUENTIAL = "sequential"  # other events may come between the steps (windowFunnel's default)
    STRICT = "strict"  # no other event between one step and the next (windowFunnel 'strict_order')


class Condition(BaseModel):
    """One test on a text field; a bare value in YAML means ``equals``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    equals: str | None = None
    one_of: tuple[str, ...] | None = Field(default=None, alias="in")
    contains: str | None = None
    starts_with: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_value_is_equals(cls, value: Any) -> Any:
        if isinstance(value, str | int | float | bool):
            return {"equals": _as_text(value)}
        if isinstance(value, list):
            return {"in": [_as_text(item) for item in value]}
        return value

    @model_validator(mode="after")
    def _exactly_one_test(self) -> Condition:
        given = [name for name in ("equals", "one_of", "contains", "starts_with") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("a condition is one of: a value, a list, {contains: …} or {starts_with: …}")
        if self.one_of == ():
            raise ValueError("a list of values to match is not empty")
        return self

    def holds_for(self, text: str) -> bool:
        if self.equals is not None:
            return text == self.equals
        if self.one_of is not None:
            return text in self.one_of
        if self.contains is not None:
            return self.contains in text
        return text.startswith(self.starts_with or "")


class FunnelStep(BaseModel):
    """An event that counts as this step: one of ``event`` names, with every ``where`` condition holding."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    event: tuple[str, ...] = Field(min_length=1)
    where: dict[str, Condition] = Field(default_factory=dict)

    @field_validator("event", mode="before")
    @classmethod
    def _one_name_or_several(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("where")
    @classmethod
    def _known_fields(cls, value: dict[str, Condition]) -> dict[str, Condition]:
        for field in value:
            if field not in MATCHABLE_FIELDS and not (field.startswith(PROPERTY_PREFIX) and len(field) > 11):
                known = ", ".join(sorted(MATCHABLE_FIELDS))
                raise ValueError(f"cannot filter on {field!r}: use properties.<key> or one of {known}")
        return value


class FunnelDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    funnel_id: str = Field(pattern=FUNNEL_ID_PATTERN)
    site_id: str = Field(min_length=1, max_length=63)
    name: str = ""
    window: str = "7d"  # the most time from the first step to the last: "30m", "2h", "7d"
    order: FunnelOrder = FunnelOrder.SEQUENTIAL
    steps: tuple[FunnelStep, ...] = Field(min_length=1, max_length=MAX_FUNNEL_STEPS)

    @field_validator("window")
    @classmethod
    def _a_duration(cls, value: str) -> str:
        if _DURATION.match(value) is None or duration_ms(value) <= 0:
            raise ValueError("a window is a positive number and a unit: '45s', '30m', '2h' or '7d'")
        return value

    @property
    def window_ms(self) -> int:
        return duration_ms(self.window)

    @property
    def version(self) -> str:
        """Changes whenever the meaning changes: a new version starts every person's progress over."""
        meaning = self.model_dump_json(include={"site_id", "window", "order", "steps"}, by_alias=True)
        return hashlib.sha256(f"{self.window_ms}|{meaning}".encode()).hexdigest()[:12]


class FunnelTransition(BaseModel):
    """A person's furthest step changed: ``beacon.funnel_transitions``, and a Kafka record keyed by person.

    ``sequence`` counts a person's transitions in one funnel version, so a record delivered twice is seen as
    the same one (by Kafka consumers and by the table's key). A late event can also lower the step of a strict
    funnel (an event found between two steps); that is a transition like any other.
    """

    model_config = ConfigDict(frozen=True)

    site_id: str
    funnel_id: str
    funnel_version: str
    person_id: str
    sequence: int
    from_step: int
    to_step: int
    step_name: str  # the name of ``to_step`` ('' for 0)
    reached_at: datetime  # the event time at which ``to_step`` was first reached
    event_id: UUID  # the event whose arrival made the change
    event_time: datetime
    emitted_at: datetime  # the stream worker's clock: how fresh the change was when sent

    def partition_key(self) -> bytes:
        return f"{self.site_id}:{self.person_id}".encode()


def duration_ms(text: str) -> int:
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r}")
    return round(float(match.group(1)) * _UNIT_MS[match.group(2)])


def read_funnel_definition(text: str, origin: str = "<text>") -> FunnelDefinition:
    """A funnel from its YAML text; a precise error naming ``origin`` and the bad field otherwise."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidFunnelError(f"{origin}: not YAML: {error}") from None
    if not isinstance(document, dict):
        raise InvalidFunnelError(f"{origin}: a funnel is a YAML mapping (funnel_id, site_id, window, steps…)")
    try:
        return FunnelDefinition.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, item['loc'])) or 'funnel'}: {item['msg']}" for item in error.errors())
        raise InvalidFunnelError(f"{origin}: {problems}") from None


def load_funnel_file(path: Path) -> FunnelDefinition:
    return read_funnel_definition(path.read_text(encoding="utf-8"), str(path))


def funnel_yaml(funnel: FunnelDefinition) -> str:
    """The definition as YAML, in the shape a person writes it."""
    document = funnel.model_dump(mode="json", by_alias=True, exclude_none=True)
    for step in document["steps"]:
        step["event"] = step["event"][0] if len(step["event"]) == 1 else step["event"]
        if not step["where"]:
            del step["where"]
        for field, condition in step.get("where", {}).items():
            step["where"][field] = condition.get("equals", condition)
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def _as_text(value: str | int | float | bool) -> str:
    """As beacon.events keeps properties: booleans and numbers as their JSON text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
