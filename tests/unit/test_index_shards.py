"""Write-sharded sparse indexes (domain/index_shards.py): the shard function is stable and
spreads keys evenly; the merge gives back one sorted stream, lazily."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from chalicelib.domain.index_shards import merge_sorted, shard_of, shard_value, shard_values


def test_shard_value_is_stable_across_calls_and_releases():
    # CRC-32, not Python's salted hash: these literals must never change (written values)
    assert shard_value("open", "shopify#s1#1001", 16) == "open#4"
    assert shard_value("push", "SKU-1", 8) == "push#4"
    assert shard_of("shopify#s1#1001", 16) == shard_of("shopify#s1#1001", 16)


@pytest.mark.parametrize("shards", [1, 8, 16, 64])
def test_shards_share_keys_evenly(shards):
    keys = [f"shopify#store-{i % 7}#{1_000_000 + i * 37}" for i in range(20_000)]
    counts = Counter(shard_of(k, shards) for k in keys)
    fair = len(keys) / shards
    assert set(counts) == set(range(shards))
    assert max(counts.values()) < fair * 1.1  # within 10% of the fair share


def test_shard_count_must_be_positive():
    with pytest.raises(ValueError):
        shard_of("x", 0)


def test_readers_query_every_shard_and_the_old_constant():
    assert shard_values("open", 3, legacy="1") == ["open#0", "open#1", "open#2", "1"]
    assert shard_values("open", 2) == ["open#0", "open#1"]


def test_growing_n_keeps_every_written_value_readable():
    for key in (f"k{i}" for i in range(500)):
        assert shard_value("R", key, 8) in shard_values("R", 16)


def test_merge_equals_a_sort_of_all_streams():
    rng = random.Random(7)
    for _ in range(200):
        items = [f"{rng.randrange(1000):04d}" for _ in range(rng.randrange(60))]
        streams: list[list[str]] = [[] for _ in range(rng.randrange(1, 9))]
        for item in items:
            streams[rng.randrange(len(streams))].append(item)
        merged = list(merge_sorted([sorted(s) for s in streams], key=str))
        assert merged == sorted(items)


def test_merge_unique_drops_an_item_seen_in_its_old_and_new_shard():
    old, new = ["a", "c"], ["b", "c", "d"]
    assert list(merge_sorted([new, old], key=str, unique=True)) == ["a", "b", "c", "d"]


def test_merge_reads_lazily():
    pulled: list[int] = []

    def stream(n: int):
        for i in range(n, 100, 4):
            pulled.append(i)
            yield f"{i:03d}"

    first = next(merge_sorted([stream(k) for k in range(4)], key=str))
    assert first == "000"
    assert len(pulled) == 4  # one item per stream, not every page


def test_the_shard_count_comes_from_configuration():
    from chalicelib.settings import _REQUIRED, ConfigError, Settings

    env = {var: "x" for var in _REQUIRED.values()} | {"AWS_REGION": "us-east-1"}
    assert Settings.from_env(env).index_shards == 16
    assert Settings.from_env({**env, "ORDERHUB_INDEX_SHARDS": "64"}).index_shards == 64
    for bad in ("0", "257", "many"):
        with pytest.raises(ConfigError, match="ORDERHUB_INDEX_SHARDS"):
            Settings.from_env({**env, "ORDERHUB_INDEX_SHARDS": bad})
