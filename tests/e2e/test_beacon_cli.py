"""The README's promise, run as a user would: `./beacon up --detach`, a hit, `./beacon sql`, `down`, `up` again."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stack.ephemeral import free_port
from tests.support.polling import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli_environment(tmp_path: Path) -> Iterator[dict[str, str]]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("BEACON_")} | {
        "BEACON_HOME": str(tmp_path / "home"),
        "BEACON_KAFKA_PORT": str(free_port()),
        "BEACON_WAREHOUSE_PORT": str(free_port()),
        "BEACON_COLLECTOR_PORT": str(free_port()),
        "BEACON_STREAM_WEB_PORT": str(free_port()),
        "BEACON_WRITER_PORT": str(free_port()),
        "BEACON_WEBHOOK_PORT": str(free_port()),
        "BEACON_DASHBOARD_PORT": str(free_port()),
        "COLUMNS": "200",
    }
    yield environment
    subprocess.run([str(ROOT / "beacon"), "down"], env=environment, cwd=ROOT, capture_output=True, timeout=120)


def beacon(environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "beacon"), *arguments], env=environment, cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def processes_under(home: str) -> list[str]:
    """Command lines of live processes that belong to the stack at ``home`` (found through the state file)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (cmdline.parent / "environ").read_bytes()
        except OSError:
            continue
        if f"BEACON_HOME={home}".encode() in environ or home in text:
            found.append(text)
    return found


def test_up_hit_sql_down_up_keeps_data(cli_environment: dict[str, str]) -> None:
    started = beacon(cli_environment, "up", "--detach")
    assert started.returncode == 0, started.stdout + started.stderr
    for expected in ("Collector", "ClickHouse HTTP", "Kafka bootstrap", "Demo site id", "Demo write key", "Dashboard"):
        assert expected in started.stdout
    token = (Path(cli_environment["BEACON_HOME"]) / "dashboard_token").read_text().strip()
    dashboard = f"http://127.0.0.1:{cli_environment['BEACON_DASHBOARD_PORT']}/dashboard"
    assert f"Dashboard: {dashboard}?token={token}\n" in started.stdout
    site = json.loads((Path(cli_environment["BEACON_HOME"]) / "demo_site.json").read_text())
    assert site["write_key"] in started.stdout

    again = beacon(cli_environment, "up", "--detach")
    assert again.returncode != 0
    assert "already running" in again.stderr

    status = beacon(cli_environment, "status")
    assert status.returncode == 0, status.stdout
    # broker, warehouse, writer, webhook sender, dashboard, stream worker, collector
    assert status.stdout.count("healthy") == 7

    collector = f"http://127.0.0.1:{cli_environment['BEACON_COLLECTOR_PORT']}"
    response = httpx.get(f"{collector}/p.gif", params={"site": site["site_id"], "url": "https://example.com/cli"})
    assert response.status_code == 200

    def visible() -> bool:
        result = beacon(cli_environment, "sql", "SELECT count() FROM beacon.events", "--format", "TabSeparated")
        return result.returncode == 0 and result.stdout.strip() == "1"

    wait_until(visible, what="the hit in `./beacon sql`", timeout_seconds=15)
    table = beacon(cli_environment, "sql", "SELECT site_id, url FROM beacon.events")
    assert "https://example.com/cli" in table.stdout
    assert "1 rows" in table.stdout

    bad = beacon(cli_environment, "sql", "SELECT * FROM beacon.no_such_table")
    assert bad.returncode == 1
    assert "UNKNOWN_TABLE" in bad.stderr

    stopped = beacon(cli_environment, "down")
    assert stopped.returncode == 0, stopped.stderr
    assert processes_under(cli_environment["BEACON_HOME"]) == []
    assert beacon(cli_environment, "status").returncode == 1

    restarted = beacon(cli_environment, "up", "--detach")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    after = beacon(cli_environment, "sql", "SELECT count() FROM beacon.events", "--format", "TabSeparated")
    assert after.stdout.strip() == "1", "data survives a restart"
    assert beacon(cli_environment, "down").returncode == 0
    assert processes_under(cli_environment["BEACON_HOME"]) == []


def test_migrate_is_idempotent_against_a_running_warehouse(cli_environment: dict[str, str]) -> None:
    assert beacon(cli_environment, "up", "--detach").returncode == 0
    migrated = beacon(cli_environment, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "0 migrations applied" in migrated.stdout
    assert beacon(cli_environment, "down").returncode == 0


def test_foreground_up_stops_every_child_on_ctrl_c(cli_environment: dict[str, str]) -> None:
    import signal

    foreground = subprocess.Popen(
        [str(ROOT / "beacon"), "up"],
        env=cli_environment,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own terminal-like process group, as a shell would give it
    )
    try:
        wait_until(
            lambda: beacon(cli_environment, "status").returncode == 0, what="a healthy stack", timeout_seconds=120
        )
        assert processes_under(cli_environment["BEACON_HOME"]) != []
        os.killpg(foreground.pid, signal.SIGINT)  # what Ctrl-C does: SIGINT to the foreground process group
        output, _ = foreground.communicate(timeout=60)
    finally:
        if foreground.poll() is None:
            foreground.kill()
    assert foreground.returncode == 0, output
    assert "stopped collector" in output
    assert processes_under(cli_environment["BEACON_HOME"]) == []
