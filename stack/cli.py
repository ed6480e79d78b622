"""``./beacon``: start, inspect, query and test a Beacon stack (typer + rich)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from runtime.clickhouse import connect_clickhouse
from runtime.definitions import DefinitionFolder
from runtime.settings import KafkaSettings, SettingsError, load_settings
from schemas.email import EmailRecipientMessage, EmailTokens
from schemas.event_matching import EventMatch
from schemas.funnels import FunnelDefinition, InvalidFunnelError, funnel_yaml, load_funnel_file
from schemas.segments import InvalidSegmentError, SegmentDefinition, load_segment_file, segment_yaml
from schemas.sessions import SessionRules
from schemas.traffic import TrafficSettings
from schemas.validation import first_problem
from stack.chromium import ChromiumError, ensure_chromium
from stack.dashboard_build import ensure_dashboard_built
from stack.dashboard_tokens import dashboard_token
from stack.dead_letter_admin import DeadLetterFilter, replay, summarize
from stack.demo_site import DEMO_DOMAINS, DemoSite
from stack.email_keys import email_signing_keys
from stack.email_links import click_url, open_pixel_url, wrap_email_html
from stack.funnel_admin import add_funnel, remove_funnel, running_funnels, step_counts
from stack.provision import provision_warehouse
from stack.segment_admin import add_segment, members_now, remove_segment, running_segments
from stack.settings import StackSettings
from stack.site_admin import (
    SiteAdminError,
    create_site,
    existing_site,
    list_sites,
    revoke_site,
    rotate_write_key,
    set_session_rules,
    site_id_from_name,
)
from stack.supervisor import LocalStack, StackError
from stack.tracker_build import TrackerBuildError, ensure_tracker_built
from stack.traffic_plan import plan_traffic
from stack.traffic_send import TrafficTarget, expected_events, send_traffic
from stack.webhook_keys import webhook_signing_keys
from stream_processors.funnels.funnel_sql import furthest_steps_sql
from stream_processors.segments.segment_sql import segment_members_sql

app = typer.Typer(
    help="Beacon: first-party behavioural event streaming. Settings come from BEACON_* variables.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
errors = Console(stderr=True)
ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")
_ROW_RETURNING = ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN")


def _settings() -> StackSettings:
    try:
        return load_settings(StackSettings)
    except SettingsError as error:
        errors.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None


@contextmanager
def _progress(title: str) -> Iterator[None]:
    started = time.monotonic()
    with console.status(f"{title}…"):
        yield
    console.print(f"[green]✓[/green] {title} [dim]({time.monotonic() - started:.1f} s)[/dim]")


@app.command()
def up(
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Return once every part is healthy.")] = False,
) -> None:
    """Start the whole stack: Kafka, warehouse, topics, migrations, writer, webhook sender, dashboard, stream worker,
    collector."""
    settings = _settings()
    stack = LocalStack(settings, workdir=ROOT, step=_progress)
    stopping = False

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
        _print_summary(settings, stack)
        if detach:
            console.print("Running in the background. [bold]./beacon status[/bold] checks it, "
                          "[bold]./beacon down[/bold] stops it.")  # fmt: skip
            return
        console.print("Press [bold]Ctrl-C[/bold] to stop. Logs: " + str(settings.log_dir))
        died = stack.watch()
        errors.print(f"[red]{died.title} stopped unexpectedly[/red]; last lines of {died.log_path}:\n{died.log_tail()}")
        _stop(stack)
        raise typer.Exit(1)
    except StackError as error:
        errors.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        console.print("\nStopping…")
        _stop(stack)


def _stop(stack: LocalStack) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not leave orphans behind
    for name in stack.stop():
        console.print(f"[green]✓[/green] stopped {name}")


def _print_summary(settings: StackSettings, stack: LocalStack) -> None:
    site = stack.demo_site
    assert site is not None, "LocalStack.start registers it"
    table = Table(title="Beacon is up", show_header=False, title_justify="left")
    table.add_row("Collector", settings.collector_url)
    table.add_row("Website tracker", f"{settings.collector_url}/beacon.js")
    table.add_row("Demo shop", f"{settings.collector_url}/demo")
    table.add_row("Dashboard", f"{settings.dashboard_url} (link with its token below)")
    table.add_row("ClickHouse HTTP", settings.clickhouse_address)
    table.add_row("Kafka bootstrap", settings.kafka_address)
    table.add_row("Demo site id", site.site_id)
    table.add_row("Demo write key", site.write_key)
    table.add_row("Data", str(settings.home.resolve()))
    for note in stack.notes:
        table.add_row("", f"[dim]{note}[/dim]")
    console.print(table)
    # On a line of its own, never wrapped nor cut, to be clicked or copied whole.
    console.print(f"Dashboard: {settings.dashboard_url}?token={dashboard_token(settings.home)}", soft_wrap=True)
    console.print(
        f"Try: open {settings.collector_url}/demo and click around, or\n"
        f"     curl '{settings.collector_url}/p.gif?site={site.site_id}&url=https://example.com/'\n"
        '     ./beacon sql "SELECT event_name, url, event_time FROM beacon.events FINAL LIMIT 5"'
    )


@app.command()
def down() -> None:
    """Stop a stack started with `up --detach` (or one left behind); its data stays."""
    stack = LocalStack(_settings(), workdir=ROOT)
    stopped = stack.stop()
    if not stopped:
        console.print("Beacon was not running.")
    for name in stopped:
        console.print(f"[green]✓[/green] stopped {name}")


@app.command()
def status() -> None:
    """Show each part of the local stack: running, healthy, address."""
    stack = LocalStack(_settings(), workdir=ROOT)
    parts = stack.status()
    if not parts:
        console.print("Beacon is not running.")
        raise typer.Exit(1)
    complete = stack.startup_complete()
    if not complete:
        console.print("[yellow]Beacon is still starting (or its start was interrupted).[/yellow]")
    table = Table("part", "pid", "state", "address")
    for part in parts:
        state = (
            "[green]healthy[/green]"
            if part.healthy
            else "[yellow]unhealthy[/yellow]"
            if part.running
            else "[red]stopped[/red]"
        )
        table.add_row(part.title, str(part.pid), state, part.address)
    console.print(table)
    if not complete or not all(part.healthy for part in parts):
        raise typer.Exit(1)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="One ClickHouse SQL statement.")],
    output_format: Annotated[
        str | None, typer.Option("--format", "-f", help="A ClickHouse output format, printed as the server sends it.")
    ] = None,
) -> None:
    """Run SQL against the warehouse and print the result as a table."""
    settings = _settings()
    try:
        client = connect_clickhouse(settings.clickhouse_address)
        if output_format:
            sys.stdout.write(client.raw_query(query, fmt=output_format).decode(errors="replace"))
            return
        if query.lstrip().split(None, 1)[0].upper() not in _ROW_RETURNING:
            result = client.command(query)
            console.print(result if result not in (None, "") else "[green]OK[/green]")
            return
        rows = client.query(query)
    except Exception as error:  # the server's message is what the user needs, not a traceback
        errors.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    table = Table(*rows.column_names)
    for row in rows.result_rows:
        table.add_row(*(str(value) for value in row))
    console.print(table)
    console.print(f"[dim]{len(rows.result_rows)} rows[/dim]")


@app.command()
def migrate() -> None:
    """Apply the ClickHouse migrations in schemas/clickhouse/ that the warehouse has not run yet."""
    applied = provision_warehouse(_settings().clickhouse_address)
    for migration in applied:
        console.print(f"[green]✓[/green] applied {migration.version:04d}_{migration.name}")
    console.print(f"{len(applied)} migrations applied; the schema is current.")


sites_app = typer.Typer(help="Register sites and manage their write keys (the registry is topic beacon.sites).")
app.add_typer(sites_app, name="sites")


def _site_admin(operation: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(operation)
    except SiteAdminError as error:
        errors.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None


@sites_app.command("create")
def sites_create(
    name: Annotated[str, typer.Argument(help="A human name, e.g. 'Example shop'.")],
    domain: Annotated[list[str], typer.Option("--domain", help="A domain whose pages may send events; repeatable.")],
    site_id: Annotated[str | None, typer.Option("--id", help="The site id; made from the name by default.")] = None,
) -> None:
    """Register a site; prints its id and write key (the key is shown only now)."""
    settings = _settings()
    site, key = _site_admin(
        create_site(settings.kafka_address, site_id=site_id or site_id_from_name(name), name=name, domains=domain)
    )
    console.print(f"site id    {site.site_id}\nwrite key  {key}\ndomains    {', '.join(site.domains)}")


@sites_app.command("list")
def sites_list() -> None:
    """List the registered sites."""
    table = Table("site id", "name", "domains", "keys", "state", "updated")
    for site in _site_admin(list_sites(_settings().kafka_address)):
        state = "[red]revoked[/red]" if site.revoked else "[green]active[/green]"
        table.add_row(site.site_id, site.name, ", ".join(site.domains), str(len(site.write_keys)), state,
                      site.updated_at.isoformat(timespec="seconds"))  # fmt: skip
    console.print(table)


@sites_app.command("rotate-key")
def sites_rotate_key(
    site_id: str,
    grace_hours: Annotated[float, typer.Option(help="Hours the current keys keep working.")] = 24,
) -> None:
    """Issue a new write key; the old ones stop working after the grace period."""
    _, key = _site_admin(rotate_write_key(_settings().kafka_address, site_id, grace=timedelta(hours=grace_hours)))
    console.print(f"new write key  {key}\nold keys expire in {grace_hours:g} h")


@sites_app.command("revoke")
def sites_revoke(site_id: str) -> None:
    """Stop accepting events for a site (its data stays)."""
    _site_admin(revoke_site(_settings().kafka_address, site_id))
    console.print(f"revoked {site_id}")


MINUTE_MS = 60_000


@sites_app.command("sessions")
def sites_sessions(
    site_id: str,
    idle_minutes: Annotated[float | None, typer.Option(help="Inactivity that ends a session.")] = None,
    max_hours: Annotated[float | None, typer.Option(help="The longest a session lasts.")] = None,
    campaign_splits: Annotated[
        bool | None, typer.Option("--campaign-splits/--no-campaign-splits", help="A new campaign starts a session.")
    ] = None,
    midnight_splits: Annotated[
        bool | None, typer.Option("--midnight-splits/--no-midnight-splits", help="Sessions end at midnight.")
    ] = None,
    time_zone: Annotated[str | None, typer.Option(help="IANA time zone of the midnight rule.")] = None,
    allowed_lateness_minutes: Annotated[
        float | None, typer.Option(help="How late an event may arrive and still update its session.")
    ] = None,
    defaults: Annotated[bool, typer.Option("--defaults", help="Back to the stream worker's settings.")] = False,
) -> None:
    """Show or change how the stream cuts a site's sessions (from the next events on)."""
    bootstrap = _settings().kafka_address
    site = _site_admin(existing_site(bootstrap, site_id))
    changes = {
        "idle_timeout_ms": None if idle_minutes is None else round(idle_minutes * MINUTE_MS),
        "max_length_ms": None if max_hours is None else round(max_hours * 60 * MINUTE_MS),
        "split_on_campaign_change": campaign_splits,
        "split_at_midnight": midnight_splits,
        "time_zone": time_zone,
        "allowed_lateness_ms": None
        if allowed_lateness_minutes is None
        else round(allowed_lateness_minutes * MINUTE_MS),
    }
    given = {name: value for name, value in changes.items() if value is not None}
    if defaults or given:
        try:
            rules = (
                None
                if defaults
                else SessionRules.model_validate({**(site.sessions or SessionRules()).model_dump(), **given})
            )
        except ValidationError as error:
            errors.print(f"[red]{first_problem(error)}[/red]")
            raise typer.Exit(1) from None
        site = _site_admin(set_session_rules(bootstrap, site_id, rules))
    if site.sessions is None:
        console.print(f"{site_id}: the stream worker's session settings (BEACON_STREAM_SESSION_*)")
        return
    rules = site.sessions
    console.print(
        f"{site_id}: a session ends after {rules.idle_timeout_ms / MINUTE_MS:g} min idle, at "
        f"{rules.max_length_ms / MINUTE_MS / 60:g} h, on a new campaign: {_yes(rules.split_on_campaign_change)}, "
        f"at midnight ({rules.time_zone}): {_yes(rules.split_at_midnight)}; events up to "
        f"{rules.allowed_lateness_ms / MINUTE_MS:g} min late update their session"
    )


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


email_app = typer.Typer(help="Tracking links for emails: a signed open pixel and signed click links.")
app.add_typer(email_app, name="email")
SiteIdOption = Annotated[str, typer.Option("--site", help="The site id.")]
CampaignOption = Annotated[str, typer.Option("--campaign", help="The campaign id.")]
MessageOption = Annotated[str, typer.Option("--message", help="The message (send) id.")]
RecipientOption = Annotated[str, typer.Option("--recipient", help="The recipient id (your user or contact id).")]


def _email_message(site: str, campaign: str, message: str, recipient: str) -> EmailRecipientMessage:
    return EmailRecipientMessage(site_id=site, campaign_id=campaign, message_id=message, recipient_id=recipient)


@email_app.command("sign")
def email_sign(
    site: SiteIdOption,
    campaign: CampaignOption,
    message: MessageOption,
    recipient: RecipientOption,
    url: Annotated[list[str] | None, typer.Option("--url", help="A destination to make a click link for.")] = None,
) -> None:
    """Print the open-pixel URL (and click links) of one message to one recipient."""
    settings = _settings()
    tokens = EmailTokens(email_signing_keys(settings.home).split(","))
    reference = _email_message(site, campaign, message, recipient)
    console.print(f"open pixel  {open_pixel_url(settings.collector_url, tokens, reference)}", soft_wrap=True)
    for destination in url or []:
        console.print(
            f"click       {click_url(settings.collector_url, tokens, reference, destination)}", soft_wrap=True
        )


@email_app.command("wrap")
def email_wrap(
    html_file: Annotated[Path, typer.Argument(help="The email's HTML; the result is printed.", exists=True)],
    site: SiteIdOption,
    campaign: CampaignOption,
    message: MessageOption,
    recipient: RecipientOption,
) -> None:
    """Rewrite every link of an HTML email into a signed click link and add the open pixel."""
    settings = _settings()
    tokens = EmailTokens(email_signing_keys(settings.home).split(","))
    reference = _email_message(site, campaign, message, recipient)
    sys.stdout.write(wrap_email_html(html_file.read_text(), settings.collector_url, tokens, reference))


dead_letters_app = typer.Typer(help="Inspect refused input, and re-submit it once the cause is fixed.")
app.add_typer(dead_letters_app, name="dead-letters")
ReasonOption = Annotated[str | None, typer.Option("--reason", help="Only this reason (e.g. unknown_site).")]
StageOption = Annotated[str | None, typer.Option("--stage", help="Only this stage (collector, normalize, ...).")]
SiteOption = Annotated[str | None, typer.Option("--site", help="Only this site id.")]


@dead_letters_app.command("list")
def dead_letters_list(reason: ReasonOption = None, stage: StageOption = None, site: SiteOption = None) -> None:
    """Dead letters by stage and reason, with counts and an example."""
    settings = _settings()
    selection = DeadLetterFilter(reason=reason, stage=stage, site_id=site)
    table = Table("stage", "reason", "count", "latest", "example")
    for stage_name, reason_name, count, latest, example in summarize(
        connect_clickhouse(settings.clickhouse_address), selection
    ):
        table.add_row(stage_name, reason_name, str(count), str(latest), str(example)[:80])
    console.print(table)


@dead_letters_app.command("replay")
def dead_letters_replay(reason: ReasonOption = None, stage: StageOption = None, site: SiteOption = None) -> None:
    """Re-submit the selected dead letters that hold a hit to the stream (ids are kept: no double counts)."""
    if reason is None and stage is None and site is None:
        errors.print("[red]choose what to replay: --reason, --stage and/or --site[/red]")
        raise typer.Exit(2)
    settings = _settings()
    report = replay(
        connect_clickhouse(settings.clickhouse_address),
        settings.kafka_address,
        DeadLetterFilter(reason=reason, stage=stage, site_id=site),
    )
    console.print(
        f"replayed {report.replayed}; not replayable (refused before they were hits): {report.not_replayable}"
    )


funnels_app = typer.Typer(help="Funnels kept on the fly by the stream (YAML in the definitions folder).")
app.add_typer(funnels_app, name="funnels")


def _definitions() -> DefinitionFolder:
    return DefinitionFolder(_settings().definitions_dir)


def _stream_worker_url(settings: StackSettings) -> str:
    return f"http://{settings.host}:{settings.stream_web_port}"


def _defined_funnel(funnel_id: str) -> FunnelDefinition:
    path = _definitions().funnel_path(funnel_id)
    if not path.exists():
        errors.print(f"[red]no funnel {funnel_id!r}[/red] (./beacon funnels list)")
        raise typer.Exit(1)
    try:
        return load_funnel_file(path)
    except InvalidFunnelError as error:
        errors.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None


@funnels_app.command("add")
def funnels_add(
    file: Annotated[Path, typer.Argument(help="A funnel definition (YAML).", exists=True, dir_okay=False)],
    replace: Annotated[bool, typer.Option("--replace", help="Change a funnel that exists.")] = False,
) -> None:
    """Check a funnel definition and install it; a running stream worker starts counting it within seconds."""
    try:
        funnel, path = add_funnel(_definitions(), file, replace=replace)
    except InvalidFunnelError as error:
        errors.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    size = f"{len(funnel.steps)} steps" + (f", {len(funnel.exclusions)} exclusions" if funnel.exclusions else "")
    console.print(f"funnel {funnel.funnel_id} (version {funnel.version}, {size}) -> {path}")


@funnels_app.command("list")
def funnels_list() -> None:
    """The funnels defined, and whether the running stream worker runs this version of each."""
    settings = _settings()
    read = DefinitionFolder(settings.definitions_dir).read_funnels()
    running = running_funnels(_stream_worker_url(settings))
    table = Table("funnel", "site", "steps", "exclusions", "window", "order", "version", "stream worker")
    for funnel in read.funnels:
        state = "not running" if running is None else (
            "running" if running.get(funnel.funnel_id) == funnel.version else "not loaded yet"
        )  # fmt: skip
        steps = " -> ".join(step.name for step in funnel.steps)
        excluded = ", ".join(_match_text(exclusion) for exclusion in funnel.exclusions)
        table.add_row(
            funnel.funnel_id, funnel.site_id, steps, excluded, funnel.window, funnel.order, funnel.version, state
        )
    console.print(table)
    for problem in read.problems:
        errors.print(f"[red]not used:[/red] {problem}")


def _match_text(match: EventMatch) -> str:
    """An event match in a few words: its names, and the fields it filters on."""
    filtered = f" ({', '.join(match.where)})" if match.where else ""
    return " or ".join(match.event) + filtered


@funnels_app.command("show")
def funnels_show(
    funnel_id: str,
    sql: Annotated[bool, typer.Option("--sql", help="Print the equivalent ClickHouse query.")] = False,
    counts: Annotated[bool, typer.Option("--counts", help="People per step: SQL and the stream's.")] = False,
) -> None:
    """A funnel's definition, its SQL, and its figures."""
    funnel = _defined_funnel(funnel_id)
    if sql:
        sys.stdout.write(furthest_steps_sql(funnel) + "\n")
        return
    sys.stdout.write(funnel_yaml(funnel))
    if counts:
        table = Table("step", "name", "people (SQL over events)", "people (stream)")
        for count in step_counts(connect_clickhouse(_settings().clickhouse_address), funnel):
            table.add_row(str(count.step), count.name, f"{count.people_in_sql:,}", f"{count.people_in_stream:,}")
        console.print(table)


@funnels_app.command("remove")
def funnels_remove(funnel_id: str) -> None:
    """Stop counting a funnel (its transitions stay in ClickHouse)."""
    if not remove_funnel(_definitions(), funnel_id):
        errors.print(f"[red]no funnel {funnel_id!r}[/red]")
        raise typer.Exit(1)
    console.print(f"funnel {funnel_id} removed")


segments_app = typer.Typer(help="Live segments kept by the stream (YAML in the definitions folder).")
app.add_typer(segments_app, name="segments")


def _defined_segment(segment_id: str) -> SegmentDefinition:
    path = _definitions().segment_path(segment_id)
    if not path.exists():
        errors.print(f"[red]no segment {segment_id!r}[/red] (./beacon segments list)")
        raise typer.Exit(1)
    try:
        return load_segment_file(path)
    except InvalidSegmentError as error:
        errors.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None


@segments_app.command("add")
def segments_add(
    file: Annotated[Path, typer.Argument(help="A segment definition (YAML).", exists=True, dir_okay=False)],
    replace: Annotated[bool, typer.Option("--replace", help="Change a segment that exists.")] = False,
) -> None:
    """Check a segment definition, create its topic and install it; a running stream worker starts evaluating
    it within seconds."""
    settings = _settings()
    try:
        replicas = load_settings(KafkaSettings).kafka_replication_factor  # (BEACON_KAFKA_REPLICATION_FACTOR)
        segment, path = add_segment(DefinitionFolder(settings.definitions_dir), file, settings.kafka_address,
                                    replace=replace, replicas=replicas)  # fmt: skip
    except InvalidSegmentError as error:
        errors.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    console.print(f"segment {segment.segment_id} (version {segment.version}, topic {segment.topic}) -> {path}")


@segments_app.command("list")
def segments_list() -> None:
    """The segments defined, and whether the running stream worker runs this version of each."""
    settings = _settings()
    read = DefinitionFolder(settings.definitions_dir).read_segments()
    running = running_segments(_stream_worker_url(settings))
    table = Table("segment", "site", "name", "rules", "topic", "webhooks", "version", "stream worker")
    for segment in read.segments:
        state = "not running" if running is None else (
            "running" if running.get(segment.segment_id) == segment.version else "not loaded yet"
        )  # fmt: skip
        table.add_row(segment.segment_id, segment.site_id, segment.name, str(len(segment.rules)), segment.topic,
                      str(len(segment.webhooks)), segment.version, state)  # fmt: skip
    console.print(table)
    for problem in read.problems:
        errors.print(f"[red]not used:[/red] {problem}")


@segments_app.command("show")
def segments_show(
    segment_id: str,
    sql: Annotated[bool, typer.Option("--sql", help="Print the equivalent ClickHouse query.")] = False,
    members: Annotated[bool, typer.Option("--members", help="Members now: SQL and the stream's.")] = False,
) -> None:
    """A segment's definition, its SQL, and its members."""
    segment = _defined_segment(segment_id)
    if sql:
        sys.stdout.write(segment_members_sql(segment) + "\n")
        return
    sys.stdout.write(segment_yaml(segment))
    if members:
        found = members_now(connect_clickhouse(_settings().clickhouse_address), segment)
        console.print(
            f"members now: {len(found.in_sql):,} by SQL over the events, {len(found.in_stream):,} in the stream"
            f" ({len(found.in_sql ^ found.in_stream):,} differ)"
        )


@segments_app.command("remove")
def segments_remove(segment_id: str) -> None:
    """Stop evaluating a segment (its topic and its history in ClickHouse stay)."""
    if not remove_segment(_definitions(), segment_id):
        errors.print(f"[red]no segment {segment_id!r}[/red]")
        raise typer.Exit(1)
    console.print(f"segment {segment_id} removed")


@segments_app.command("webhook-key")
def segments_webhook_key() -> None:
    """The key webhook receivers verify signatures with (the newest of BEACON_WEBHOOK_SIGNING_KEYS; generated
    once per BEACON_HOME when not set)."""
    sys.stdout.write(webhook_signing_keys(_settings().home).split(",")[0].strip() + "\n")


demo_app = typer.Typer(help="The demo site: generated traffic to look at with ./beacon sql.")
app.add_typer(demo_app, name="demo")


@demo_app.command("traffic")
def demo_traffic(
    visitors: Annotated[int, typer.Option(help="How many visitors.", min=1)] = 100,
    seed: Annotated[int, typer.Option(help="The same seed plans the same traffic.")] = 1,
    hours: Annotated[float, typer.Option(help="Traffic over this many hours, ending about now.", min=0.1)] = 6.0,
    duplicates: Annotated[float, typer.Option(help="Share of events sent twice.", min=0, max=1)] = 0.02,
    late: Annotated[float, typer.Option(help="Share of events delivered 10-50 minutes late.", min=0, max=1)] = 0.05,
    bots: Annotated[float, typer.Option(help="Share of visitors that are crawlers.", min=0, max=1)] = 0.05,
) -> None:
    """Send realistic, seeded traffic to the running stack's demo site (sessions, campaigns, purchases,
    chats, newsletters, crawlers, retries and late deliveries)."""
    settings = _settings()
    site_file = settings.home / "demo_site.json"
    if not site_file.exists():
        errors.print("[red]no demo site here yet: start the stack with ./beacon up first[/red]")
        raise typer.Exit(1)
    site = DemoSite(**json.loads(site_file.read_text()))
    plan = TrafficSettings(
        seed=seed, visitors=visitors, start=datetime.now(UTC) - timedelta(hours=hours + 1), hours=hours,
        duplicate_rate=duplicates, late_rate=late, bot_share=bots,
    )  # fmt: skip
    planned = plan_traffic(site.site_id, plan)
    target = TrafficTarget(
        collector_url=settings.collector_url,
        site_id=site.site_id,
        write_key=site.write_key,
        origin=f"http://{DEMO_DOMAINS[0]}",
        email_tokens=EmailTokens(email_signing_keys(settings.home).split(",")),
    )
    with Progress(console=console) as progress:
        task = progress.add_task(f"sending {len(planned):,} events", total=len(planned))
        report = send_traffic(planned, target, on_progress=lambda sent: progress.advance(task, sent))
    distinct, emails = expected_events(planned)
    console.print(
        f"sent {report.events:,} events in {report.requests:,} requests: {distinct:,} distinct events "
        f"and {emails:,} email opens and clicks are expected in beacon.events"
    )
    if report.refused:
        errors.print(f"[red]{len(report.refused)} requests were refused[/red], e.g. {report.refused[0]}")
        raise typer.Exit(1)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def test(context: typer.Context) -> None:
    """Run the whole test suite (unit, integration, end-to-end); extra arguments go to pytest.

    First installs what the browser tests need when it is missing: the tracker's and the dashboard's npm tooling and
    builds, and Chromium."""
    try:
        ensure_tracker_built(step=_progress)
        ensure_dashboard_built(step=_progress)
    except TrackerBuildError as error:
        errors.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    try:
        ensure_chromium(step=_progress)
    except ChromiumError as error:  # only the browser tests need it: they fail and say so, the rest can run
        errors.print(f"[yellow]{error}[/yellow]")
    # The slowest tests are listed at the end: the suite must stay well within CI's time (15 minutes).
    command = [sys.executable, "-m", "pytest", "--durations=15", *context.args]
    console.print(f"[dim]$ {' '.join(command)}[/dim]")
    code = subprocess.call(command, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if code == 5:
        errors.print("[red]pytest collected no tests: that is a failure, not a pass[/red]")
        raise typer.Exit(1)
    raise typer.Exit(code)
