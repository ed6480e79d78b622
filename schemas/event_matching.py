"""Which events a definition speaks of: event names and conditions on their columns and properties, shared by
funnel steps and segment rules, and durations as people write them ("30m", "7d")."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PROPERTY_PREFIX = "properties."

# The event columns a definition may filter on (all are strings in beacon.events); plus any ``properties.<key>``.
MATCHABLE_FIELDS = frozenset(
    {
        "url", "referrer", "referrer_host", "referrer_source", "channel", "source", "locale",
        "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "click_id_type",
        "country", "region", "city", "device_type", "browser", "os",
    }
)  # fmt: skip

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


class Condition(BaseModel):
    """One test on a text field; a bare value in YAML means ``equals``, a list means one of."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    equals: str | None = None
    one_of: tuple[str, ...] | None = Field(default=None, alias="in")
    contains: str | None = None
    starts_with: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_value_is_equals(cls, value: Any) -> Any:
        if isinstance(value, str | int | float | bool):
            return {"equals": as_text(value)}
        if isinstance(value, list):
            return {"in": [as_text(item) for item in value]}
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


class EventMatch(BaseModel):
    """Events named one of ``event``, with every ``where`` condition holding."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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


def duration_ms(text: str) -> int:
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r}")
    return round(float(match.group(1)) * _UNIT_MS[match.group(2)])


def check_duration(text: str) -> str:
    """For validators: a positive duration, or a message saying how to write one."""
    if _DURATION.match(text) is None or duration_ms(text) <= 0:
        raise ValueError("a duration is a positive number and a unit: '45s', '30m', '2h' or '7d'")
    return text


def yaml_shape(match: dict[str, Any]) -> dict[str, Any]:
    """An ``EventMatch`` dumped as JSON, in the shape a person writes it in YAML (in place)."""
    match["event"] = match["event"][0] if len(match["event"]) == 1 else match["event"]
    if not match["where"]:
        del match["where"]
    for field, condition in match.get("where", {}).items():
        match["where"][field] = condition.get("equals", condition)
    return match


def as_text(value: str | int | float | bool) -> str:
    """As beacon.events keeps properties: booleans and numbers as their JSON text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
