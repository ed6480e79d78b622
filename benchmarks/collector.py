"""Collector throughput and latency under a loopback load generator, next to a bare Starlette baseline.

Starts the embedded broker, registers a site, then measures in one run:
- pixel: the maximum rate (wrk), and latency percentiles at half that rate (hey, rate-limited);
- the same for a bare Starlette endpoint returning the same GIF (the baseline of the ratio);
- /v1/batch with 100-event batches (hey), in events/s;
- the collector's peak resident memory while under load.
Needs wrk and hey (Debian: apt-get install wrk hey).

    .venv/bin/python -m benchmarks.collector --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson

from stack.ephemeral import ephemeral_services, free_port
from stack.site_admin import create_site

ROOT = Path(__file__).resolve().parent.parent
PIXEL_QUERY = "site=bench&url=https%3A%2F%2Fshop.example%2Fproducts%2F42&aid=visitor-1&e=page_view&p.plan=pro"


@contextmanager
def server(
    module_app: str, port: int, environment: dict[str, str], *, factory: bool = False, workers: int = 1
) -> Iterator[subprocess.Popen[bytes]]:
    """The same uvicorn settings for the collector and the baseline: uvloop, httptools, no access log."""
    command = [sys.executable, "-m", "uvicorn", module_app, "--port", str(port), "--no-access-log",
               "--log-level", "warning", "--loop", "uvloop", "--http", "httptools",
               "--workers", str(workers)]  # fmt: skip
    if factory:
        command.append("--factory")
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **environment})
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/p.gif?site=bench&url=https://a.example/", timeout=1).status_code:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=20)


def wrk(url: str, seconds: int) -> tuple[float, str]:
    output = subprocess.run(
        ["wrk", "-t1", "-c64", f"-d{seconds}s", "--latency", url], capture_output=True, text=True, check=True
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    return rate, output


def hey(arguments: list[str]) -> tuple[float, dict[str, float], str]:
    output = subprocess.run(["hey", *arguments], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    percentiles = {
        match.group(1): float(match.group(2)) * 1000
        for match in re.finditer(r"\s(\d+)%% in ([\d.]+) secs".replace("%%", "%"), output)
    }
    statuses = re.findall(r"\[(\d{3})\]\s+(\d+) responses", output)
    if any(code != "200" for code, _ in statuses):
        raise RuntimeError(f"non-200 answers under load: {statuses}")
    return rate, percentiles, output


class PeakMemory:
    """Samples the resident memory of a process and its children (uvicorn's workers) in the background;
    ``peak_mib`` is the largest total seen."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            children = Path(f"/proc/{self._pid}/task/{self._pid}/children")
            pids = [self._pid, *(int(pid) for pid in children.read_text().split())] if children.exists() else []
            resident_kib = 0
            for pid in pids:
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                resident_kib += int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]
            self.peak_mib = max(self.peak_mib, resident_kib / 1024)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_mib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes, for both the collector and the baseline"
    )
    arguments = parser.parse_args()
    for tool in ("wrk", "hey"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install wrk hey")

    with tempfile.TemporaryDirectory(prefix="beacon-bench-") as home, ephemeral_services(Path(home)) as services:
        _, write_key = asyncio.run(
            create_site(services.kafka_address, site_id="bench", name="Benchmark", domains=["shop.example"])
        )
        collector_port, bare_port = free_port(), free_port()
        environment = {
            "BEACON_KAFKA_BOOTSTRAP": services.kafka_address,
            "BEACON_COLLECTOR_SPOOL_DIR": str(Path(home) / "collector-spool"),
            "BEACON_COLLECTOR_SITES_SNAPSHOT": str(Path(home) / "collector-sites.json"),
            # The load comes from one IP; the limits are lifted so that the accepting path is what is measured.
            "BEACON_COLLECTOR_RATE_PER_IP": "1e9",
            "BEACON_COLLECTOR_BURST_PER_IP": "1e9",
            "BEACON_COLLECTOR_RATE_PER_SITE": "1e9",
            "BEACON_COLLECTOR_BURST_PER_SITE": "1e9",
        }
        print(f"load: wrk -t1 -c64 -d{arguments.seconds}s / hey, on loopback; 2 cores shared with the broker; "
              f"{arguments.workers} server process(es)\n")  # fmt: skip

        with server("benchmarks.bare_pixel_app:app", bare_port, {}, workers=arguments.workers):
            bare_rate, bare_output = wrk(f"http://127.0.0.1:{bare_port}/p.gif?{PIXEL_QUERY}", arguments.seconds)
        with server(
            "collector.asgi:create_from_environment",
            collector_port,
            environment,
            factory=True,
            workers=arguments.workers,
        ) as collector:
            memory = PeakMemory(collector.pid)
            base = f"http://127.0.0.1:{collector_port}"
            pixel_rate, pixel_output = wrk(f"{base}/p.gif?{PIXEL_QUERY}", arguments.seconds)
            half = max(int(pixel_rate / 2), 1)
            _, pixel_latency, _ = hey(["-z", f"{arguments.seconds}s", "-c", "10", "-q", str(max(half // 10, 1)),
                                       f"{base}/p.gif?{PIXEL_QUERY}"])  # fmt: skip
            basic = base64.b64encode(f"{write_key}:".encode()).decode()
            batch_file = Path(home) / "batch.json"
            batch_file.write_bytes(orjson.dumps({"batch": [
                {"type": "track", "event": "Bench", "userId": f"user-{n}", "messageId": str(uuid.uuid4()),
                 "properties": {"n": n, "plan": "pro"}} for n in range(100)]}))  # fmt: skip
            batch_rate, batch_latency, _ = hey(
                ["-z", f"{arguments.seconds}s", "-c", "16", "-m", "POST", "-T", "application/json",
                 "-H", f"Authorization: Basic {basic}", "-D", str(batch_file), f"{base}/v1/batch"]
            )  # fmt: skip
            peak_mib = memory.stop()

        print(f"bare Starlette GIF (baseline)     {bare_rate:>10,.0f} req/s")
        print(f"collector pixel                   {pixel_rate:>10,.0f} req/s   ratio to baseline "
              f"{pixel_rate / bare_rate:.2f} (goal >= 0.7); goal >= 8,000 hits/s")  # fmt: skip
        print(f"pixel latency at {half:,} req/s      p50 {pixel_latency.get('50', 0):.1f} ms  "
              f"p99 {pixel_latency.get('99', 0):.1f} ms (goal p99 < 10 ms)")  # fmt: skip
        print(f"/v1/batch, 100 events per batch   {batch_rate * 100:>10,.0f} events/s ({batch_rate:,.0f} req/s, "
              f"p99 {batch_latency.get('99', 0):.1f} ms; goal >= 30,000 events/s)")  # fmt: skip
        print(f"collector peak RSS under load     {peak_mib:>10,.0f} MiB (goal < 300 MiB)")
        if os.environ.get("BENCH_VERBOSE"):
            print(bare_output, pixel_output)


if __name__ == "__main__":
    main()
