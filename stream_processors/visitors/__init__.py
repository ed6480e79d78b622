"""The per-visitor state of the stream worker and the pure step that updates it for one event."""
