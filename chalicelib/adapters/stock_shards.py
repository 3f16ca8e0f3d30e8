"""Hot SKUs in DynamoDB: which stock items are sharded, and the writes that spread, rebalance
and mark them (the planning is pure: chalicelib/domain/hot_stock.py).

A SKU x warehouse is sharded when its SKU is configured hot (`ORDERHUB_HOT_SKUS`) or its base
item carries `hot_shards` (set automatically after repeated throttled commits of that item).
The repository's one transaction per event stays: `route` turns each planned change of a
sharded item into changes of its shard items, from the items as read for that plan (the
booking's own stock read, kept per thread until its commit) or, for paths that plan without
a stock read (shipments, expiry), from one consistent Query.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.domain.hot_stock import (
    MAX_SHARDS,
    ShardedStock,
    fold_levels,
    hop_instead_of_pause,
    is_shard_key,
    needs_rebalance,
    parse_key,
    plan_top_up,
    shard_for,
    spread_change,
)
from chalicelib.domain.model import StockChange, StockLevel

THROTTLE_CODES = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded"})


@dataclass(frozen=True)
class HotStockConfig:
    """`skus`: sharded from the start; `shards`: K (also for SKUs marked automatically);
    `throttles_to_mark`: throttled commits of one item (in one process) that mark it hot;
    0 turns automatic marking off."""

    skus: frozenset[str] = field(default_factory=frozenset)
    shards: int = 4
    throttles_to_mark: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.shards <= MAX_SHARDS:
            raise ValueError(f"hot SKU shards must be 1..{MAX_SHARDS}")


@dataclass
class Routed:
    """A plan's stock changes as item writes, and the sharded stock each came from."""

    changes: list[StockChange]
    stocks: dict[tuple[str, str], ShardedStock]


class StockShards:
    """Per repository: what is known sharded, the stock read for the plan being committed
    (per thread), and the few writes of its own (rebalance, mark)."""

    def __init__(self, inventory: Any, connection: Any, config: HotStockConfig) -> None:
        self._inv = inventory
        self._connection = connection
        self.config = config
        self._known: dict[tuple[str, str], int] = {}
        self._throttles: Counter[tuple[str, str]] = Counter()
        # per stock item (sku, range key): commits that wrote it, throttles it caused, and
        # top-ups applied / throttled; read by bench/flash_sale.py, cheap enough to keep
        self.counts: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()
        self._read = threading.local()

    # ------------------------------------------------------------------ reads

    def shards_of(self, sku: str, warehouse: str) -> int:
        if sku in self.config.skus:
            return self.config.shards
        with self._lock:
            return self._known.get((sku, warehouse), 0)

    def observe(
        self, sku: str, items: Sequence[Any], levels: Sequence[StockLevel]
    ) -> list[StockLevel]:
        """A consistent read of one SKU's items: learn which are sharded (a base item's mark,
        or shard items present), keep the items for this thread's commit, return the folded
        levels."""
        with self._lock:
            for item in items:
                warehouse, index = parse_key(item.warehouse)
                marked = int(getattr(item, "hot_shards", None) or 0)
                k = max(marked, index, self._known.get((sku, warehouse), 0))
                if k:
                    self._known[(sku, warehouse)] = min(k, MAX_SHARDS)
        self._reads()[sku] = list(levels)
        return fold_levels(levels)

    def _reads(self) -> dict[str, list[StockLevel]]:
        reads: dict[str, list[StockLevel]] | None = getattr(self._read, "skus", None)
        if reads is None:
            reads = self._read.skus = {}
        return reads

    def forget_reads(self) -> None:
        """The plan is committed or failed: its reads must not serve the next one."""
        self._reads().clear()

    def throttle_streak(self, throttled: bool) -> int:
        """This thread's consecutive throttled commits (0 after one that was not)."""
        streak = getattr(self._read, "streak", 0) + 1 if throttled else 0
        self._read.streak = streak
        return int(streak)

    def _items_of(self, sku: str, level_of: Any) -> list[StockLevel]:
        kept = self._reads().get(sku)
        if kept is not None:
            return kept
        items = list(self._inv.query(sku, consistent_read=True))
        levels = [level_of(i) for i in items]
        self.observe(sku, items, levels)
        return levels

    def learn_failed(self, roles: Sequence[str], reasons: Sequence[Any], level_of: Any) -> None:
        """A condition failed on a base item this process does not know sharded: read the SKU
        once, so a mark set elsewhere (or shards made elsewhere) routes the retry."""
        for role, reason in zip(roles, reasons, strict=False):
            if reason is None or reason.code != "ConditionalCheckFailed":
                continue
            if not role.startswith("stock "):
                continue
            sku, _, key = role[len("stock ") :].rpartition("@")
            warehouse, index = parse_key(key)
            if not index and not self.shards_of(sku, warehouse):
                self._reads().pop(sku, None)
                self._items_of(sku, level_of)
                self.forget_reads()

    # ------------------------------------------------------------------ writes

    def route(self, changes: Iterable[StockChange], order_key: str, level_of: Any) -> Routed:
        """Each planned change as the item writes that apply it (unsharded: itself)."""
        out: list[StockChange] = []
        stocks: dict[tuple[str, str], ShardedStock] = {}
        for change in changes:
            k = self.shards_of(change.sku, change.warehouse)
            if not k:
                out.append(change)
                continue
            stock = ShardedStock.of(
                change.sku, change.warehouse, k, self._items_of(change.sku, level_of)
            )
            # its start shard, or one hop on per throttled attempt in a row (`shard_for`)
            start = shard_for(order_key, k, getattr(self._read, "streak", 0))
            pieces = spread_change(change, stock, start)
            out.extend(pieces)
            stocks[(change.sku, change.warehouse)] = _after(stock, pieces)
        return Routed(out, stocks)

    def rebalance_if_low(self, routed: Routed, stock_update: Any) -> int:
        """After a commit: top up the shards of every sharded item it left low (`plan_top_up`:
        two items, or all when stock waits on the base item). One conditional transaction
        each (every item's on_hand as read, donors' available), so two rebalances never both
        apply and the total never changes. Tried once, with no pause: a throttled or lost one
        is left to the next commit that finds a shard low (retrying here would hold the
        booker and spend the very write capacity the shards are short of). Returns the
        rebalances applied."""
        applied = 0
        for stock in routed.stocks.values():
            if not needs_rebalance(stock):
                continue
            moves = plan_top_up(stock)
            if len(moves) < 2:
                continue
            try:
                self._rebalance(stock, moves, stock_update)
            except TransactWriteError:
                with self._lock:
                    self.counts[("top-up failed", stock.sku, stock.warehouse)] += 1
                continue
            applied += 1
            with self._lock:
                self.counts[("top-up", stock.sku, stock.warehouse)] += 1
        return applied

    def _rebalance(
        self, stock: ShardedStock, moves: Sequence[StockChange], stock_update: Any
    ) -> None:
        with TransactWrite(connection=self._connection) as tx:
            for move in moves:
                _, index = parse_key(move.warehouse)
                level = stock.parts.get(index)
                exact = StockChange(
                    move.sku,
                    move.warehouse,
                    on_hand=move.on_hand,
                    min_available=move.min_available,
                    expect_on_hand=level.on_hand if level else 0,
                )
                actions, condition = stock_update(self._inv, exact, True)
                tx.update(self._inv(move.sku, move.warehouse), actions=actions, condition=condition)

    def after_throttle(self, items: Sequence[tuple[str, str]]) -> None:
        """A commit was throttled on `items`: count it, and pause before the retry unless
        all were shard items and the retry can hop to a shard not tried in this streak
        (`hop_instead_of_pause`); then it goes at once, to another item."""
        self.note_throttled(items)
        streak = self.throttle_streak(True)
        shards = [self.shards_of(sku, parse_key(key)[0]) for sku, key in items]
        if items and all(is_shard_key(key) for _, key in items):
            k = min(shards) or 1
            if hop_instead_of_pause(streak, k):
                return
            back_off(streak // k)
            return
        back_off(streak)

    def note_committed(self, routed: Routed) -> None:
        """Count the writes of a committed plan's hot items: sharded, or throttled before
        (only those: a warm process books many SKUs, and the counts are for the hot ones)."""
        with self._lock:
            for change in routed.changes:
                sharded = (change.sku, parse_key(change.warehouse)[0]) in routed.stocks
                if sharded or ("throttle", change.sku, change.warehouse) in self.counts:
                    self.counts[("commit", change.sku, change.warehouse)] += 1

    def note_throttled(self, items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Count throttled commits per stock item; mark an unsharded one hot (on its base
        item, so every process learns it) when it reaches `throttles_to_mark`. Returns the
        items marked now."""
        items = list(items)
        with self._lock:
            for sku, range_key in items:
                self.counts[("throttle", sku, range_key)] += 1
        marked: list[tuple[str, str]] = []
        if not self.config.throttles_to_mark:
            return marked
        for sku, range_key in items:
            warehouse, index = parse_key(range_key)
            if index or self.shards_of(sku, warehouse):
                continue  # already sharded: more shards is a configuration decision
            with self._lock:
                self._throttles[(sku, warehouse)] += 1
                due = self._throttles[(sku, warehouse)] >= self.config.throttles_to_mark
            if due and self._mark(sku, warehouse):
                marked.append((sku, warehouse))
        return marked

    def _mark(self, sku: str, warehouse: str) -> bool:
        inv = self._inv
        try:
            inv(sku, warehouse).update(
                actions=[inv.hot_shards.set(self.config.shards)],
                condition=inv.sku.exists() & inv.hot_shards.does_not_exist(),
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                return False  # (still throttled: the next throttled commit tries again)
        with self._lock:
            self._known[(sku, warehouse)] = self.config.shards
            self._throttles.pop((sku, warehouse), None)
        return True


def _after(stock: ShardedStock, pieces: Sequence[StockChange]) -> ShardedStock:
    parts = dict(stock.parts)
    for piece in pieces:
        _, index = parse_key(piece.warehouse)
        level = parts.get(index) or StockLevel(stock.sku, piece.warehouse, 0, 0, 0, 0)
        parts[index] = level.apply(piece)
    return ShardedStock(stock.sku, stock.warehouse, stock.shards, parts)


def throttled_items(roles: Sequence[str], reasons: Sequence[Any]) -> list[tuple[str, str]]:
    """The stock items (sku, range key) a cancelled transaction names as throttled."""
    found = []
    for role, reason in zip(roles, reasons, strict=False):
        if reason is not None and reason.code in THROTTLE_CODES and role.startswith("stock "):
            sku, _, key = role[len("stock ") :].rpartition("@")
            found.append((sku, key))
    return found


def is_throttle(reasons: Sequence[Any]) -> bool:
    return any(r is not None and r.code in THROTTLE_CODES for r in reasons)


def back_off(attempt: int, base: float = 0.05, cap: float = 1.0) -> None:
    """Full-jitter exponential pause before the caller retries a throttled write."""
    time.sleep(random.uniform(0, min(cap, base * 2 ** max(0, attempt))))


def hot_config(skus: Iterable[str], shards: int, throttles_to_mark: int) -> HotStockConfig:
    return HotStockConfig(frozenset(s for s in skus if s), shards, throttles_to_mark)
