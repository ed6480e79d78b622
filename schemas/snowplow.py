"""Snowplow's tracker protocol, as Snowplow's trackers send it: ``GET /i`` (one event in the query string)
and ``POST /com.snowplowanalytics.snowplow/tp2`` (a ``payload_data`` self-describing JSON of events).

Each event is a flat map of the protocol's short parameter names (``e``, ``eid``, ``url``, ``duid``, ...).
The site is the tracker's application id, ``aid``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

PAYLOAD_DATA_SCHEMA_PREFIX = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-"
MAX_TP2_EVENTS = 500

EVENT_NAMES = {"pv": "page_view", "pp": "page_ping", "tr": "transaction", "ti": "transaction_item"}
# Page ping, structured and transaction fields kept as properties, under readable names.
PROPERTY_PARAMETERS = {
    "page": "title",
    "pp_mix": "min_x", "pp_max": "max_x", "pp_miy": "min_y", "pp_may": "max_y",
    "se_ca": "category", "se_ac": "action", "se_la": "label", "se_pr": "property", "se_va": "value",
    "tr_id": "order_id", "tr_tt": "revenue", "tr_cu": "currency", "tr_tx": "tax", "tr_sh": "shipping",
    "ti_id": "order_id", "ti_sk": "sku", "ti_nm": "name", "ti_ca": "category", "ti_pr": "price", "ti_qu": "quantity",
    "tna": "tracker_namespace", "tv": "tracker_version", "p": "platform",
}  # fmt: skip


class PayloadData(BaseModel):
    """The body of a tp2 POST."""

    model_config = ConfigDict(populate_by_name=True)

    schema_uri: str = Field(alias="schema", pattern=r"^iglu:com\.snowplowanalytics\.snowplow/payload_data/")
    data: list[Any] = Field(max_length=MAX_TP2_EVENTS)


class SelfDescribingEvent(BaseModel):
    """What ``ue_pr`` (or base64 ``ue_px``) holds: an ``unstruct_event`` wrapping the event's own schema."""

    schema_uri: str = Field(alias="schema")
    data: SelfDescribingData


class SelfDescribingData(BaseModel):
    schema_uri: str = Field(alias="schema", pattern=r"^iglu:[^/]+/[^/]+/jsonschema/\d+-\d+-\d+$")
    data: dict[str, Any]

    @property
    def event_name(self) -> str:
        return self.schema_uri.split("/")[1]


SelfDescribingEvent.model_rebuild()
