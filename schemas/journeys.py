"""The customer journey: where each person is on awareness → consideration → purchase → service → loyalty.

A journey is a built-in funnel of stages, each reached when any of its criteria holds: at least N events
matching (ever). A person's stage is the furthest stage whose criterion holds (a repeat buyer who never asked for
support is at loyalty). It is kept on the fly like a funnel and written to ``beacon.funnel_transitions`` as
funnel ``customer-journey``. Every site has ``DEFAULT_JOURNEY``; a site sets its own stages in
``config/journeys/<site_id>.yaml``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.segments import CountRule
from schemas.yaml_definitions import read_yaml_definition

JOURNEY_FUNNEL_ID = "customer-journey"
PURCHASES = ["purchase", "order_completed", "Order Completed"]


class InvalidJourneyError(ValueError):
    """A journey definition that cannot be used; the message says which part and why."""


class JourneyStage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    any_of: tuple[CountRule, ...] = Field(min_length=1, max_length=10)

    @field_validator("any_of")
    @classmethod
    def _counts_ever(cls, rules: tuple[CountRule, ...]) -> tuple[CountRule, ...]:
        if any(rule.in_last is not None or rule.at_most is not None or rule.at_least < 1 for rule in rules):
            raise ValueError("a journey stage counts events ever: at_least (1 or more), no in_last nor at_most")
        return rules


class JourneyDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    site_id: str = Field(min_length=1, max_length=63)
    stages: tuple[JourneyStage, ...] = Field(min_length=1, max_length=10)

    @property
    def version(self) -> str:
        meaning = self.model_dump_json(include={"site_id", "stages"}, by_alias=True)
        return hashlib.sha256(meaning.encode()).hexdigest()[:12]


def _stage(name: str, *criteria: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "any_of": list(criteria)}


DEFAULT_STAGES: list[dict[str, Any]] = [
    _stage("Awareness", {"count": {"event": ["page_view", "screen_view", "email_clicked"]}}),
    _stage(
        "Consideration",
        {"count": {"event": "product_viewed"}, "at_least": 2},
        {"count": {"event": "page_view", "where": {"url": {"contains": "/pricing"}}}, "at_least": 2},
    ),
    _stage("Purchase", {"count": {"event": PURCHASES}}),
    _stage(
        "Service",
        {"count": {"event": ["chat_conversation_started", "chat_handoff_to_human", "support_ticket_created"]}},
    ),
    _stage("Loyalty", {"count": {"event": PURCHASES}, "at_least": 2}),
]


def default_journey(site_id: str) -> JourneyDefinition:
    """Awareness: a first visit or an email click; consideration: repeated product or pricing views; purchase;
    service: a support chat or ticket; loyalty: a repeat purchase."""
    return JourneyDefinition.model_validate({"site_id": site_id, "stages": DEFAULT_STAGES})


def load_journey_file(path: Path) -> JourneyDefinition:
    shape = "a journey is a YAML mapping (site_id, stages)"
    return read_yaml_definition(
        path.read_text(encoding="utf-8"), str(path), JourneyDefinition, InvalidJourneyError, shape
    )
