"""Every Kafka topic Beacon uses, declared once. ``runtime.kafka_topics.ensure_topics`` creates them before any
producer or worker starts (auto-created topics would get one partition and the broker's defaults)."""

from __future__ import annotations

import zlib
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


def raw_hits_partition(key: bytes) -> int:
    """The partition of ``beacon.raw_hits`` for a raw hit's key (``RawHit.partition_key()``).

    Every producer of raw hits names this partition explicitly (the collector's sink, `./beacon dead-letters
    replay`, benchmarks): the stream worker keeps a visitor's state with the partition its hits arrive on, so a
    hit placed by another rule is processed without its visitor's state. Kafka clients disagree by default
    (librdkafka hashes with CRC-32, aiokafka and the Java client with murmur2). CRC-32 of the key modulo the
    declared partition count is librdkafka's default (``consistent_random``) choice on a topic of that size, the
    one the collector made before it named partitions itself, so visitors keep the partition they had.
    """
    return zlib.crc32(key) % RAW_HITS.partitions


# Keyed by "site_id:person" (the user id when known, else the visitor id), so the per-person stage that reads
# it (funnels, profiles, segments) finds each person's events on one partition.
EVENTS = TopicSpec(
    name="beacon.events",
    partitions=8,
    retention_ms=7 * DAY_MS,
    description="Enriched, sessionized events (schemas.events.Event, JSON), keyed by site and person.",
)


def events_partition(key: bytes) -> int:
    """The partition of ``beacon.events`` for an event's key (``Event.partition_key()``, site and person).

    Named explicitly by the stream worker when it writes an event, as ``raw_hits_partition`` is for raw hits:
    the per-person stage keeps a person's state with the partition their events arrive on, and must find it
    again from the key alone (to re-schedule segment timers after a restart).
    """
    return zlib.crc32(key) % EVENTS.partitions


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

# What the stream worker derives per visitor, keyed like raw hits ("site_id:visitor") so that all records of
# a visitor stay in order on one partition.
SESSIONS = TopicSpec(
    name="beacon.sessions",
    partitions=8,
    retention_ms=7 * DAY_MS,
    description="Session versions and their cancellations (schemas.stream_records.SessionRecord, sign +1/-1).",
)
EVENT_SESSION_CHANGES = TopicSpec(
    name="beacon.event_session_changes",
    partitions=8,
    retention_ms=7 * DAY_MS,
    description="Events moved to another session by a late event (schemas.stream_records.EventSessionChange).",
)
IDENTITIES = TopicSpec(
    name="beacon.identities",
    partitions=8,
    retention_ms=30 * DAY_MS,
    description="Anonymous ids and former user ids linked to a user id (schemas.stream_records.IdentityLink).",
)
BOT_VISITORS = TopicSpec(
    name="beacon.bot_visitors",
    partitions=8,
    retention_ms=30 * DAY_MS,
    description="Visitors flagged as bots by behaviour (schemas.stream_records.BotVisitor).",
)

# What the per-person stage derives, keyed like events ("site_id:person").
FUNNEL_TRANSITIONS = TopicSpec(
    name="beacon.funnel_transitions",
    partitions=8,
    retention_ms=30 * DAY_MS,
    description="A person's furthest step in a funnel changed (schemas.funnels.FunnelTransition).",
)

EMAIL_DELIVERIES = TopicSpec(
    name="beacon.email_deliveries",
    partitions=8,
    retention_ms=30 * DAY_MS,
    description="An email message's figures for one recipient changed (schemas.email.EmailDelivery, versioned).",
)

CUSTOMER_PROFILES = TopicSpec(
    name="beacon.customer_profiles",
    partitions=8,
    retention_ms=30 * DAY_MS,
    description="A person's customer profile changed: its new version (schemas.profiles.CustomerProfile).",
)

SEGMENT_CHANGES = TopicSpec(
    name="beacon.segment_changes",
    partitions=8,
    retention_ms=30 * DAY_MS,
    description="People entering and leaving every live segment (schemas.segments.SegmentChange).",
)


def segment_topic(topic_name: str) -> TopicSpec:
    """A segment's own topic (``beacon.segment.<segment_id>``), created when the segment is defined: what a
    marketing tool subscribes to."""
    return TopicSpec(
        name=topic_name,
        partitions=SEGMENT_CHANGES.partitions,
        retention_ms=30 * DAY_MS,
        description="People entering and leaving one segment (schemas.segments.SegmentChange), keyed by person.",
    )


# The stream worker's per-visitor state (a faust table) is recovered from this changelog after a restart.
# faust names it "<app id>-<table>-changelog"; it is declared here because workers never declare topics.
STREAM_APP_ID = "beacon-stream"
VISITOR_STATE_TABLE = "visitors"
VISITOR_STATE_CHANGELOG = TopicSpec(
    name=f"{STREAM_APP_ID}-{VISITOR_STATE_TABLE}-changelog",
    partitions=RAW_HITS.partitions,  # faust writes a key's state to the partition of the hit that changed it
    retention_ms=-1,
    description="The stream worker's visitor state (sessions, seen event ids, identity), latest per visitor.",
    configs={"cleanup.policy": "compact"},
)

# The per-person state (funnel progress), recovered like the visitor state.
PERSON_STATE_TABLE = "people"
PERSON_STATE_CHANGELOG = TopicSpec(
    name=f"{STREAM_APP_ID}-{PERSON_STATE_TABLE}-changelog",
    partitions=EVENTS.partitions,
    retention_ms=-1,
    description="The stream worker's per-person state (funnel progress, email messages), latest per person.",
    configs={"cleanup.policy": "compact"},
)

ALL_TOPICS: tuple[TopicSpec, ...] = (
    RAW_HITS,
    EVENTS,
    DEAD_LETTERS,
    SITES,
    SESSIONS,
    EVENT_SESSION_CHANGES,
    IDENTITIES,
    BOT_VISITORS,
    VISITOR_STATE_CHANGELOG,
    FUNNEL_TRANSITIONS,
    PERSON_STATE_CHANGELOG,
    EMAIL_DELIVERIES,
    CUSTOMER_PROFILES,
    SEGMENT_CHANGES,
)
