"""Enrichment of canonical events: user agent, bot flag, geolocation, referrer, campaign, channel, visitor hash."""
