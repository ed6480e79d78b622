"""Writes the stream worker's visitor state to its changelog only once the records it led to are on the broker.

faust writes a table's changelog record when the table is set, independently of the records the agent
produced for the same hit: after a crash, the recovered state could include a hit whose records were
lost, and the replayed hit would then be a duplicate that writes nothing. Here the table is set in memory
only, and its changelog record follows, per partition in order, once every record produced before it was
acknowledged. A crash can then only lose a state change whose records are on the broker: the hit is
processed again and writes the same records, which the tables absorb.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import structlog
from prometheus_client import Counter, Gauge

Delivery = asyncio.Future[object]
SendRecord = Callable[[str, bytes, bytes | None, int], Awaitable[Delivery]]

PENDING = Gauge("beacon_stream_state_changes_pending", "Visitor states waiting for their records to be delivered")
NOT_WRITTEN = Counter(
    "beacon_stream_state_changes_not_written_total", "Visitor states not written: a record they led to failed"
)

log = structlog.get_logger("stream")


class OrderedChangelog:
    """One queue per partition, so a key's state changes reach its changelog partition in the order made."""

    def __init__(self, topic: str, send: SendRecord) -> None:
        self._topic = topic
        self._send = send
        self._queues: dict[int, asyncio.Queue[tuple[bytes, bytes | None, Sequence[Delivery]]]] = {}
        self._drains: dict[int, asyncio.Task[None]] = {}

    def write(self, partition: int, key: bytes, value: bytes | None, after: Sequence[Delivery]) -> None:
        """Queue ``key``'s new state (None: deleted) until the ``after`` records are delivered."""
        queue = self._queues.get(partition)
        if queue is None:
            queue = self._queues[partition] = asyncio.Queue()
            self._drains[partition] = asyncio.create_task(self._drain(partition, queue))
        PENDING.inc()
        queue.put_nowait((key, value, after))

    async def _drain(
        self, partition: int, queue: asyncio.Queue[tuple[bytes, bytes | None, Sequence[Delivery]]]
    ) -> None:
        while True:
            key, value, deliveries = await queue.get()
            try:
                results = await asyncio.gather(*deliveries, return_exceptions=True)
                if any(isinstance(result, BaseException) for result in results):
                    # The state stays in memory; not writing it keeps a crash from making the loss permanent.
                    NOT_WRITTEN.inc()
                    log.error("state_change_not_written", partition=partition, reason="a record was not delivered")
                    continue
                await self._send(self._topic, key, value, partition)
            except Exception as error:  # the broker refused the changelog record: the next change rewrites it
                NOT_WRITTEN.inc()
                log.error("state_change_not_written", partition=partition, error=str(error)[:300])
            finally:
                PENDING.dec()
