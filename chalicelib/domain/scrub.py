"""Free text without personal data: phone numbers, Chinese ID numbers and email addresses
replaced by a marker before a reason or note is stored or logged. Pure.

People paste what they are looking at into a reason ("buyer 138 1234 5678 called"); the audit
log keeps entries 400 days and the logs go wherever logs go. Every place that stores or logs
text a caller typed runs it through `scrub_free_text` (the audit entry's before/after, the
refusal log line, anomaly notes, adjustment and void reasons, key revocation reasons).

Patterns, deliberately wide (a false positive costs a few characters of a reason):
- Chinese ID numbers: 18 characters, 17 digits then a digit or X (GB 11643-1999), or the
  old 15-digit form;
- emails: `local@domain.tld`;
- phone numbers: a run of 7 to 15 digits, optionally `+` and separated by spaces, dots,
  dashes or parentheses (covers Chinese mobiles `138 1234 5678`, `+86-138-1234-5678`,
  landlines `(021) 6123 4567` and international numbers).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

ID_NUMBER_MARK = "[id number]"
EMAIL_MARK = "[email]"
PHONE_MARK = "[phone]"

_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# digits with separators: starts and ends on a digit; 7+ digits counted after matching
_PHONE = re.compile(r"(?<![\w])\+?\(?\d[\d\s().\-]{5,22}\d(?![\w])")


_DATE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:[ T]\d{1,2}(?:[:.]\d{2})*)?")


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    if _DATE.fullmatch(text.strip()):  # 2026-11-25 is a day, not a number to hide
        return text
    return PHONE_MARK if 7 <= digits <= 15 else text


def scrub_free_text(text: str) -> str:
    """`text` with phone numbers, ID numbers and emails replaced by markers."""
    if not text:
        return text
    text = _ID_NUMBER.sub(ID_NUMBER_MARK, text)
    text = _EMAIL.sub(EMAIL_MARK, text)
    return _PHONE.sub(_phone, text)


FREE_TEXT_FIELDS = frozenset({"reason", "note", "notes", "disabled_reason", "comment"})


def scrub_free_text_fields(value: Any) -> Any:
    """`value` (an audit entry's before/after, a log's extra) with the string under every
    free-text key (`FREE_TEXT_FIELDS`, at any depth) scrubbed. Ids, SKUs and amounts beside
    them are left alone: a long order id is not a phone number."""
    if isinstance(value, Mapping):
        return {
            key: scrub_free_text(item)
            if key in FREE_TEXT_FIELDS and isinstance(item, str)
            else scrub_free_text_fields(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub_free_text_fields(item) for item in value]
    return value
