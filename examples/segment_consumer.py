"""A marketing tool's side of a live segment: read its topic, act on each entry and exit once.

    python examples/segment_consumer.py demo-abandoned-cart --bootstrap 127.0.0.1:19092

Each message is a ``SegmentChange`` (schema: schemas/json/segment_change.v1.json, docs/segments.md), keyed
``site_id:person_id``. Delivery is at least once: a message can come twice (same person, same ``sequence``),
so a consumer remembers the last sequence it acted on per person and skips anything not newer. Offsets are
committed after acting, so a crash repeats rather than loses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from aiokafka import AIOKafkaConsumer


async def consume(segment_id: str, bootstrap: str, group: str, idle_seconds: float | None) -> None:
    consumer = AIOKafkaConsumer(
        f"beacon.segment.{segment_id}",
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    acted_on: dict[str, int] = {}  # person -> last sequence acted on (a real tool keeps this in its database)
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=1000 if idle_seconds is None else round(idle_seconds * 1000))
            if not batches and idle_seconds is not None:
                return
            for records in batches.values():
                for record in records:
                    change = json.loads(record.value or b"{}")
                    person, sequence = change["person_id"], change["sequence"]
                    if sequence <= acted_on.get(person, 0):
                        continue  # a re-delivery, or older than what was already acted on
                    acted_on[person] = sequence
                    act(change)
            await consumer.commit()
    finally:
        await consumer.stop()


def act(change: dict[str, object]) -> None:
    """Where a tool would add the person to an audience, or remove them, or send the reminder email."""
    sys.stdout.write(f"{change['change']:8} {change['person_id']} (segment {change['segment_id']}, "
                     f"at {change['changed_at']})\n")  # fmt: skip
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("segment_id")
    parser.add_argument("--bootstrap", default="127.0.0.1:19092", help="Kafka bootstrap servers")
    parser.add_argument("--group", default="segment-consumer-example", help="the consumer group (your tool)")
    parser.add_argument("--exit-when-idle", type=float, default=None, metavar="SECONDS",
                        help="stop once no message came for this long (for scripts and tests)")  # fmt: skip
    arguments = parser.parse_args()
    asyncio.run(consume(arguments.segment_id, arguments.bootstrap, arguments.group, arguments.exit_when_idle))


if __name__ == "__main__":
    main()
