"""The API function's start (app.py imports this first of chalicelib): Python's cyclic garbage
collector pauses while app.py imports every route's modules, and `settle()`, app.py's last
line, resumes it with everything loaded so far frozen (`gc.freeze`: moved to the permanent
generation, which collections do not walk).

Why: the import creates about 90,000 objects that live as long as the process (modules,
classes, functions, constants). While they are young, every collection of the young
generations walks them again, and one full collection runs in the middle of the import:
about 25 ms of CPU of the webhook's cold import of about 285 ms (bench/cold_start.py,
2026-12). None of them is garbage. What the import itself leaves as cyclic garbage (little)
stays; objects made after `settle()` are collected as before.
"""

from __future__ import annotations

import gc

_WAS_ENABLED = gc.isenabled()
gc.disable()


def settle() -> None:
    """Freeze what is loaded and resume the collector (if it was running before the pause)."""
    gc.freeze()
    if _WAS_ENABLED:
        gc.enable()
