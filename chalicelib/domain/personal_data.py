"""Buyers' personal data: sealed before it is queued or stored, opened only for a stated
reason. Pure: the cryptography is behind the `PersonalDataVault` port (adapters/personal_data.py,
KMS envelope encryption with AES-256-GCM data keys).

Sealing. Intake seals each event's buyer (name, phone, address, email, ID number) and the raw
payload it came from under one data key generated for the event's order: one KMS call per
event (webhooks: `ingest.enqueue_events`; the Amazon consumer and the pull pollers through
`api/intake.queue_and_record`). The processor seals the buyer a platform's API returns for a
thin event (`seal_buyer`), and anything that reaches it unsealed (a message queued before
sealing existed, a replay of one). So the order queue, its S3 overflow, the raw archive and
the orders table hold only envelopes (domain/sealed.py) and masks (domain/privacy.py).

Checks that need the plaintext run while it is there: the address checks of the
suspicious-address rule (domain/anomaly_rules.py) run at sealing with the store's rules, and
their findings (names of checks, never the address) travel with the sealed buyer.

Opening. Only `reveal_personal_data` (the decrypt endpoint, which needs the `decrypt`
permission and a reason, and is audited) and `open_raw` open an envelope: one KMS Decrypt
with the order's encryption context, so an envelope moved onto another order never opens.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from chalicelib.domain.anomaly_rules import address_findings
from chalicelib.domain.errors import InvalidPayload, OrderHubError, TransientFailure
from chalicelib.domain.model import Buyer, Order, OrderEvent
from chalicelib.domain.ports import StoreRules
from chalicelib.domain.privacy import (
    MASKS,
    mask_address,
    mask_email,
    mask_id_number,
    mask_name,
    mask_phone,
)
from chalicelib.domain.sealed import Sealed, sealed_or_none

BUYER_FIELDS = ("name", "phone", "address", "email", "id_number")
RAW_FIELD = "raw"
MIN_REASON = 10
MAX_REASON = 500


class SealBroken(OrderHubError):
    """Sealed data that does not open: another order's envelope, altered, or a key KMS will
    not unwrap for this order. Retrying does not help."""

    code = "sealed_data_unreadable"


class VaultUnavailable(TransientFailure):
    """The key service did not answer usefully now (throttled, unreachable, key disabled or
    not allowed): retry later."""

    code = "key_service_unavailable"


class PersonalDataVault(Protocol):
    """Envelope encryption bound to one order."""

    def seal(self, order_key: str, fields: Mapping[str, str]) -> Sealed:
        """Every field encrypted under one new data key whose encryption context is the order
        key. Raises VaultUnavailable."""
        ...

    def open(self, sealed: Sealed, order_key: str) -> dict[str, str]:
        """The plaintext of every field, unwrapping the data key with `order_key` as context.
        Raises SealBroken (wrong order, altered) or VaultUnavailable."""
        ...

    def index_phone(self, phone: str) -> str:
        """The phone's keyed blind index (domain/blind_index.py), "" when no key is set up:
        what the orders' `buyer` index and a search by phone compare."""
        ...


def seal_event(
    event: OrderEvent, raw: str | Sealed, vault: PersonalDataVault, rules: StoreRules
) -> tuple[OrderEvent, Sealed]:
    """The event with its buyer sealed, and its raw payload sealed, under one data key for the
    event's order. What is sealed already stays as it is; with nothing left to seal no KMS
    call is made."""
    sealed_event, sealed_raw = _seal(event, raw, vault, rules)
    assert isinstance(sealed_raw, Sealed)
    return sealed_event, sealed_raw


def seal_buyer(event: OrderEvent, vault: PersonalDataVault, rules: StoreRules) -> OrderEvent:
    """The event with its buyer sealed (details fetched from a platform's API)."""
    return _seal(event, None, vault, rules)[0]


def _seal(
    event: OrderEvent, raw: str | Sealed | None, vault: PersonalDataVault, rules: StoreRules
) -> tuple[OrderEvent, Sealed | None]:
    plain = event.buyer if event.buyer is not None and event.buyer.sealed is None else None
    raw_plain = raw if isinstance(raw, str) else None
    if plain is None and raw_plain is None:
        return event, raw if isinstance(raw, Sealed) else None
    fields = {name: getattr(plain, name) for name in BUYER_FIELDS if plain and getattr(plain, name)}
    if raw_plain is not None:
        fields[RAW_FIELD] = raw_plain
    envelope = vault.seal(event.order_key, fields)
    if plain is not None:
        buyer = sealed_buyer(plain, envelope.only(BUYER_FIELDS), rules)
        event = replace(event, buyer=replace(buyer, phone_index=vault.index_phone(plain.phone)))
    sealed_raw = envelope.only([RAW_FIELD]) if raw_plain is not None else raw
    return event, sealed_raw if isinstance(sealed_raw, Sealed) else None


def sealed_buyer(plain: Buyer, envelope: Sealed, rules: StoreRules) -> Buyer:
    """The stored form of `plain`: its masks, its envelope, and what the address checks found
    on the plaintext address (with the store's rules)."""
    return Buyer(
        name=mask_name(plain.name),
        phone=mask_phone(plain.phone),
        address=mask_address(plain.address),
        email=mask_email(plain.email),
        id_number=mask_id_number(plain.id_number),
        sealed=envelope,
        address_findings=tuple(
            address_findings(plain.address, rules.forbid_po_box, rules.address_blocklist)
        ),
    )


def open_buyer(buyer: Buyer, order_key: str, vault: PersonalDataVault) -> Buyer:
    """The plaintext buyer (a plain one, stored before sealing existed, as it is)."""
    if buyer.sealed is None:
        return buyer
    values = vault.open(buyer.sealed, order_key)
    return Buyer(
        name=values.get("name", ""),
        phone=values.get("phone", ""),
        address=values.get("address", ""),
        email=values.get("email", ""),
        id_number=values.get("id_number", ""),
    )


def open_raw(raw: str | Sealed, order_key: str, vault: PersonalDataVault) -> str:
    """The raw payload's text (a plain one, kept before sealing existed, as it is)."""
    if isinstance(raw, str):
        return raw
    return vault.open(raw, order_key).get(RAW_FIELD, "")


def raw_of(container: Mapping[str, Any]) -> str | Sealed:
    """The raw payload a queued message or a raw-archive document carries: sealed
    (`raw_sealed`), or plain text (`raw`) from before sealing."""
    sealed = sealed_or_none(container.get("raw_sealed"))
    if sealed is not None:
        return sealed
    return str(container.get("raw") or "")


def open_raw_document(
    document: Mapping[str, Any] | None, order_key: str, vault: PersonalDataVault
) -> str | None:
    """The payload text a raw-archive document (domain/archive.py) holds, opened for
    `order_key`; None without a document. Callers must hold `decrypt` and audit the read."""
    if document is None:
        return None
    return open_raw(raw_of(document), order_key, vault)


# ---- the decrypt endpoint ------------------------------------------------------------------


def decrypt_reason(body: Any) -> str:
    """The caller's reason from `{"reason": "..."}`: required, 10 to 500 characters."""
    reason = body.get("reason") if isinstance(body, Mapping) else None
    if not isinstance(reason, str) or len(reason.strip()) < MIN_REASON:
        raise InvalidPayload(
            "say why you need the buyer's personal data in clear: "
            f'{{"reason": "<at least {MIN_REASON} characters>"}} (it is kept in the audit log)'
        )
    if len(reason.strip()) > MAX_REASON:
        raise InvalidPayload(f"reason must be at most {MAX_REASON} characters")
    return reason.strip()


@dataclass(frozen=True)
class Revealed:
    """An order's personal data in clear, for one caller who stated a reason."""

    order_key: str
    buyer: Mapping[str, str] | None  # the five fields, "" where the platform sent none
    raw: str | None = None  # the payload of the order's last event, when asked for
    raw_event_key: str = ""

    @property
    def fields(self) -> list[str]:
        """The names of the fields that were revealed (non-empty): what the audit records."""
        return [name for name in BUYER_FIELDS if self.buyer and self.buyer.get(name)]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"order_key": self.order_key, "buyer": self.buyer}
        if self.raw_event_key:
            data["raw"] = {"event_key": self.raw_event_key, "payload": self.raw}
        return data


def reveal_personal_data(
    order: Order,
    vault: PersonalDataVault,
    raw_document: Mapping[str, Any] | None = None,
    raw_event_key: str = "",
) -> Revealed:
    """The order's buyer in clear, and the raw payload of `raw_document` (the order's last
    event's archive document) when one is given. One KMS Decrypt per envelope."""
    buyer = None
    if order.buyer is not None:
        plain = open_buyer(order.buyer, order.key, vault)
        buyer = {name: getattr(plain, name) for name in BUYER_FIELDS}
    raw = open_raw_document(raw_document, order.key, vault) if raw_event_key else None
    return Revealed(order.key, buyer, raw, raw_event_key)


def audit_after(revealed: Revealed, reason: str) -> dict[str, Any]:
    """What the audit entry records: the reason, which fields and which payload were shown;
    never their values (a value the caller typed into the reason is masked there too)."""
    return {
        "reason": scrub(reason, revealed.buyer or {}),
        "fields": revealed.fields,
        "raw_payload_of": revealed.raw_event_key if revealed.raw is not None else None,
    }


def scrub(text: str, values: Mapping[str, str]) -> str:
    """`text` with every revealed value in it replaced by its mask (a caller may paste the
    phone number into the reason; the audit log must not keep it in clear). Numbers match
    with or without separators (`139 5550 1234`)."""
    for name, value in values.items():
        mask = MASKS.get(name)
        value = value.strip()
        if mask is None or len(value) < 3:
            continue
        digits = re.sub(r"\D", "", value)
        if len(digits) >= 7:
            loose = r"[\s\-.()/]*".join(re.escape(d) for d in digits)
            text = re.sub(loose, mask(value), text)
        text = text.replace(value, mask(value))
    return text
