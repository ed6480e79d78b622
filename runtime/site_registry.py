"""The collector's in-memory view of the site registry (topic ``beacon.sites``), kept current by a follower."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from pathlib import Path

import orjson
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from schemas.sites import Site, digest_write_key
from schemas.topics import SITES

log = structlog.get_logger("site_registry")
FOLLOW_INTERVAL_SECONDS = 1.0  # how soon a site created, rotated or revoked takes effect in each collector


class SiteRegistry:
    """The latest ``Site`` per id, indexed by write-key digest for authentication in O(1)."""

    def __init__(self) -> None:
        self.loaded = False  # from the broker or a snapshot; until then no site can be checked
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
    registry.loaded = True
    return registry


class SiteRegistryFollower:
    """Loads the registry before the collector serves, then applies changes as they are published.

    Every state read from the broker is also written to a snapshot file, so a collector that starts while
    the broker is down serves the sites it last knew (its hits go to the spool meanwhile) and catches up in
    the background once the broker is back. Only a collector that never saw the registry has no sites.
    """

    def __init__(
        self, bootstrap: str, registry: SiteRegistry, snapshot: Path, *, connect_timeout_seconds: float = 5.0
    ) -> None:
        self._bootstrap = bootstrap
        self.registry = registry
        self._snapshot = snapshot
        self._connect_timeout = connect_timeout_seconds
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        try:
            await asyncio.wait_for(self._connect_and_load(), self._connect_timeout)
        except Exception as error:  # the broker is down: serve the last known sites until it returns
            await self._close_consumer()
            loaded = load_snapshot(self._snapshot, self.registry)
            log.warning("site_registry_from_snapshot", error=str(error) or type(error).__name__, sites=loaded)
        self._task = asyncio.create_task(self._follow_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close_consumer()

    async def _connect_and_load(self) -> None:
        self._consumer = _registry_consumer(self._bootstrap)
        await self._consumer.start()
        await _read_to_end(self._consumer, self.registry)
        self.registry.loaded = True
        await asyncio.to_thread(save_snapshot, self._snapshot, self.registry)

    async def _close_consumer(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is None:
            return
        try:
            await consumer.stop()
        except asyncio.CancelledError:
            # aiokafka's stop() re-raises the cancellation of its own fetch task after a broker outage; only a
            # cancellation of this task itself must propagate.
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
        except Exception as error:
            log.warning("site_registry_consumer_not_closed", error=str(error) or type(error).__name__)

    async def _follow_forever(self) -> None:
        backoff = 1.0
        while True:
            try:
                if self._consumer is None:
                    await asyncio.wait_for(self._connect_and_load(), self._connect_timeout * 2)
                    log.info("site_registry_loaded", sites=len(self.registry.all()))
                await self._follow(self._consumer)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("site_registry_unreachable", error=str(error) or type(error).__name__, retry_in=backoff)
                await self._close_consumer()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _follow(self, consumer: AIOKafkaConsumer | None) -> None:
        """Check the registry's end offsets every second and read only when they moved.

        A consumer left fetching would re-poll the embedded broker hundreds of times a second (it answers
        fetches at once), taking CPU from the requests; the partitions stay paused between checks.
        """
        assert consumer is not None
        partitions = list(consumer.assignment())
        while True:
            consumer.pause(*partitions)
            await asyncio.sleep(FOLLOW_INTERVAL_SECONDS)
            end_offsets = await consumer.end_offsets(partitions)
            behind = [partition for partition, end in end_offsets.items() if await consumer.position(partition) < end]
            if not behind:
                continue
            consumer.resume(*behind)
            changed = False
            while [partition for partition in behind if await consumer.position(partition) < end_offsets[partition]]:
                for records in (await consumer.getmany(*behind, timeout_ms=1000)).values():
                    for record in records:
                        changed = _apply_record(self.registry, record.value) or changed
            if changed:
                await asyncio.to_thread(save_snapshot, self._snapshot, self.registry)


def save_snapshot(path: Path, registry: SiteRegistry) -> None:
    """Atomically replace the snapshot (sites with write-key digests only, never keys)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(orjson.dumps([site.model_dump(mode="json") for site in registry.all()]))
    temporary.chmod(0o600)
    temporary.replace(path)


def load_snapshot(path: Path, registry: SiteRegistry) -> int:
    """Apply a snapshot if there is a readable one; the number of sites it held."""
    try:
        sites = [Site.model_validate(entry) for entry in orjson.loads(path.read_bytes())]
    except FileNotFoundError:
        return 0
    except (orjson.JSONDecodeError, ValidationError, TypeError) as error:
        log.error("unreadable_site_snapshot", path=str(path), error=str(error)[:300])
        return 0
    for site in sites:
        registry.apply(site)
    registry.loaded = True
    return len(sites)


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


def _apply_record(registry: SiteRegistry, value: bytes | None) -> bool:
    if value is None:
        return False
    try:
        registry.apply(Site.model_validate_json(value))
    except ValidationError as error:
        log.error("invalid_site_record", error=str(error)[:500])
        return False
    return True
