"""The analyst guide's queries (docs/analysts.md) as the end-to-end test runs them: every statement of every
```sql block, on a test site instead of the guide's demo site, with the funnels the queries name installed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dashboard.queries import DashboardFilter, DashboardQuery
from schemas.funnels import FunnelDefinition, read_funnel_definition
from schemas.journeys import JOURNEY_FUNNEL_ID, default_journey

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "analysts.md"
GUIDE_SITE = "demo"  # the site id the guide's queries use: `WHERE site_id = 'demo'`
MAY_BE_EMPTY = "(may be empty)"  # in a statement's comment: it may rightly return no rows on fresh traffic
_BLOCK = re.compile(r"^```(?P<language>\w+)\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL)
_STATEMENT_END = re.compile(r";\s*(?:\n|\Z)")
_FUNNEL_ID = re.compile(r"funnel_id\s*=\s*'([^']+)'")


@dataclass(frozen=True)
class GuideQuery:
    block: int  # the ```sql block it is in, counted from 0
    line: int  # where the statement starts in docs/analysts.md
    sql: str

    @property
    def may_be_empty(self) -> bool:
        return MAY_BE_EMPTY in self.sql

    def on_site(self, site_id: str) -> str:
        """The statement with the test's site in place of the guide's (only the quoted literal ``'demo'``)."""
        return self.sql.replace(f"'{GUIDE_SITE}'", f"'{site_id}'")

    def parameters(self, site_id: str) -> dict[str, Any]:
        """Values for the parameters it takes (the dashboard's queries): the test's site, the last 30 days, and the
        default journey's stages."""
        today = datetime.now(UTC).date()
        chosen = DashboardFilter(site_id, today - timedelta(days=29), today, default_journey(site_id)).values()
        return {name: chosen[name] for name in DashboardQuery("", "", self.sql).parameters}


def guide_queries(guide: Path = GUIDE) -> list[GuideQuery]:
    """Every statement of every ```sql block, in order."""
    text = guide.read_text()
    queries = []
    blocks = (block for block in _BLOCK.finditer(text) if block.group("language") == "sql")
    for number, block in enumerate(blocks):
        offset = block.start("body")
        for chunk in _STATEMENT_END.split(block.group("body")):
            statement = chunk.strip()
            if any(line.strip() and not line.strip().startswith("--") for line in statement.splitlines()):
                line = text.count("\n", 0, text.index(statement, offset)) + 1
                queries.append(GuideQuery(number, line, statement))
            offset += len(chunk)
    return queries


def guide_funnels(site_id: str, guide: Path = GUIDE) -> list[FunnelDefinition]:
    """The funnels the guide's queries name, from the guide's own ```yaml examples or the shipped definitions
    (``config/funnels/``), moved to ``site_id``. A query naming a funnel defined nowhere is an error."""
    known: dict[str, FunnelDefinition] = {}
    yaml_texts = [block.group("body") for block in _BLOCK.finditer(guide.read_text()) if block["language"] == "yaml"]
    shipped = [path.read_text() for path in sorted((ROOT / "config" / "funnels").glob("*.yaml"))]
    for text in yaml_texts + shipped:
        if "funnel_id:" in text:
            funnel = read_funnel_definition(text)
            known.setdefault(funnel.funnel_id, funnel)
    named = {funnel_id for query in guide_queries(guide) for funnel_id in _FUNNEL_ID.findall(query.sql)}
    named.discard(JOURNEY_FUNNEL_ID)  # (built in: every site has it)
    missing = named - known.keys()
    assert not missing, f"docs/analysts.md queries funnels defined nowhere: {sorted(missing)}"
    return [
        FunnelDefinition.model_validate({**known[funnel_id].model_dump(), "site_id": site_id})
        for funnel_id in sorted(named)
    ]
