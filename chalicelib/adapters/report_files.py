"""Report file formats: a streamed CSV, a streamed XLSX (openpyxl write-only mode) and the
one-page HTML summary with an inline SVG bar chart. No AWS here: `report_store.py` uploads.

Memory stays bounded whatever the row count: the CSV goes to a spooled temporary file (RAM up
to 8 MiB, then disk), openpyxl's write-only sheets stream to temporary files, and only the
summary is held whole.

Cells that a spreadsheet would run as a formula (text starting with = + - @, unless it is a
number) are written as text: order ids and reasons come from platforms and must never
execute (CSV: a leading apostrophe, as OWASP advises; XLSX: typed as a string).
"""

from __future__ import annotations

import html
import io
import tempfile
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from chalicelib.domain.reports import Chart, ReportSummary

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HTML_TYPE = "text/html; charset=utf-8"
SPOOL_BYTES = 8 * 1024 * 1024
XLSX_MAX_ROWS = 1_048_576  # Excel's limit, header included
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True


def safe_text(value: str) -> str:
    """A CSV cell Excel will not run as a formula."""
    if value.startswith(FORMULA_START) and not _is_number(value):
        return "'" + value
    return value


class TabularFiles:
    """`<name>.csv` and `<name>.xlsx` written together, one row at a time."""

    def __init__(self, columns: Sequence[str], numeric: Sequence[str] = ()) -> None:
        import csv

        from openpyxl import Workbook  # imported on first use: not needed at cold start

        self.columns = tuple(columns)
        self._numeric = {i for i, c in enumerate(self.columns) if c in set(numeric)}
        self.rows = 0
        # closed by finish()'s caller (or close()): it outlives this method
        self._csv_file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        # utf-8-sig: Excel opens a CSV with a BOM as UTF-8 (Chinese reasons stay readable)
        self._csv_text = io.TextIOWrapper(self._csv_file, encoding="utf-8-sig", newline="")
        self._csv = csv.writer(self._csv_text)
        self._csv.writerow(self.columns)
        self._book = Workbook(write_only=True)
        self._summary_sheet = self._book.create_sheet("Summary")
        self._data_sheet = self._book.create_sheet("Data")
        self._data_sheet.append(list(self.columns))
        self.truncated = 0  # rows beyond Excel's limit: in the CSV only

    def add(self, cells: Sequence[str]) -> None:
        self._csv.writerow([safe_text(str(c)) for c in cells])
        self.rows += 1
        if self.rows < XLSX_MAX_ROWS:
            self._data_sheet.append([self._xlsx_cell(i, str(c)) for i, c in enumerate(cells)])
        else:
            self.truncated += 1

    def _xlsx_cell(self, index: int, value: str) -> Any:
        from openpyxl.cell import WriteOnlyCell

        if index in self._numeric and value:
            try:
                return Decimal(value)
            except InvalidOperation:
                pass
        cell = WriteOnlyCell(self._data_sheet, value=value)
        cell.data_type = "s"  # never a formula
        return cell

    def finish(self, summary: ReportSummary) -> tuple[IO[bytes], IO[bytes]]:
        """The CSV and the XLSX (with the summary on its first sheet), each rewound."""
        self._csv_text.flush()
        self._csv_text.detach()
        self._csv_file.seek(0)
        sheet = self._summary_sheet
        sheet.append([summary.title])
        for line in summary.lines:
            sheet.append([line])
        if self.truncated:
            sheet.append([f"{self.truncated} rows beyond Excel's limit are in the CSV only"])
        sheet.append([])
        sheet.append(list(summary.columns))
        for row in summary.rows:
            sheet.append(list(row))
        xlsx: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (the caller closes it)
        self._book.save(xlsx)
        xlsx.seek(0)
        return self._csv_file, xlsx

    def close(self) -> None:
        self._csv_file.close()


def summary_csv(summary: ReportSummary) -> bytes:
    import csv

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(summary.columns)
    writer.writerows([safe_text(str(c)) for c in row] for row in summary.rows)
    return out.getvalue().encode("utf-8-sig")


# ---- the one-page summary -----------------------------------------------------------------

COLOURS = ("#4472c4", "#ed7d31", "#a5a5a5", "#70ad47")


def bar_chart_svg(chart: Chart, width: int = 760) -> str:
    """Horizontal grouped bars: one group per label, one bar per series, value at its end."""
    label_w, value_w, bar_h, gap = 220, 70, 14, 10
    legend_h = 28
    plot_w = width - label_w - value_w
    group_h = bar_h * max(1, len(chart.series)) + gap
    height = legend_h + group_h * max(1, len(chart.bars)) + 10
    top = max((v for _, values in chart.bars for v in values), default=0.0) or 1.0
    esc = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(chart.title)}" '
        'font-family="sans-serif" font-size="12">',
        f"<title>{esc(chart.title)}</title>",
    ]
    for i, name in enumerate(chart.series):
        x = label_w + i * 150
        colour = COLOURS[i % len(COLOURS)]
        parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 18}" y="16">{esc(name)}</text>')
    for g, (label, values) in enumerate(chart.bars):
        y0 = legend_h + g * group_h
        label_y = y0 + (bar_h * len(values)) / 2 + 4
        parts.append(
            f'<text x="{label_w - 8}" y="{label_y:.0f}" text-anchor="end">{esc(label)}</text>'
        )
        for i, value in enumerate(values):
            w = plot_w * (value / top) if value > 0 else 0
            y = y0 + i * bar_h
            colour = COLOURS[i % len(COLOURS)]
            parts.append(
                f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" '
                f'fill="{colour}"><title>{esc(chart.series[i])}: {value:g}</title></rect>'
            )
            text = f"{value:g}{(' ' + chart.unit) if chart.unit else ''}"
            parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 4}">{esc(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def summary_html(summary: ReportSummary, links: Sequence[tuple[str, str]]) -> bytes:
    """The one-page summary: headline, chart, table, and links to the data files."""
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in summary.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>" for row in summary.rows
    )
    lines = "".join(f"<li>{esc(line)}</li>" for line in summary.lines)
    files = "".join(f'<li><a href="{esc(url)}">{esc(name)}</a></li>' for name, url in links)
    chart = bar_chart_svg(summary.chart) if summary.chart else ""
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(summary.title)}</title>
<style>body{{font-family:sans-serif;margin:24px;max-width:1100px}}
table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 6px}}
th{{background:#f0f0f0}}</style></head>
<body><h1>{esc(summary.title)}</h1><ul>{lines}</ul>
<figure>{chart}</figure>
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<h2>Files</h2><ul>{files}</ul>
<p>Links expire; ask <code>GET /reports?date=</code> for fresh ones.</p>
</body></html>
"""
    return page.encode("utf-8")
