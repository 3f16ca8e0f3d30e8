"""Free text without personal data: phone numbers, Chinese ID numbers and email addresses
replaced by a marker before a reason or note is stored or logged. Pure.

People paste what they are looking at into a reason ("buyer 138 1234 5678 called"); the audit
log keeps entries 400 days and the logs go wherever logs go. Every place that stores or logs
text a person or a carrier wrote runs it through this one function (`scrub_free_text`, also
named `scrub_personal_data`): the audit entry's reasons and notes, the refusal log line,
anomaly notes, adjustment, void and revocation reasons, order and review notes, carrier
checkpoints, the processor's failure messages, the local access log's query strings.

What it replaces, in this order (each with a marker naming what was there):
- e-mail addresses → `[email]`;
- mainland China ID numbers, 18 characters (the last may be X) or the old 15 digits →
  `[id number]`;
- mobile numbers, 11 digits starting 1[3-9], optionally +86 / 86, spaces or dashes between
  groups → `[phone]`;
- any other phone-like run of 7 to 15 digits (spaces, dots, dashes or parentheses allowed:
  landlines, international numbers) → `[number]`; a date (`2026-11-25 10:00`) is left alone.
Ids that mix letters and digits (tracking numbers, `o-42`) stay; a long all-digit id in a
note is masked too, which is the safe side.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<![0-9A-Za-z])(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?![0-9A-Za-z])")
LONG_NUMBER = re.compile(r"(?<![0-9A-Za-z])\+?\(?\d[\d\s().\-]{5,22}\d(?![0-9A-Za-z])")
_DATE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:[ T]\d{1,2}(?:[:.]\d{2})*)?")

EMAIL_MARK, ID_NUMBER_MARK, PHONE_MARK, NUMBER_MARK = (
    "[email]",
    "[id number]",
    "[phone]",
    "[number]",
)


def _long_number(match: re.Match[str]) -> str:
    text = match.group(0)
    if _DATE.fullmatch(text.strip()):  # 2026-11-25 is a day, not a number to hide
        return text
    digits = sum(ch.isdigit() for ch in text)
    return NUMBER_MARK if 7 <= digits <= 15 else text


def scrub_free_text(text: str) -> str:
    """`text` with e-mails, ID numbers, mobiles and other phone-like numbers replaced."""
    if not text:
        return text
    text = EMAIL.sub(EMAIL_MARK, text)
    text = ID_NUMBER.sub(ID_NUMBER_MARK, text)
    text = MOBILE.sub(PHONE_MARK, text)
    return LONG_NUMBER.sub(_long_number, text)


scrub_personal_data = scrub_free_text  # the name issue 18's notes and tracks call it by

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
