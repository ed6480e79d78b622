"""The in-memory site registry: authentication by key digest, rotation grace, revocation, browser origins."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from runtime.site_registry import SiteRegistry, SiteRegistryFollower, load_snapshot, save_snapshot
from schemas.sites import Site, WriteKey, digest_write_key, new_write_key

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def site(site_id: str, *keys: WriteKey, revoked: bool = False, domains: tuple[str, ...] = ()) -> Site:
    return Site(site_id=site_id, name=site_id, domains=domains, write_keys=keys, revoked=revoked, updated_at=NOW)


def key(write_key: str, expires_at: datetime | None = None) -> WriteKey:
    return WriteKey(sha256=digest_write_key(write_key), created_at=NOW, expires_at=expires_at)


def test_a_write_key_finds_its_site_and_nothing_else_does() -> None:
    registry = SiteRegistry()
    first, second = new_write_key(), new_write_key()
    registry.apply(site("shop", key(first)))
    registry.apply(site("blog", key(second)))
    assert registry.authenticate(first, NOW).site_id == "shop"  # type: ignore[union-attr]
    assert registry.authenticate(second, NOW).site_id == "blog"  # type: ignore[union-attr]
    assert registry.authenticate("bk_guess", NOW) is None
    assert registry.authenticate("", NOW) is None


def test_only_the_digest_of_a_key_is_kept() -> None:
    write_key = new_write_key()
    assert write_key not in site("shop", key(write_key)).model_dump_json()


def test_a_rotated_key_works_until_its_grace_period_ends() -> None:
    registry = SiteRegistry()
    old, new = new_write_key(), new_write_key()
    registry.apply(site("shop", key(old, expires_at=NOW + timedelta(hours=1)), key(new)))
    assert registry.authenticate(old, NOW) is not None
    assert registry.authenticate(old, NOW + timedelta(hours=2)) is None
    assert registry.authenticate(new, NOW + timedelta(days=30)) is not None


def test_a_newer_record_replaces_the_old_keys_and_revocation_stops_everything() -> None:
    registry = SiteRegistry()
    old, new = new_write_key(), new_write_key()
    registry.apply(site("shop", key(old)))
    registry.apply(site("shop", key(new)))
    assert registry.authenticate(old, NOW) is None
    registry.apply(site("shop", key(new), revoked=True))
    assert registry.authenticate(new, NOW) is None
    assert registry.get("shop") is None


@pytest.mark.parametrize(
    ("host", "allowed"),
    [("shop.example", True), ("eu.shop.example", True), ("shop.example.evil", False), ("evilshop.example", False)],
)
def test_browser_origins_match_registered_domains(host: str, allowed: bool) -> None:
    assert site("shop", domains=("*.shop.example",)).allows_origin_host(host) is allowed


def test_site_ids_and_domains_are_checked() -> None:
    with pytest.raises(ValidationError, match="site ids"):
        site("Not A Slug")
    with pytest.raises(ValidationError, match="not a domain"):
        site("shop", domains=("https://shop.example/",))


def test_a_snapshot_restores_sites_and_keys_without_storing_a_key(tmp_path: Path) -> None:
    write_key = new_write_key()
    registry = SiteRegistry()
    registry.apply(site("shop", key(write_key), domains=("shop.example",)))
    snapshot = tmp_path / "sites.json"
    save_snapshot(snapshot, registry)
    assert write_key not in snapshot.read_text()
    restored = SiteRegistry()
    assert (load_snapshot(snapshot, restored), restored.loaded) == (1, True)
    assert restored.authenticate(write_key, NOW) == registry.get("shop")


def test_without_broker_or_snapshot_no_site_is_known_and_the_follower_keeps_trying(tmp_path: Path) -> None:
    async def start_and_stop(snapshot: Path) -> SiteRegistry:
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            port = unused.getsockname()[1]
        follower = SiteRegistryFollower(f"127.0.0.1:{port}", SiteRegistry(), snapshot, connect_timeout_seconds=1)
        await follower.start()  # returns although the broker is unreachable
        await follower.stop()
        return follower.registry

    assert not asyncio.run(start_and_stop(tmp_path / "missing.json")).loaded
    unreadable = tmp_path / "broken.json"
    unreadable.write_text("{not json")
    assert not asyncio.run(start_and_stop(unreadable)).loaded
