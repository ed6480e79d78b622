"""``./beacon funnels``: install funnel definitions, see what the stream worker runs, compare with SQL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clickhouse_connect.driver.client import Client

from runtime.definitions import DefinitionFolder
from schemas.funnels import FunnelDefinition, InvalidFunnelError, load_funnel_file
from stack.definition_admin import remove_definition, running_definitions
from stream_processors.funnels.funnel_sql import step_counts_sql
from stream_processors.matching.match_sql import quote


class FunnelExistsError(InvalidFunnelError):
    """``add`` without ``--replace`` for a funnel id already defined."""


@dataclass(frozen=True)
class StepCount:
    step: int
    name: str
    people_in_sql: int  # windowFunnel over beacon.events, now
    people_in_stream: int  # beacon.funnel_progress, the stream's figures


def add_funnel(folder: DefinitionFolder, source: Path, *, replace: bool) -> tuple[FunnelDefinition, Path]:
    """Check ``source`` and install it as ``funnels/<funnel_id>.yaml``."""
    funnel = load_funnel_file(source)
    if folder.funnel_path(funnel.funnel_id).exists() and not replace:
        raise FunnelExistsError(f"funnel {funnel.funnel_id!r} exists: use --replace to change it")
    return funnel, folder.write_funnel(funnel)


def remove_funnel(folder: DefinitionFolder, funnel_id: str) -> bool:
    return remove_definition(folder.funnel_path(funnel_id))


def running_funnels(stream_worker_url: str) -> dict[str, str] | None:
    return running_definitions(stream_worker_url, "funnels")


def step_counts(client: Client, funnel: FunnelDefinition) -> list[StepCount]:
    """People at each step or further: by SQL over the events, and as the stream keeps them."""
    in_sql = _counts(client, step_counts_sql(funnel))
    in_stream = _counts(
        client,
        f"""SELECT step, countIf(p.step >= step) FROM
            (SELECT step FROM beacon.funnel_progress
             WHERE site_id = {quote(funnel.site_id)} AND funnel_id = {quote(funnel.funnel_id)}
               AND funnel_version = {quote(funnel.version)}) AS p
            ARRAY JOIN range(1, {len(funnel.steps) + 1}) AS step
            GROUP BY step""",
    )
    return [
        StepCount(number, step.name, in_sql.get(number, 0), in_stream.get(number, 0))
        for number, step in enumerate(funnel.steps, start=1)
    ]


def _counts(client: Client, query: str) -> dict[int, int]:
    return {int(step): int(people) for step, people in client.query(query).result_rows}
