"""Issue 12, item 8: the catalog and API-key cache is bounded: 20,000 unknown keys leave at
most `max_entries` entries in a warm function, and what is used stays cached."""

from __future__ import annotations

from chalicelib.adapters.cache import CachedCatalog
from tests.fakes import FakeCatalog


class CountingCatalog(FakeCatalog):
    def __init__(self) -> None:
        super().__init__()
        self.key_reads = 0

    def get_api_key(self, key_hash):
        self.key_reads += 1
        return super().get_api_key(key_hash)


def test_20000_unknown_keys_leave_a_bounded_cache():
    catalog = CountingCatalog()
    cache = CachedCatalog(catalog, max_entries=500)
    for n in range(20_000):
        assert cache.get_api_key(f"unknown-{n}") is None
    assert len(cache) == 500
    assert catalog.key_reads == 20_000


def test_the_entry_in_use_survives_a_flood():
    catalog = CountingCatalog()
    catalog.api_keys["ours"] = {"key_id": "k"}
    cache = CachedCatalog(catalog, max_entries=100)
    cache.get_api_key("ours")
    for n in range(1_000):
        cache.get_api_key(f"unknown-{n}")
        cache.get_api_key("ours")  # used between the misses: most recently used, kept
    assert catalog.key_reads == 1 + 1_000
