"""Child processes of a local stack and the state file that lets a later command find and stop them.

Each child runs in its own session (process group), so stopping it also stops anything it started, and a
detached stack outlives the command that started it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stack.components import Component
from stack.health import HttpProbe, Probe, TcpProbe


@dataclass(frozen=True)
class ProcessRecord:
    name: str
    title: str
    pid: int
    command: list[str]
    log_path: str
    address: str
    probe_kind: str  # "http" | "tcp"
    probe_target: str

    @property
    def probe(self) -> Probe:
        return HttpProbe(self.probe_target) if self.probe_kind == "http" else TcpProbe(self.probe_target)

    def is_alive(self) -> bool:
        """True while our process (not another that reused its pid) is running and not a zombie."""
        try:
            cmdline = Path(f"/proc/{self.pid}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return False
        state = stat.rsplit(")", 1)[-1].split()[0]
        return state != "Z" and [part.decode() for part in cmdline if part] == self.command

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(Path(self.log_path).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def start_process(component: Component, log_dir: Path, workdir: Path) -> tuple[ProcessRecord, subprocess.Popen[bytes]]:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{component.name}.log"
    with log_path.open("ab") as log:
        child = subprocess.Popen(
            component.command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **component.environment},
            cwd=workdir,
            start_new_session=True,
        )
    probe = component.probe
    record = ProcessRecord(
        name=component.name,
        title=component.title,
        pid=child.pid,
        command=component.command,
        log_path=str(log_path),
        address=component.address,
        probe_kind="http" if isinstance(probe, HttpProbe) else "tcp",
        probe_target=probe.url if isinstance(probe, HttpProbe) else probe.address,
    )
    return record, child


def kill_process(record: ProcessRecord) -> None:
    """SIGKILL the process group at once, as a crash would: no clean-up, no flush (fault-injection tests)."""
    _signal_group(record.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while (record.is_alive() or _group_exists(record.pid)) and time.monotonic() < deadline:
        _reap(record.pid)
        time.sleep(0.05)


def stop_process(record: ProcessRecord, timeout_seconds: float = 20) -> None:
    """SIGTERM the process group, wait for a clean exit, SIGKILL what is left after ``timeout_seconds``."""
    if not record.is_alive():
        _signal_group(record.pid, signal.SIGKILL)  # stray grandchildren of a dead leader
        return
    _signal_group(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        _reap(record.pid)
        if not record.is_alive() and not _group_exists(record.pid):
            return
        time.sleep(0.1)
    _signal_group(record.pid, signal.SIGKILL)
    _reap(record.pid)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Zombies still count for killpg; look for a live member.
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[-1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


class StateFile:
    """``<home>/run/stack.json``: the records of a running stack, in start order."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "stack.json"

    def load(self) -> list[ProcessRecord]:
        return [ProcessRecord(**entry) for entry in self._read().get("processes", [])]

    def startup_complete(self) -> bool:
        """False while ``up`` is still starting parts (or died half-way)."""
        return bool(self._read().get("complete", False))

    def save(self, records: list[ProcessRecord], *, complete: bool = False) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        document = {"complete": complete, "processes": [asdict(record) for record in records]}
        temporary.write_text(json.dumps(document, indent=2))
        temporary.replace(self.path)

    def _read(self) -> dict[str, Any]:
        try:
            document: dict[str, Any] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return document

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
