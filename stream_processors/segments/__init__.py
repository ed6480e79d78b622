"""Live segments in the stream: each person's membership, re-evaluated on their events and when time moves."""
