"""Kafka → the outside world: processes that deliver what the stream produced to other people's systems
(``segment_webhooks``: each segment change POSTed, signed and retried, to the segment's webhook URLs)."""
