"""Run a stream worker: ``python -m stream_processors`` (settings from BEACON_* variables)."""

import sys

from runtime.logging import configure_logging
from stream_processors.app import app, settings
from stream_processors.fetch_pacing import pace_empty_fetches


def main() -> None:
    configure_logging("stream-worker")
    # The agents are imported once logging is JSON: they log as they load (the definitions folder).
    from stream_processors import hits_agent, people_agent  # noqa: F401  (register the agents and tables with the app)

    pace_empty_fetches()
    sys.argv = [
        "beacon-stream", "--quiet", "worker", "--loglevel", "info",  # --quiet: no banner, logs only
        "--web-host", settings.stream_web_host, "--web-port", str(settings.stream_web_port),
    ]  # fmt: skip
    app.main()


if __name__ == "__main__":
    main()
