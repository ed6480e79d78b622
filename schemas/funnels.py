"""Funnels: the ordered steps a person takes within a conversion window, and the transitions between them.

A funnel is defined in YAML (``config/funnels/<funnel_id>.yaml``, or ``./beacon funnels add``). Its meaning is
ClickHouse's ``windowFunnel`` over a person's events: the stream keeps each person's furthest step on the fly,
and the same number comes out of ``windowFunnel(window)(event_time, step1, step2, …)`` over ``beacon.events``
(``stream_processors/funnels/funnel_sql.py`` prints that query), which the end-to-end tests check.

A person is the user id when the event carries one, else the visitor id (anonymous id or cookieless hash).
A funnel sees a site's events except page pings and events flagged as bots.

``exclusions`` end a person's attempt: the funnel is ``windowFunnel`` over the person's events strictly after
their latest event matching any exclusion (a refund, a visit to a competitor's page), so doing an excluded thing
takes them back to step 0 and they may start again. An event that matches an exclusion is never a step, even
if it matches one too (it is not after itself), and neither is another event of the same millisecond.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from uuid import UUID

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.event_matching import EventMatch, check_duration, duration_ms, yaml_shape
from schemas.yaml_definitions import read_yaml_definition

MAX_FUNNEL_STEPS = 32  # windowFunnel's own limit
FUNNEL_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class InvalidFunnelError(ValueError):
    """A funnel definition that cannot be used; the message says which part and why."""


class FunnelOrder(StrEnum):
    SEQUENTIAL = "sequential"  # other events may come between the steps (windowFunnel's default)
    STRICT = "strict"  # no other event between one step and the next (windowFunnel 'strict_order')


class FunnelStep(EventMatch):
    """An event that counts as this step."""

    name: str = Field(min_length=1, max_length=200)


class FunnelExclusion(EventMatch):
    """An event that ends the person's current attempt: only their later events count."""


class FunnelDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    funnel_id: str = Field(pattern=FUNNEL_ID_PATTERN)
    site_id: str = Field(min_length=1, max_length=63)
    name: str = ""
    window: str = "7d"  # the most time from the first step to the last: "30m", "2h", "7d"
    order: FunnelOrder = FunnelOrder.SEQUENTIAL
    steps: tuple[FunnelStep, ...] = Field(min_length=1, max_length=MAX_FUNNEL_STEPS)
    exclusions: tuple[FunnelExclusion, ...] = ()

    @field_validator("window")
    @classmethod
    def _a_duration(cls, value: str) -> str:
        return check_duration(value)

    @property
    def window_ms(self) -> int:
        return duration_ms(self.window)

    @property
    def version(self) -> str:
        """Changes whenever the meaning changes: a new version starts every person's progress over. (Exclusions
        are part of it only when there are some, so funnels defined before them kept their versions.)"""
        parts = {"site_id", "window", "order", "steps"} | ({"exclusions"} if self.exclusions else set())
        meaning = self.model_dump_json(include=parts, by_alias=True)
        return hashlib.sha256(f"{self.window_ms}|{meaning}".encode()).hexdigest()[:12]


class FunnelTransition(BaseModel):
    """A person's furthest step changed: ``beacon.funnel_transitions``, and a Kafka record keyed by person.

    ``sequence`` counts a person's transitions in one funnel version, so a record delivered twice is seen as
    the same one (by Kafka consumers and by the table's key). An exclusion lowers the step (to what the
    person's later events reach, often 0), and so can a late event in a strict funnel (an event found between
    two steps); that is a transition like any other.
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
    reached_at: datetime  # the event time at which ``to_step`` was first reached (0 after an exclusion: its time)
    event_id: UUID  # the event whose arrival made the change
    event_time: datetime
    emitted_at: datetime  # the stream worker's clock: how fresh the change was when sent

    def partition_key(self) -> bytes:
        return f"{self.site_id}:{self.person_id}".encode()


def read_funnel_definition(text: str, origin: str = "<text>") -> FunnelDefinition:
    """A funnel from its YAML text; a precise error naming ``origin`` and the bad field otherwise."""
    shape = "a funnel is a YAML mapping (funnel_id, site_id, window, steps…)"
    return read_yaml_definition(text, origin, FunnelDefinition, InvalidFunnelError, shape)


def load_funnel_file(path: Path) -> FunnelDefinition:
    return read_funnel_definition(path.read_text(encoding="utf-8"), str(path))


def funnel_yaml(funnel: FunnelDefinition) -> str:
    """The definition as YAML, in the shape a person writes it."""
    document = funnel.model_dump(mode="json", by_alias=True, exclude_none=True)
    for match in document["steps"] + document["exclusions"]:
        yaml_shape(match)
    if not document["exclusions"]:
        del document["exclusions"]
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
