"""DynamoDB adapters for access control: API keys (in the catalog table) and the audit log
(its own append-only table). Layouts and conditions for both live here.

API keys, in `orderhub-catalog`:
- `APIKEYS` / `<key_id>`: the key's record (owner, role, created/expires/last used, disabled,
  current and previous secret hashes, version). One partition: admins list keys with a Query.
- `APIKEY#<sha256 of a secret>` / `APIKEY`: one lookup item per live secret, a self-contained
  copy of what authentication needs (key_id, owner, role, expires_at, disabled, rotated), so
  a request costs one GetItem (cached 60 s by `CachedCatalog`). Record and lookups are written
  in one transaction, the record conditional on the version read.

Audit, in `orderhub-audit`: hash `day` (UTC `YYYY-MM-DD`), range `at_id` (fixed-width UTC
time `#` entry id); GSIs `by_actor` (`actor`, `at_id`) and `by_action` (`action`, `at_id`);
TTL on `expires_at` (epoch seconds). Every put is `attribute_not_exists(day)`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, PynamoDBException, TransactWriteError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo_models import Models
from chalicelib.domain.api_keys import ApiKey, retired_lookup
from chalicelib.domain.audit import AuditEntry, AuditPage, AuditQuery, days_newest_first, stamp
from chalicelib.domain.errors import (
    AlreadyProcessed,
    ConcurrentUpdate,
    Conflict,
    InvalidPayload,
    TransientFailure,
)
from chalicelib.domain.ports import Principal
from chalicelib.observability import logger

KEYS_PARTITION = "APIKEYS"
CONDITION_FAILED = "ConditionalCheckFailed"


def lookup_key(key_hash: str) -> tuple[str, str]:
    """The catalog key of a secret's lookup item (what `DynamoCatalog.get_api_key` reads)."""
    return f"APIKEY#{key_hash}", "APIKEY"


def _present(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if v is not None}


class DynamoApiKeys:
    """api_keys.ApiKeyStore over the catalog table."""

    def __init__(self, models: Models) -> None:
        self._m = models

    def get_key(self, key_id: str) -> ApiKey | None:
        catalog = self._m.catalog
        try:
            item = catalog.get(KEYS_PARTITION, key_id, consistent_read=True)
        except catalog.DoesNotExist:
            return None
        return ApiKey.from_record(item.data.as_dict())

    def list_keys(self) -> list[ApiKey]:
        items = self._m.catalog.query(KEYS_PARTITION, consistent_read=True)
        keys = [ApiKey.from_record(i.data.as_dict()) for i in items]
        return sorted(keys, key=lambda k: (k.created_at, k.key_id))

    def save_key(self, key: ApiKey, retired: Sequence[str] = ()) -> None:
        catalog = self._m.catalog
        if key.version == 1:
            record_condition = catalog.pk.does_not_exist()
        else:
            record_condition = catalog.data["version"] == key.version - 1
        # a lookup item is only ever (re)written by the key it belongs to
        own = catalog.pk.does_not_exist() | (catalog.data["key_id"] == key.key_id)
        try:
            with TransactWrite(connection=self._m.connection) as tx:
                tx.save(
                    catalog(KEYS_PARTITION, key.key_id, data=_present(key.to_record())),
                    condition=record_condition,
                )
                for key_hash, lookup in key.lookups().items():
                    tx.save(catalog(*lookup_key(key_hash), data=lookup), condition=own)
                for key_hash in retired:
                    tx.save(catalog(*lookup_key(key_hash), data=retired_lookup(key)), condition=own)
        except TransactWriteError as exc:
            reasons = [r.code if r else None for r in (exc.cancellation_reasons or [])]
            if reasons and reasons[0] == CONDITION_FAILED:
                raise ConcurrentUpdate(
                    f"key {key.key_id} changed meanwhile (or exists already); read it and retry"
                ) from None
            if CONDITION_FAILED in reasons:
                raise Conflict("a secret's hash belongs to another key; retry") from None
            raise TransientFailure(f"could not save key {key.key_id}; retry") from exc

    def touch_key(self, key_id: str, at: datetime, not_since: datetime) -> bool:
        catalog = self._m.catalog
        last_used = catalog.data["last_used_at"]
        condition = catalog.pk.exists() & (
            last_used.does_not_exist() | (last_used < not_since.astimezone(UTC).isoformat())
        )
        try:
            catalog(KEYS_PARTITION, key_id).update(
                actions=[last_used.set(at.astimezone(UTC).isoformat())], condition=condition
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                logger().warning("last_used_at not recorded", extra={"key_id": key_id})
            return False
        except PynamoDBException:
            logger().warning("last_used_at not recorded", extra={"key_id": key_id})
            return False
        return True


def build_audit_model(table_name: str, region: str, endpoint_url: str | None = None) -> Any:
    """The pynamodb model of the audit table (built at run time, like `build_models`)."""
    aws_region, endpoint, audit_table = region, endpoint_url, table_name

    class ByActorIndex(GlobalSecondaryIndex[Any]):
        class Meta:
            index_name = "by_actor"
            projection = AllProjection()

        actor = UnicodeAttribute(hash_key=True)
        at_id = UnicodeAttribute(range_key=True)

    class ByActionIndex(GlobalSecondaryIndex[Any]):
        class Meta:
            index_name = "by_action"
            projection = AllProjection()

        action = UnicodeAttribute(hash_key=True)
        at_id = UnicodeAttribute(range_key=True)

    class AuditItem(Model):
        class Meta:
            table_name = audit_table
            region = aws_region
            host = endpoint

        day = UnicodeAttribute(hash_key=True)  # YYYY-MM-DD, UTC
        at_id = UnicodeAttribute(range_key=True)  # stamp(at)#entry_id
        entry_id = UnicodeAttribute()
        at = UnicodeAttribute()
        key_id = UnicodeAttribute()
        actor = UnicodeAttribute()  # the key's owner (CLI: the OS user)
        role = UnicodeAttribute()
        action = UnicodeAttribute()
        target = UnicodeAttribute()
        source_ip = UnicodeAttribute(default="")
        user_agent = UnicodeAttribute(default="")
        before = UnicodeAttribute(null=True)  # JSON
        after = UnicodeAttribute(null=True)  # JSON
        expires_at = NumberAttribute()  # TTL, epoch seconds
        by_actor = ByActorIndex()
        by_action = ByActionIndex()

    return AuditItem


def _entry(item: Any) -> AuditEntry:
    return AuditEntry(
        entry_id=item.entry_id,
        at=datetime.fromisoformat(item.at),
        actor=Principal(item.key_id, item.actor, item.role),
        action=item.action,
        target=item.target,
        expires_at=datetime.fromtimestamp(int(item.expires_at), tz=UTC),
        source_ip=item.source_ip or "",
        user_agent=item.user_agent or "",
        before=json.loads(item.before) if item.before else None,
        after=json.loads(item.after) if item.after else None,
    )


def _encode(query: AuditQuery, state: dict[str, Any]) -> str:
    state = {**state, "q": hashlib.sha256(query.fingerprint.encode()).hexdigest()[:16]}
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def _decode(query: AuditQuery) -> dict[str, Any]:
    if not query.token:
        return {}
    try:
        state = json.loads(base64.urlsafe_b64decode(query.token.encode()))
        valid = (
            isinstance(state, dict)
            and state.get("q") == (hashlib.sha256(query.fingerprint.encode()).hexdigest()[:16])
        )
    except ValueError:
        valid = False
    if not valid:
        raise InvalidPayload(
            "`next` is not a token of this query (same from, to, actor and action); "
            "start again without it"
        )
    return dict(state)


class DynamoAuditLog:
    """audit.AuditLog over `orderhub-audit`."""

    DAYS_PER_PAGE = 31  # a time-range page walks at most this many day partitions

    def __init__(self, model: Any) -> None:
        self._m = model

    def append(self, entry: AuditEntry) -> None:
        item = self._m(
            entry.day,
            entry.at_id,
            entry_id=entry.entry_id,
            at=entry.at.astimezone(UTC).isoformat(),
            key_id=entry.actor.key_id or "unknown",
            actor=entry.actor.owner or "unknown",  # an index key: never empty
            role=entry.actor.role or "unknown",
            action=entry.action,
            target=entry.target,
            source_ip=entry.source_ip,
            user_agent=entry.user_agent,
            before=None if entry.before is None else json.dumps(entry.before, default=str),
            after=None if entry.after is None else json.dumps(entry.after, default=str),
            expires_at=int(entry.expires_at.timestamp()),
        )
        try:
            item.save(condition=self._m.day.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise AlreadyProcessed(f"audit entry {entry.entry_id} exists") from None
            raise TransientFailure("the audit log did not take the entry; retry") from exc

    def query(self, query: AuditQuery) -> AuditPage:
        state = _decode(query)
        model = self._m
        between = model.at_id.between(stamp(query.start), stamp(query.end) + "~")
        if query.actor or query.action:
            index = model.by_actor if query.actor else model.by_action
            results = index.query(
                query.actor or query.action,
                between,
                filter_condition=(
                    model.action == query.action if query.actor and query.action else None
                ),
                scan_index_forward=False,
                limit=query.limit,
                last_evaluated_key=state.get("k"),
            )
            entries = [_entry(i) for i in results]
            last = results.last_evaluated_key
            return AuditPage(entries, _encode(query, {"k": last}) if last else None)
        days = days_newest_first(query.start, query.end)
        start = days.index(state["d"]) if state.get("d") in days else 0
        resume = state.get("k")
        entries = []
        for walked, day in enumerate(days[start:], start=1):
            results = model.query(
                day,
                between,
                scan_index_forward=False,
                limit=query.limit - len(entries),
                last_evaluated_key=resume,
            )
            entries.extend(_entry(i) for i in results)
            resume = None
            last = results.last_evaluated_key
            if last:
                return AuditPage(entries, _encode(query, {"d": day, "k": last}))
            following = start + walked
            if following < len(days) and (
                len(entries) >= query.limit or walked >= self.DAYS_PER_PAGE
            ):
                return AuditPage(entries, _encode(query, {"d": days[following]}))
        return AuditPage(entries, None)
