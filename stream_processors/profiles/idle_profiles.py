"""Keeps the per-person table bounded: people idle for longer than the memory period (stream time) keep only
their profile's totals. The profile's memories (recent event ids and sessions) would be let go by then anyway
(``track_profile``), so sweeping changes no figure; funnel progress and email state are left as they are."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from prometheus_client import Counter

from stream_processors.people.person_state import PersonState
from stream_processors.profiles.profile_state import profile_header
from stream_processors.profiles.track_profile import sweep_profile
from stream_processors.visitors.partition_clock import PartitionClock

PROFILES_SWEPT = Counter("beacon_stream_profiles_swept_total", "Idle people whose profile memories were let go")
SWEPT_PER_EVENT = 2  # a few after each event, so a sweep never stalls the stream


class IdleProfiles:
    def __init__(
        self,
        state_of: Callable[[bytes], PersonState | None],
        everyone: Callable[[], Iterable[tuple[bytes, bytes]]],
        store: Callable[[int, bytes, PersonState], None],
        memory_ms: int,
    ) -> None:
        """``state_of``: a person's state; ``everyone``: all (key, encoded state) of the table (read once per
        partition after a restart); ``store``: set a person's new state (the table and its changelog)."""
        self._state_of = state_of
        self._store = store
        self._memory_ms = memory_ms
        self.clock = PartitionClock(
            lambda: ((key, header) for key, value in everyone() if (header := profile_header(value)) is not None)
        )

    def sweep(self, partition: int, stream_time_ms: int) -> None:
        """Sweep a few people idle since before the memory period; forget people swept long ago (the clock's)."""
        for key in self.clock.idle(partition, stream_time_ms - self._memory_ms, SWEPT_PER_EVENT):
            state = self._state_of(key)
            if state is None or state.profile is None:
                self.clock.forget(partition, key)
                continue
            self._store(partition, key, replace(state, profile=sweep_profile(state.profile)))
            self.clock.swept(partition, key, state.profile.last_active_ms)
            PROFILES_SWEPT.inc()
        for key in self.clock.expired(partition, stream_time_ms - self._memory_ms, SWEPT_PER_EVENT):
            self.clock.forget(partition, key)  # (a swept profile has nothing more to let go of)
