"""The per-person stage: what the stream keeps about each person (user, else visitor) across their events."""
