"""Create, rotate and revoke sites by publishing their new state to the registry topic ``beacon.sites``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer

from runtime.site_registry import read_sites
from schemas.sessions import SessionRules
from schemas.sites import Site, WriteKey, digest_write_key, new_write_key
from schemas.topics import SITES


class SiteAdminError(ValueError):
    pass


def site_id_from_name(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63]
    if not slug:
        raise SiteAdminError(f"cannot make a site id from {name!r}; pass --id")
    return slug


async def create_site(
    bootstrap: str, *, site_id: str, name: str, domains: list[str], write_key: str | None = None
) -> tuple[Site, str]:
    """Register a new site; returns it and its write key (shown once: only its digest is stored)."""
    registry = await read_sites(bootstrap)
    if registry.get(site_id) is not None:
        raise SiteAdminError(f"site {site_id!r} exists already")
    key = write_key or new_write_key()
    now = datetime.now(UTC)
    site = Site(
        site_id=site_id,
        name=name,
        domains=tuple(domain.lower() for domain in domains),
        write_keys=(WriteKey(sha256=digest_write_key(key), created_at=now),),
        updated_at=now,
    )
    await _publish(bootstrap, site)
    return site, key


async def add_write_key(bootstrap: str, site_id: str, write_key: str) -> Site:
    """Let one more key write to a site, beside its current ones (the demo site shared by local homes)."""
    site = await existing_site(bootstrap, site_id)
    now = datetime.now(UTC)
    added = WriteKey(sha256=digest_write_key(write_key), created_at=now)
    updated = site.model_copy(update={"write_keys": (*site.write_keys, added), "updated_at": now})
    await _publish(bootstrap, updated)
    return updated


async def add_domains(bootstrap: str, site_id: str, domains: list[str]) -> Site:
    """Let pages on more domains send events for a site (the demo site, on a collector's own port)."""
    site = await existing_site(bootstrap, site_id)
    added = tuple(domain.lower() for domain in domains if domain.lower() not in site.domains)
    if not added:
        return site
    updated = site.model_copy(update={"domains": (*site.domains, *added), "updated_at": datetime.now(UTC)})
    await _publish(bootstrap, updated)
    return updated


async def rotate_write_key(bootstrap: str, site_id: str, *, grace: timedelta) -> tuple[Site, str]:
    """Issue a new key; the current ones keep working for ``grace`` (zero: stop at once)."""
    site = await existing_site(bootstrap, site_id)
    now = datetime.now(UTC)
    key = new_write_key()
    kept = tuple(
        old if old.expires_at is not None else old.model_copy(update={"expires_at": now + grace})
        for old in site.write_keys
        if old.valid_at(now)
    )
    updated = site.model_copy(
        update={"write_keys": (*kept, WriteKey(sha256=digest_write_key(key), created_at=now)), "updated_at": now}
    )
    await _publish(bootstrap, updated)
    return updated, key


async def revoke_site(bootstrap: str, site_id: str) -> Site:
    """Stop accepting anything for the site; its data stays."""
    site = await existing_site(bootstrap, site_id)
    revoked = site.model_copy(update={"revoked": True, "updated_at": datetime.now(UTC)})
    await _publish(bootstrap, revoked)
    return revoked


async def set_session_rules(bootstrap: str, site_id: str, rules: SessionRules | None) -> Site:
    """Change how the stream cuts the site's sessions from now on (None: back to the worker's defaults)."""
    site = await existing_site(bootstrap, site_id)
    updated = site.model_copy(update={"sessions": rules, "updated_at": datetime.now(UTC)})
    await _publish(bootstrap, updated)
    return updated


async def list_sites(bootstrap: str) -> list[Site]:
    return (await read_sites(bootstrap)).all()


async def existing_site(bootstrap: str, site_id: str) -> Site:
    """The site as the registry has it now; an error if there is none."""
    site = (await read_sites(bootstrap)).get(site_id)
    if site is None:
        raise SiteAdminError(f"no active site {site_id!r}")
    return site


async def _publish(bootstrap: str, site: Site) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(SITES.name, site.model_dump_json().encode(), key=site.site_id.encode())
    finally:
        await producer.stop()
