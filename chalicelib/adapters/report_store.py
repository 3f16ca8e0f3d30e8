"""Reports, platform statements and WMS snapshots in S3 (the reports bucket).

Layout (one bucket, `ORDERHUB_REPORTS_BUCKET`; unset: the raw-payload bucket):
- `reports/<kind>/<YYYY-MM-DD>/`: what OrderHub writes (`<name>.csv`, `<name>.xlsx`,
  `summary.csv`, `summary.html`);
- `statements/<platform>/<store>/<YYYY-MM-DD>.csv`: a platform's own list of a store's
  orders for a Beijing day (`order_id,status,amount,currency`), put there by finance or an
  export job; read by the reconciliation (works for any platform);
- `wms-snapshots/<warehouse>/<YYYY-MM-DD>.csv`: the WMS's `sku,on_hand` at the end of the
  day; read by the inventory difference report.

Presigned links are SigV4 (`signature_version="s3v4"` on the presigning client) and live
`ORDERHUB_REPORT_LINK_DAYS` (default 3, at most 7). A URL signed with a Lambda role's
temporary credentials stops working when those credentials expire (hours), whatever its
expiry says: set `ORDERHUB_REPORT_SIGNER_SECRET` to sign with a dedicated IAM user's keys
(see docs/reports.md), or ask `GET /reports` for fresh links.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import IO, Any

from chalicelib.adapters.report_files import (
    CSV_TYPE,
    HTML_TYPE,
    XLSX_TYPE,
    TabularFiles,
    summary_csv,
    summary_html,
)
from chalicelib.domain.ports import Store
from chalicelib.domain.reconcile import (
    Problems,
    Statement,
    StatementUnreadable,
    read_statement_csv,
)
from chalicelib.domain.reports import (
    KINDS,
    PublishedReport,
    ReportFile,
    ReportSummary,
    report_prefix,
)

STATEMENTS_PREFIX = "statements"
WMS_PREFIX = "wms-snapshots"
# the currency a statement row without one is in, by platform (the Chinese platforms sell in CNY)
PLATFORM_CURRENCY = {"jd": "CNY", "taobao": "CNY", "pinduoduo": "CNY", "douyin": "CNY"}
UPLOAD_CONCURRENCY = 2  # multipart parts in flight: bounds the transfer's buffers


def statement_key(platform: str, store: str, day: date) -> str:
    return f"{STATEMENTS_PREFIX}/{platform}/{store}/{day.isoformat()}.csv"


def snapshot_key(warehouse: str, day: date) -> str:
    return f"{WMS_PREFIX}/{warehouse}/{day.isoformat()}.csv"


def text_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """UTF-8 text (a BOM dropped) as lines that keep their endings, decoded incrementally so
    a multi-byte character split between chunks survives; csv reads quoted newlines right."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    rest = ""
    for chunk in chunks:
        rest += decoder.decode(chunk)
        lines = rest.splitlines(keepends=True)
        rest = lines.pop() if lines and not lines[-1].endswith(("\n", "\r")) else ""
        yield from lines
    rest += decoder.decode(b"", final=True)
    if rest:
        yield rest


class S3Objects:
    """The few S3 calls the reports need, with errors translated."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def lines(self, key: str) -> Iterator[str] | None:
        """The object's text lines, streamed; None when there is no such object."""
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        except self.s3.exceptions.NoSuchKey:
            return None
        except Exception as exc:  # access denied, no bucket: this store's report fails
            raise StatementUnreadable(f"{self.uri(key)} could not be read: {exc}") from None
        return text_lines(body.iter_chunks(64 * 1024))

    def upload(self, key: str, body: IO[bytes] | bytes, content_type: str) -> int:
        """Put one object (a file object goes multipart when large); its size."""
        from boto3.s3.transfer import TransferConfig

        if isinstance(body, bytes):
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
            return len(body)
        body.seek(0, 2)
        size = body.tell()
        body.seek(0)
        self.s3.upload_fileobj(
            body,
            self.bucket,
            key,
            ExtraArgs={"ContentType": content_type},
            Config=TransferConfig(max_concurrency=UPLOAD_CONCURRENCY),
        )
        return size

    def listing(self, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", [])


class S3ReportStore:
    """`ReportStore` on S3 with presigned links."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        presigner: Any,
        link_seconds: int,
        now: Callable[[], datetime],
    ) -> None:
        self.objects = S3Objects(s3, bucket)
        self._presigner = presigner
        self.link_seconds = link_seconds
        self._now = now

    def presign(self, key: str) -> str:
        url: str = self._presigner.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.objects.bucket, "Key": key},
            ExpiresIn=self.link_seconds,
        )
        return url

    def draft(
        self,
        kind: str,
        day: date,
        name: str,
        columns: Sequence[str],
        numeric: Sequence[str] = (),
    ) -> S3ReportDraft:
        return S3ReportDraft(self, kind, day, name, TabularFiles(columns, numeric))

    def links(self, day: date, kind: str | None = None) -> list[ReportFile]:
        found = []
        for k in [kind] if kind else list(KINDS):
            for obj in self.objects.listing(report_prefix(k, day)):
                key = str(obj["Key"])
                found.append(
                    ReportFile(
                        k,
                        day.isoformat(),
                        key.rsplit("/", 1)[-1],
                        key,
                        self.presign(key),
                        int(obj.get("Size", 0)),
                    )
                )
        return found

    def expires_at(self) -> datetime:
        return self._now() + timedelta(seconds=self.link_seconds)


class S3ReportDraft:
    def __init__(
        self, store: S3ReportStore, kind: str, day: date, name: str, files: TabularFiles
    ) -> None:
        self._store = store
        self.kind = kind
        self.day = day
        self.name = name
        self._files = files

    @property
    def rows(self) -> int:
        return self._files.rows

    def add(self, cells: Sequence[str]) -> None:
        self._files.add(cells)

    def publish(self, summary: ReportSummary) -> PublishedReport:
        store, prefix = self._store, report_prefix(self.kind, self.day)
        csv_file, xlsx_file = self._files.finish(summary)
        try:
            parts: list[tuple[str, IO[bytes] | bytes, str]] = [
                (f"{self.name}.csv", csv_file, CSV_TYPE),
                (f"{self.name}.xlsx", xlsx_file, XLSX_TYPE),
                ("summary.csv", summary_csv(summary), CSV_TYPE),
            ]
            files = []
            for name, body, content_type in parts:
                size = store.objects.upload(prefix + name, body, content_type)
                url = store.presign(prefix + name)
                files.append(
                    ReportFile(
                        self.kind,
                        self.day.isoformat(),
                        name,
                        prefix + name,
                        url,
                        size,
                        content_type,
                    )
                )
            page = summary_html(summary, [(f.name, f.url) for f in files])
            size = store.objects.upload(prefix + "summary.html", page, HTML_TYPE)
            files.append(
                ReportFile(
                    self.kind,
                    self.day.isoformat(),
                    "summary.html",
                    prefix + "summary.html",
                    store.presign(prefix + "summary.html"),
                    size,
                    HTML_TYPE,
                )
            )
        finally:
            csv_file.close()
            xlsx_file.close()
        return PublishedReport(self.kind, self.day, tuple(files), store.expires_at())

    def discard(self) -> None:
        self._files.close()


@dataclass
class S3StatementFiles:
    """Statement files: `statements/<platform>/<store>/<YYYY-MM-DD>.csv` (any platform)."""

    objects: S3Objects

    def statement(self, store: Store, day: date) -> Statement | None:
        key = statement_key(store.platform, store.store_id, day)
        lines = self.objects.lines(key)
        if lines is None:
            return None
        problems = Problems()
        currency = PLATFORM_CURRENCY.get(store.platform, "")
        return Statement(
            f"statement file {self.objects.uri(key)}",
            read_statement_csv(lines, currency, problems),
            problems,
        )


@dataclass
class S3WmsSnapshots:
    """WMS snapshots: `wms-snapshots/<warehouse>/<YYYY-MM-DD>.csv` (sku,on_hand)."""

    objects: S3Objects

    def snapshot(self, warehouse: str, day: date) -> tuple[str, Iterator[str]] | None:
        key = snapshot_key(warehouse, day)
        lines = self.objects.lines(key)
        return None if lines is None else (self.objects.uri(key), lines)
