"""How every HTTP process of Beacon serves its ASGI app: uvicorn, our structured logging, no access log."""

from __future__ import annotations

from typing import Any

import uvicorn


def serve(app: Any, host: str, port: int, graceful_shutdown_seconds: int = 10, **options: Any) -> None:
    """Serve ``app`` until stopped. ``log_config=None`` keeps the process's structlog set-up (uvicorn would replace
    it); there is no access log, since the request metrics say as much and URLs may carry tokens or ids."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=graceful_shutdown_seconds,
        **options,
    )
