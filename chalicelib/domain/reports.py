"""Reports for people (reconciliation, inventory differences, the monthly review): what one
is, where it lives and the notice that announces it. Pure Python.

A report is written once, row by row, through a `ReportDraft` (the adapter streams the rows
into a CSV and an XLSX sheet), then published with its one-page summary (a headline, a table
and a bar chart). Everything lands in S3 under `reports/<kind>/<date>/`; people get
presigned links (SigV4, at most 7 days): in a `Notice` to the report's audience, and fresh
ones from `GET /reports?date=`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.notices import Notice

RECONCILIATION, INVENTORY, MONTHLY = "reconciliation", "inventory", "monthly"
KINDS = (RECONCILIATION, INVENTORY, MONTHLY)
PREFIX = "reports"
MAX_LINK_SECONDS = 7 * 24 * 3600  # SigV4 presigned URLs cannot live longer
DEFAULT_LINK_DAYS = 3
AUDIENCE = "finance"


def report_prefix(kind: str, day: date) -> str:
    return f"{PREFIX}/{kind}/{day.isoformat()}/"


def parse_report_date(text: str | None) -> date:
    """`YYYY-MM-DD`; InvalidPayload naming the format otherwise."""
    value = (text or "").strip()
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidPayload(f"date must be YYYY-MM-DD (e.g. 2026-11-24), got '{value}'") from None


def parse_kind(text: str | None) -> str | None:
    """None for every kind; InvalidPayload for an unknown one."""
    if text is None or not text.strip():
        return None
    if text.strip() not in KINDS:
        raise InvalidPayload(f"kind must be one of {', '.join(KINDS)}, got '{text}'")
    return text.strip()


@dataclass(frozen=True)
class Chart:
    """Bars per label, one per series (e.g. platform vs OrderHub per store)."""

    title: str
    series: tuple[str, ...]
    bars: tuple[tuple[str, tuple[float, ...]], ...]
    unit: str = ""


@dataclass(frozen=True)
class ReportSummary:
    """The one page: a title, a few headline lines, one table and a chart."""

    title: str
    lines: tuple[str, ...]
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    chart: Chart | None = None


@dataclass(frozen=True)
class ReportFile:
    """One object of a report and a presigned link to it."""

    kind: str
    day: str
    name: str
    key: str
    url: str
    size: int = 0
    content_type: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "date": self.day,
            "name": self.name,
            "key": self.key,
            "size": self.size,
            "content_type": self.content_type,
            "url": self.url,
        }


@dataclass(frozen=True)
class PublishedReport:
    kind: str
    day: date
    files: tuple[ReportFile, ...]
    expires_at: datetime
    summary_name: str = "summary.html"

    @property
    def link(self) -> str:
        """The one-page summary's link (it links the CSV and XLSX itself)."""
        return next((f.url for f in self.files if f.name == self.summary_name), "")


class ReportDraft(Protocol):
    def add(self, cells: Sequence[str]) -> None:
        """One data row, written as it comes (CSV and XLSX)."""
        ...

    def publish(self, summary: ReportSummary) -> PublishedReport:
        """Write the summary, store every file, return their links."""
        ...

    def discard(self) -> None: ...


class ReportStore(Protocol):
    def draft(
        self,
        kind: str,
        day: date,
        name: str,
        columns: Sequence[str],
        numeric: Sequence[str] = (),
    ) -> ReportDraft:
        """A new report `kind`/`day`; its data files are `<name>.csv` and `<name>.xlsx`;
        `numeric` columns are numbers in the XLSX."""
        ...

    def links(self, day: date, kind: str | None = None) -> list[ReportFile]:
        """Fresh presigned links to every stored file of the day's reports (of one kind)."""
        ...


def report_notice(
    published: PublishedReport, summary: ReportSummary, at: datetime, priority: str = "info"
) -> Notice:
    """The finance notice for a published report: headline lines and the summary's link."""
    facts = {
        "date": published.day.isoformat(),
        "files": ", ".join(f.name for f in published.files),
        "link expires": published.expires_at.isoformat(timespec="minutes"),
    }
    body = "\n".join(
        [
            *summary.lines,
            "",
            f"Fresh links any time: GET /reports?date={published.day.isoformat()}"
            f"&kind={published.kind}",
        ]
    )
    return Notice(
        kind="report",
        priority=priority,
        audience=AUDIENCE,
        title=summary.title,
        body=body,
        link=published.link,
        at=at,
        facts=facts,
    )
