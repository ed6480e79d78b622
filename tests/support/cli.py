"""Run ``./beacon`` as a user would, against a given stack, with no inherited BEACON_* settings."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from stack.settings import StackSettings

ROOT = Path(__file__).resolve().parents[2]


def beacon_against(stack: StackSettings, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("BEACON_")} | {
        "BEACON_HOME": str(stack.home),
        "BEACON_KAFKA_BOOTSTRAP": stack.kafka_address,
        "BEACON_CLICKHOUSE_URL": stack.clickhouse_address,
        "BEACON_COLLECTOR_PORT": str(stack.collector_port),
        "BEACON_STREAM_WEB_PORT": str(stack.stream_web_port),
        "BEACON_DEFINITIONS_DIR": str(stack.definitions_dir),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [str(ROOT / "beacon"), *arguments], env=environment, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
