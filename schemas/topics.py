"""Every Kafka topic Beacon uses, declared once. ``stack.topics.ensure_topics`` creates them before any
producer or worker starts (auto-created topics would get one partition and the broker's defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int
    description: str
    configs: dict[str, str] = field(default_factory=dict)

    def topic_configs(self) -> dict[str, str]:
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": "delete", **self.configs}


# Keyed by "site_id:anonymous_id" so one visitor's hits stay in order on one partition.
RAW_HITS = TopicSpec(
    name="beacon.raw_hits",
    partitions=8,
    retention_ms=7 * DAY_MS,
    description="Hits exactly as the collector received them (schemas.events.RawHit, JSON).",
)
EVENTS = TopicSpec(
    name="beacon.events",
    partitions=8,
    retention_ms=7 * DAY_MS,
    description="Validated canonical events (schemas.events.Event, JSON), keyed like raw hits.",
)
DEAD_LETTERS = TopicSpec(
    name="beacon.dead_letters",
    partitions=2,
    retention_ms=30 * DAY_MS,
    description="Rejected input with its reason, stage and original payload (schemas.dead_letters.DeadLetter).",
)

# The site registry: compacted, kept forever, one partition so every collector reads it in order.
SITES = TopicSpec(
    name="beacon.sites",
    partitions=1,
    retention_ms=-1,
    description="The latest schemas.sites.Site per site id (written by `./beacon sites`, read by collectors).",
    configs={"cleanup.policy": "compact"},
)

ALL_TOPICS: tuple[TopicSpec, ...] = (RAW_HITS, EVENTS, DEAD_LETTERS, SITES)
