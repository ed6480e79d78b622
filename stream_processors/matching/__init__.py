"""Event matches (``schemas.event_matching``) for the stream, and the same tests as ClickHouse SQL."""
