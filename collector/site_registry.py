"""The collector's in-memory view of the site registry (topic ``beacon.sites``), kept current by a follower."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from schemas.sites import Site, digest_write_key
from schemas.topics import SITES

log = structlog.get_logger("site_registry")


class SiteRegistry:
    """The latest ``Site`` per id, indexed by write-key digest for authentication in O(1)."""

    def __init__(self) -> None:
        self._sites: dict[str, Site] = {}
        self._site_by_key_digest: dict[str, str] = {}

    def apply(self, site: Site) -> None:
        previous = self._sites.get(site.site_id)
        if previous is not None:
            for key in previous.write_keys:
                self._site_by_key_digest.pop(key.sha256, None)
        self._sites[site.site_id] = site
        for key in site.write_keys:
            self._site_by_key_digest[key.sha256] = site.site_id

    def get(self, site_id: str) -> Site | None:
        site = self._sites.get(site_id)
        return site if site is not None and not site.revoked else None

    def authenticate(self, write_key: str, moment: datetime) -> Site | None:
        """The site this write key belongs to, if the key is current and the site not revoked."""
        site_id = self._site_by_key_digest.get(digest_write_key(write_key))
        site = self._sites.get(site_id) if site_id else None
        return site if site is not None and site.accepts_write_key(write_key, moment) else None

    def any_site_allows(self, host: str) -> bool:
        """For CORS preflights, which carry no body and so no site id."""
        return any(not site.revoked and site.allows_origin_host(host) for site in self._sites.values())

    def all(self) -> list[Site]:
        return sorted(self._sites.values(), key=lambda site: site.site_id)


async def read_sites(bootstrap: str) -> SiteRegistry:
    """Read the whole registry topic once (for the CLI, and for a collector before it serves)."""
    registry = SiteRegistry()
    consumer = _registry_consumer(bootstrap)
    await consumer.start()
    try:
        await _read_to_end(consumer, registry)
    finally:
        await consumer.stop()
    return registry


class SiteRegistryFollower:
    """Loads the registry before the collector serves, then applies changes as they are published."""

    def __init__(self, bootstrap: str, registry: SiteRegistry) -> None:
        self._bootstrap = bootstrap
        self.registry = registry
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._consumer = _registry_consumer(self._bootstrap)
        await self._consumer.start()
        await _read_to_end(self._consumer, self.registry)
        self._task = asyncio.create_task(self._follow(self._consumer))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    _apply_record(self.registry, record.value)


def _registry_consumer(bootstrap: str) -> AIOKafkaConsumer:
    # No group: every collector reads the whole registry itself, from the beginning.
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    consumer.assign([TopicPartition(SITES.name, partition) for partition in range(SITES.partitions)])
    return consumer


async def _read_to_end(consumer: AIOKafkaConsumer, registry: SiteRegistry) -> None:
    partitions = list(consumer.assignment())
    await consumer.seek_to_beginning(*partitions)
    end_offsets = await consumer.end_offsets(partitions)
    while [partition for partition, end in end_offsets.items() if await consumer.position(partition) < end]:
        batches = await consumer.getmany(timeout_ms=1000)
        for records in batches.values():
            for record in records:
                _apply_record(registry, record.value)


def _apply_record(registry: SiteRegistry, value: bytes | None) -> None:
    if value is None:
        return
    try:
        registry.apply(Site.model_validate_json(value))
    except ValidationError as error:
        log.error("invalid_site_record", error=str(error)[:500])
