"""In-memory fakes of the access ports (ApiKeyStore, AuditLog), beside tests/fakes.py. The
contract suite (tests/integration/test_access_contract.py) runs against these and the
DynamoDB adapters alike."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from chalicelib.domain.api_keys import ApiKey, retired_lookup
from chalicelib.domain.audit import AuditEntry, AuditPage, AuditQuery
from chalicelib.domain.errors import AlreadyProcessed, ConcurrentUpdate, Conflict, InvalidPayload
from chalicelib.domain.timeutil import parse_aware
from tests.fakes import FakeCatalog


class FakeApiKeys:
    """Records by key id; each secret's lookup goes into the catalog's `api_keys`, where
    authentication reads it (as the adapter writes them into the catalog table)."""

    def __init__(self, catalog: FakeCatalog) -> None:
        self.catalog = catalog
        self.records: dict[str, dict[str, Any]] = {}
        self.touches = 0

    def get_key(self, key_id: str) -> ApiKey | None:
        record = self.records.get(key_id)
        return None if record is None else ApiKey.from_record(record)

    def list_keys(self) -> list[ApiKey]:
        keys = [ApiKey.from_record(r) for r in self.records.values()]
        return sorted(keys, key=lambda k: (k.created_at, k.key_id))

    def save_key(self, key: ApiKey, retired: Sequence[str] = ()) -> None:
        stored = self.records.get(key.key_id)
        expected = None if key.version == 1 else key.version - 1
        if (stored.get("version") if stored else None) != expected:
            raise ConcurrentUpdate(f"key {key.key_id} changed meanwhile")
        lookups = {**key.lookups(), **{h: retired_lookup(key) for h in retired}}
        for key_hash in lookups:
            owner = (self.catalog.api_keys.get(key_hash) or {}).get("key_id", key.key_id)
            if owner != key.key_id:
                raise Conflict("a secret's hash belongs to another key")
        self.records[key.key_id] = {k: v for k, v in key.to_record().items() if v is not None}
        for key_hash, lookup in lookups.items():
            self.catalog.put_api_key(key_hash, lookup)

    def touch_key(self, key_id: str, at: datetime, not_since: datetime) -> bool:
        record = self.records.get(key_id)
        if record is None:
            return False
        last = record.get("last_used_at")
        if last and parse_aware(str(last)) >= not_since:
            return False
        record["last_used_at"] = at.isoformat()
        self.touches += 1
        return True


class FakeAuditLog:
    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], AuditEntry] = {}
        self.failing: Exception | None = None  # append raises this when set

    def append(self, entry: AuditEntry) -> None:
        if self.failing is not None:
            raise self.failing
        key = (entry.day, entry.at_id)
        if key in self.entries:
            raise AlreadyProcessed(f"audit entry {entry.entry_id} exists")
        self.entries[key] = entry

    def all(self) -> list[AuditEntry]:
        """In the order appended."""
        return list(self.entries.values())

    def query(self, query: AuditQuery) -> AuditPage:
        offset = 0
        if query.token:
            try:
                fingerprint, offset = json.loads(base64.urlsafe_b64decode(query.token))
            except ValueError:
                fingerprint = None
            if fingerprint != query.fingerprint:
                raise InvalidPayload("`next` is not a token of this query; start again")
        found = sorted(
            (e for e in self.entries.values() if query.matches(e)),
            key=lambda e: e.at_id,
            reverse=True,
        )
        page = found[offset : offset + query.limit]
        more = offset + query.limit < len(found)
        token = json.dumps([query.fingerprint, offset + query.limit]).encode()
        return AuditPage(page, base64.urlsafe_b64encode(token).decode() if more else None)


class FakeRevealStore:
    """reveal.RevealStore in memory, with the same version condition as the adapter."""

    def __init__(self) -> None:
        self.requests: dict[str, Any] = {}
        self.counts: dict[tuple[str, str], int] = {}

    def get_request(self, request_id: str) -> Any:
        return self.requests.get(request_id)

    def save_request(self, request: Any) -> None:
        from chalicelib.domain.errors import ConcurrentUpdate

        stored = self.requests.get(request.request_id)
        if (stored is None) != (request.version == 1) or (
            stored is not None and stored.version != request.version - 1
        ):
            raise ConcurrentUpdate(f"request {request.request_id} changed meanwhile")
        self.requests[request.request_id] = request

    def count_reveal(self, key_id: str, hour: str) -> int:
        self.counts[(key_id, hour)] = self.counts.get((key_id, hour), 0) + 1
        return self.counts[(key_id, hour)]


class FakeSecretDates:
    """SecretsManagerStore.changed_at in memory: when each secret last changed (None unknown)."""

    def __init__(self) -> None:
        self.changed: dict[str, Any] = {}

    def changed_at(self, name: str) -> Any:
        return self.changed.get(name)
