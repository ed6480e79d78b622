"""Stream processors: faust-streaming agents that turn raw hits into clean events, and sinks that store them."""
