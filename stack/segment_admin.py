"""``./beacon segments``: install segment definitions (and their topics), see what the stream worker runs,
compare its members with SQL."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from clickhouse_connect.driver.client import Client

from runtime.definitions import DefinitionFolder
from runtime.kafka_topics import ensure_topics
from schemas.segments import InvalidSegmentError, SegmentDefinition, load_segment_file
from schemas.topics import segment_topic
from stack.definition_admin import remove_definition, running_definitions
from stream_processors.segments.segment_sql import segment_members_sql


class SegmentExistsError(InvalidSegmentError):
    """``add`` without ``--replace`` for a segment id already defined."""


@dataclass(frozen=True)
class Members:
    in_sql: frozenset[str]  # the rules evaluated in ClickHouse now
    in_stream: frozenset[str]  # beacon.segment_members, the stream's


def add_segment(
    folder: DefinitionFolder, source: Path, kafka_bootstrap: str, *, replace: bool, replicas: int = 1
) -> tuple[SegmentDefinition, Path]:
    """Check ``source``, create the segment's topic (with ``replicas`` replicas), and install it as
    ``segments/<segment_id>.yaml``."""
    segment = load_segment_file(source)
    if folder.segment_path(segment.segment_id).exists() and not replace:
        raise SegmentExistsError(f"segment {segment.segment_id!r} exists: use --replace to change it")
    topics = [segment_topic(segment.topic)]
    asyncio.run(ensure_topics(kafka_bootstrap, topics, connect_timeout_seconds=10, replication_factor=replicas))
    return segment, folder.write_segment(segment)


def remove_segment(folder: DefinitionFolder, segment_id: str) -> bool:
    """Stop evaluating it; its topic and its history in ClickHouse stay."""
    return remove_definition(folder.segment_path(segment_id))


def running_segments(stream_worker_url: str) -> dict[str, str] | None:
    return running_definitions(stream_worker_url, "segments")


def members_now(client: Client, segment: SegmentDefinition) -> Members:
    in_sql = frozenset(person for (person,) in client.query(segment_members_sql(segment)).result_rows)
    in_stream = client.query(
        "SELECT person_id FROM beacon.segment_members"
        " WHERE site_id = {s:String} AND segment_id = {i:String} AND segment_version = {v:String}",
        parameters={"s": segment.site_id, "i": segment.segment_id, "v": segment.version},
    ).result_rows
    return Members(in_sql, frozenset(person for (person,) in in_stream))
