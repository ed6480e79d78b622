"""What the enrich steps look things up in, loaded once when the worker starts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from runtime.settings import SettingsError
from stream_processors.enrich.ip_lookup import IpLookup, load_ip_lookup
from stream_processors.enrich.referrers import ReferrerList
from stream_processors.enrich.visitor_hashes import daily_salt
from stream_processors.settings import StreamWorkerSettings

SALT_SECRET_VARIABLE = "BEACON_STREAM_VISITOR_SALT_SECRET"


@dataclass(frozen=True)
class EnrichContext:
    ip_lookup: IpLookup
    referrers: ReferrerList
    visitor_salt_secret: bytes

    def salt_for(self, day: date) -> bytes:
        """The visitor-hash salt of a UTC day (cached: a handful of days are live at once)."""
        return daily_salt(self.visitor_salt_secret, day)


def load_enrich_context(settings: StreamWorkerSettings) -> EnrichContext:
    """Open the geo data (0.2 s) and read the referrer list (30 ms); refuse to start without a salt secret,
    since hashes under a known key could be reversed by trying every IPv4 address."""
    secret = settings.stream_visitor_salt_secret.get_secret_value()
    if len(secret) < 16:
        raise SettingsError(f"invalid settings: {SALT_SECRET_VARIABLE}: at least 16 characters are required")
    return EnrichContext(
        ip_lookup=load_ip_lookup(settings.stream_geoip_database),
        referrers=ReferrerList.load(),
        visitor_salt_secret=secret.encode(),
    )
