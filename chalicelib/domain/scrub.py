"""Free text scrubbed of personal data before OrderHub stores it. Pure Python.

`scrub_personal_data` replaces, in any text people or carriers write (order notes, review
notes, carrier checkpoints), what identifies a person: e-mail addresses, mainland China ID
numbers (18 characters, the last may be X), mobile numbers (11 digits starting 1[3-9],
optionally +86 / 86), and other long digit runs that look like phone numbers (7-15 digits,
spaces or dashes allowed: landlines, international numbers). Order ids and tracking numbers
usually mix letters and digits or are kept in their own fields; a long all-digit id in a note
is masked too, which is the safe side. Each match becomes a fixed marker naming what it was,
so a reader still sees that a phone number was there.

Issue 12 writes the project-wide scrubber; this one has the same name and signature so the
two can be unified.
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<![0-9A-Za-z])(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?![0-9A-Za-z])")
LONG_NUMBER = re.compile(r"(?<![0-9A-Za-z])\+?\d(?:[\s-]?\d){6,14}(?![0-9A-Za-z])")

MARKERS = (
    (EMAIL, "[email]"),
    (ID_NUMBER, "[id number]"),
    (MOBILE, "[phone]"),
    (LONG_NUMBER, "[number]"),
)


def scrub_personal_data(text: str) -> str:
    """`text` with e-mails, ID numbers and phone-like numbers replaced by markers."""
    for pattern, marker in MARKERS:
        text = pattern.sub(marker, text)
    return text
