"""Who may see the dashboard: the holder of ``BEACON_DASHBOARD_TOKEN``.

A browser shows the token once (``/dashboard?token=…``, the URL ``./beacon up`` prints, or the login form) and
gets a session cookie in exchange; the cookie holds an HMAC of the token, never the token itself, so it stops
working when the token changes. Programs send ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hashlib
import hmac
from html import escape

from starlette.requests import Request

COOKIE_NAME = "beacon_dashboard"
_COOKIE_PURPOSE = b"beacon dashboard session v1"


def token_matches(offered: str, token: str) -> bool:
    """Whether ``offered`` is the token, in time that does not depend on where they differ."""
    return hmac.compare_digest(offered.strip().encode(), token.encode())


def session_cookie(token: str) -> str:
    """The cookie's value for a browser that showed ``token``."""
    return hmac.new(token.encode(), _COOKIE_PURPOSE, hashlib.sha256).hexdigest()


def is_allowed(request: Request, token: str) -> bool:
    """Whether the request carries the session cookie or the token as a bearer."""
    cookie = request.cookies.get(COOKIE_NAME, "")
    if cookie and hmac.compare_digest(cookie.encode(), session_cookie(token).encode()):
        return True
    scheme, _, offered = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(offered) and token_matches(offered, token)


def login_page(problem: str = "") -> str:
    """The login form; ``problem`` says why the last attempt failed."""
    message = f'<p id="status" role="alert">{escape(problem)}</p>' if problem else ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Beacon dashboard: log in</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/assets/dashboard.css">
</head>
<body>
<form class="login" method="post" action="/dashboard/login">
  <h1>Beacon dashboard</h1>
  <label for="token">Dashboard token (<code>BEACON_DASHBOARD_TOKEN</code>;
    <code>./beacon up</code> prints a link with it)</label>
  <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
  {message}
  <button type="submit">Log in</button>
</form>
</body>
</html>
"""
