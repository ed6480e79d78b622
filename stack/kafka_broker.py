"""The embedded Kafka broker: noida-db's native binary run in the foreground as a child of this wrapper.

The wrapper filters the binary's one harmless loader warning from the logs and passes SIGTERM/SIGINT on, so
the supervisor can treat the broker like any other Beacon process.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

# The wheel's binary asks for a newer glibc symbol version it does not need; the loader says so on every start.
_HARMLESS_NOISE = ("GLIBC_2.39' not found",)


def broker_binary() -> Path:
    binary = Path(str(files("noida_db").joinpath("noida-db")))
    if not os.access(binary, os.X_OK):
        binary.chmod(0o755)
    return binary


def broker_command(data_dir: Path, host: str, port: int) -> list[str]:
    return [
        str(broker_binary()), "start", "--data-dir", str(data_dir), "--host", host,
        "--only", "kafka", "--kafka-port", str(port),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=19092)
    arguments = parser.parse_args()
    arguments.data_dir.mkdir(parents=True, exist_ok=True)
    broker = subprocess.Popen(
        broker_command(arguments.data_dir, arguments.host, arguments.port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )

    def forward(signum: int, _frame: object) -> None:
        broker.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    assert broker.stdout is not None
    for line in broker.stdout:
        if not any(noise in line for noise in _HARMLESS_NOISE):
            sys.stdout.write(line)
            sys.stdout.flush()
    sys.exit(broker.wait())


if __name__ == "__main__":
    main()
