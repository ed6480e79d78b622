"""What a client's full IP address tells: its country (region and city with a MaxMind City database) and
its network, before the address is masked.

The default needs nothing from the operator: geoip2fast bundles MaxMind GeoLite2 Country and ASN data for
IPv4 and IPv6 (country only: its city files are downloads, not shipped) and looks an address up in ~4 µs.
An operator with a GeoIP2 or GeoLite2 City database sets ``BEACON_STREAM_GEOIP_DATABASE`` and gets region
and city too, read with maxminddb (MaxMind's reader, C extension; geoip2 would only wrap it in objects).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import maxminddb
from geoip2fast import GeoIP2Fast

BUNDLED_DATA_FILE = "geoip2fast-asn-ipv6.dat.gz"  # country + ASN, IPv4 + IPv6: the largest file it ships


class IpFacts(NamedTuple):
    country: str = ""  # ISO 3166-1 alpha-2
    region: str = ""  # ISO 3166-2, e.g. "US-CA"
    city: str = ""  # English name
    network: str = ""  # the autonomous system's name, e.g. "AMAZON-02"


class IpLookup(Protocol):
    def __call__(self, ip: str) -> IpFacts: ...


class MaxMindReader(Protocol):
    """What ``maxminddb.Reader`` offers that is used here (so tests can hand in a dict-backed one)."""

    def get(self, ip_address: str, /) -> Any: ...


def canonical_ip(ip: str) -> str:
    """The address in its canonical text (an IPv4-mapped IPv6 address as IPv4), or ``""`` if it is none."""
    try:
        socket.inet_pton(socket.AF_INET, ip)
    except (OSError, ValueError):
        pass
    else:
        return ip
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


class BundledIpLookup:
    """Country and network from the data geoip2fast ships (GeoLite2, as of the package's release).

    A visitor sends several events from one address, so the last addresses' answers are kept in memory
    (8 µs a lookup otherwise); like every full address, they are never written anywhere.
    """

    def __init__(self, reader: Any, cached_addresses: int = 16384) -> None:
        self._reader = reader
        self._cached_facts = lru_cache(maxsize=cached_addresses)(self._facts)

    def __call__(self, ip: str) -> IpFacts:
        address = canonical_ip(ip)
        return self._cached_facts(address) if address else IpFacts()

    def _facts(self, address: str) -> IpFacts:
        found = self._reader.lookup(address)
        if found.is_private:
            return IpFacts()
        country = found.country_code if len(found.country_code) == 2 and found.country_code != "--" else ""
        return IpFacts(country=country, network=found.asn_name or "")


class MaxMindIpLookup:
    """Country, region and city from the operator's MaxMind database; the network still from the bundled data
    (a City database has none)."""

    def __init__(self, reader: MaxMindReader, networks: IpLookup) -> None:
        self._reader = reader
        self._networks = networks

    def __call__(self, ip: str) -> IpFacts:
        address = canonical_ip(ip)
        if not address:
            return IpFacts()
        network = self._networks(address).network
        try:
            record = self._reader.get(address)
        except ValueError:
            return IpFacts(network=network)
        if not isinstance(record, Mapping):
            return IpFacts(network=network)
        country = _text(record, "country", "iso_code") or _text(record, "registered_country", "iso_code")
        subdivisions = record.get("subdivisions")
        subdivision = subdivisions[0] if isinstance(subdivisions, list) and subdivisions else {}
        region_code = _text(subdivision, "iso_code")
        return IpFacts(
            country=country,
            region=f"{country}-{region_code}" if country and region_code else "",
            city=_text(record, "city", "names", "en"),
            network=network,
        )


@lru_cache(maxsize=1)
def bundled_ip_lookup() -> BundledIpLookup:
    """Loaded once per process (0.2 s, ~100 MiB): geoip2fast keeps its tables in module globals, so a second
    reader with another file would overwrite the first one's."""
    return BundledIpLookup(GeoIP2Fast(geoip2fast_data_file=BUNDLED_DATA_FILE))


def load_ip_lookup(maxmind_database: Path | None) -> IpLookup:
    """The operator's MaxMind database if one is configured, else the bundled data alone."""
    if maxmind_database is None:
        return bundled_ip_lookup()
    return MaxMindIpLookup(maxminddb.open_database(str(maxmind_database)), bundled_ip_lookup())


def _text(record: object, *path: str) -> str:
    for key in path:
        if not isinstance(record, Mapping):
            return ""
        record = record.get(key)
    return record if isinstance(record, str) else ""
