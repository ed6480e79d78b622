"""`./beacon sites …` against the running stack: a created site is accepted, a rotated-out or revoked one not."""

from __future__ import annotations

import re
import uuid

import httpx

from stack.settings import StackSettings
from tests.support.cli import beacon_against
from tests.support.polling import wait_until


def accepted(stack: StackSettings, write_key: str) -> int:
    message = {"type": "track", "event": "Key Check", "userId": "cli-test"}
    return httpx.post(f"{stack.collector_url}/v1/track", json=message, auth=(write_key, ""), timeout=10).status_code


def test_create_list_rotate_and_revoke(beacon_stack: StackSettings) -> None:
    site_id = f"cli-{uuid.uuid4().hex[:8]}"
    created = beacon_against(beacon_stack, "sites", "create", "CLI Shop", "--id", site_id, "--domain", "cli.example")
    assert created.returncode == 0, created.stderr
    first_key = re.search(r"write key\s+(bk_\S+)", created.stdout).group(1)  # type: ignore[union-attr]
    wait_until(lambda: accepted(beacon_stack, first_key) == 200, what="the new site to be accepted")

    listed = beacon_against(beacon_stack, "sites", "list")
    assert site_id in listed.stdout
    assert "cli.example" in listed.stdout
    assert first_key not in listed.stdout, "keys are never shown again"

    duplicate = beacon_against(beacon_stack, "sites", "create", "CLI Shop", "--id", site_id, "--domain", "cli.example")
    assert duplicate.returncode == 1
    assert "exists already" in duplicate.stderr

    rotated = beacon_against(beacon_stack, "sites", "rotate-key", site_id, "--grace-hours", "0")
    assert rotated.returncode == 0, rotated.stderr
    second_key = re.search(r"new write key\s+(bk_\S+)", rotated.stdout).group(1)  # type: ignore[union-attr]
    wait_until(lambda: accepted(beacon_stack, second_key) == 200, what="the rotated key to work")
    assert accepted(beacon_stack, first_key) == 401

    assert beacon_against(beacon_stack, "sites", "revoke", site_id).returncode == 0
    wait_until(lambda: accepted(beacon_stack, second_key) == 401, what="the revoked site to be refused")
