"""Start, watch and stop a local Beacon stack: embedded services, provisioning, then Beacon's processes.

Used by ``./beacon up|down|status`` and by the test suite, so the tests exercise the same start-up path
that users run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from stack.components import Component, applications, embedded_services
from stack.dashboard_build import ensure_dashboard_built
from stack.demo_site import DemoSite, demo_domains, ensure_demo_site
from stack.processes import ProcessRecord, StateFile, kill_process, start_process, stop_process
from stack.provision import provision_topics, provision_warehouse
from stack.settings import StackSettings
from stack.tracker_build import TrackerBuildError, ensure_tracker_built

Step = Callable[[str], AbstractContextManager[None]]


class StackError(RuntimeError):
    """The stack cannot start (or is already running); the message says what to do."""


@dataclass(frozen=True)
class PartStatus:
    name: str
    title: str
    address: str
    running: bool
    healthy: bool
    pid: int


def _silent_step(_: str) -> AbstractContextManager[None]:
    return nullcontext()


class LocalStack:
    def __init__(self, settings: StackSettings, *, workdir: Path | None = None, step: Step = _silent_step) -> None:
        self.settings = settings
        self._workdir = workdir or Path.cwd()
        self._state = StateFile(settings.run_dir)
        self._step = step
        self.notes: list[str] = []  # what provisioning did, for the summary
        self.demo_site: DemoSite | None = None

    def running_parts(self) -> list[ProcessRecord]:
        return [record for record in self._state.load() if record.is_alive()]

    def start(self, *, include_applications: bool = True) -> list[ProcessRecord]:
        """Start every part and wait until each is healthy; on any failure stop what was started and raise."""
        alive = self.running_parts()
        if alive:
            raise StackError(
                f"Beacon is already running from {self.settings.home} "
                f"({', '.join(f'{record.name} pid {record.pid}' for record in alive)}); "
                "stop it with `./beacon down` or use another BEACON_HOME"
            )
        self._state.clear()
        records: list[ProcessRecord] = []
        try:
            for component in embedded_services(self.settings):
                records.append(self._start_healthy(component, records))
            with self._step("Creating Kafka topics"):
                reports = provision_topics(self.settings.kafka_address)
                self.notes.append(
                    "topics: " + ", ".join(f"{report.name} ({report.partitions} partitions)" for report in reports)
                )
            with self._step("Applying ClickHouse migrations"):
                applied = provision_warehouse(self.settings.clickhouse_address)
                self.notes.append(f"migrations applied now: {len(applied)}")
            with self._step("Registering the demo site"):
                domains = demo_domains(self.settings.collector_port)
                self.demo_site = ensure_demo_site(self.settings.home, self.settings.kafka_address, domains)
            if include_applications:
                self._build_tracker()
                for component in applications(self.settings):
                    records.append(self._start_healthy(component, records))
        except BaseException:
            self._stop_records(records)
            self._state.clear()
            raise
        self._state.save(records, complete=True)
        return records

    def _build_tracker(self) -> None:
        """The collector serves the website tracker, the dashboard its page: build both first when missing or stale."""
        try:
            ensure_tracker_built(step=self._step)
            ensure_dashboard_built(step=self._step)
        except TrackerBuildError as error:
            raise StackError(str(error)) from None

    def stop(self) -> list[str]:
        """Stop every recorded part, newest first; return the names stopped."""
        records = self._state.load()
        self._stop_records(records)
        self._state.clear()
        return [record.name for record in reversed(records)]

    def startup_complete(self) -> bool:
        return self._state.startup_complete()

    def status(self) -> list[PartStatus]:
        return [
            PartStatus(
                name=record.name,
                title=record.title,
                address=record.address,
                running=(alive := record.is_alive()),
                healthy=alive and record.probe.ready(),
                pid=record.pid,
            )
            for record in self._state.load()
        ]

    def stop_part(self, name: str) -> None:
        """Stop one part (fault-injection tests); ``start_part`` brings it back with the same settings."""
        record = next(record for record in self._state.load() if record.name == name)
        stop_process(record)

    def kill_part(self, name: str) -> None:
        """Kill one part with SIGKILL, as a crash would (fault-injection tests); ``start_part`` restarts it."""
        record = next(record for record in self._state.load() if record.name == name)
        kill_process(record)

    def start_part(self, name: str) -> None:
        components = [*embedded_services(self.settings), *applications(self.settings)]
        component = next(component for component in components if component.name == name)
        others = [record for record in self._state.load() if record.name != name]
        record = self._start_healthy(component, others)
        # Kept in start order, so that stopping (newest first) still stops the applications before the broker
        # and the warehouse they flush to: a restarted broker stopped first left the stream worker and the
        # writer each waiting out their 20 s stop timeout.
        order = [component.name for component in components]
        started = sorted([*others, record], key=lambda kept: order.index(kept.name) if kept.name in order else 0)
        self._state.save(started, complete=True)

    def watch(self, poll_seconds: float = 1.0) -> ProcessRecord:
        """Block until a part dies; return its record (the caller decides what to do, usually stop all)."""
        records = self._state.load()
        while True:
            for record in records:
                if not record.is_alive():
                    return record
            time.sleep(poll_seconds)

    def _start_healthy(self, component: Component, started: list[ProcessRecord]) -> ProcessRecord:
        with self._step(f"Starting {component.title}"):
            record, child = start_process(component, self.settings.log_dir, self._workdir)
            self._state.save([*started, record])
            deadline = time.monotonic() + self.settings.startup_timeout_seconds
            while not component.probe.ready():
                if child.poll() is not None:
                    raise StackError(
                        f"{component.title} exited with status {child.returncode} while starting; "
                        f"last lines of {record.log_path}:\n{record.log_tail()}"
                    )
                if time.monotonic() > deadline:
                    raise StackError(
                        f"{component.title} was not healthy within {self.settings.startup_timeout_seconds:.0f} s; "
                        f"last lines of {record.log_path}:\n{record.log_tail()}"
                    )
                time.sleep(0.2)
            return record

    @staticmethod
    def _stop_records(records: list[ProcessRecord]) -> None:
        for record in reversed(records):
            stop_process(record)
