"""Hot SKUs: one SKU x warehouse's stock held in K shard items, so bookings of it spread their
writes over K items instead of queueing on one (DynamoDB: about 1,000 writes/s per item).

The base item (range key = the warehouse) keeps the rules (safety stock, holdback, channels)
and whatever is not spread: receipts land there and a rebalance spreads them. Shard `i`
(1..K) is its own item, range key `{warehouse}#hot{i}`, with the same buckets and the same
invariant as any stock item (`available = on_hand - locked - reserved`, no bucket below 0), so
every shard update is conditional on its own buckets and no interleaving can oversell. The
SKU's totals are only ever the sum of its items (`fold_levels`): no write touches a total, so
the base item does not stay hot.

Everything here is pure: the adapter reads the items, these functions decide which item takes
which part of a change, and the adapter writes the parts in the plan's one transaction.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from chalicelib.domain.model import StockChange, StockLevel

SHARD_MARK = "#hot"
MAX_SHARDS = 32  # a booking may touch every shard of a SKU: keeps a transaction far below 100

# A change moves units between an item's buckets, and in or out of the item.
_IN, _OUT = "in", "out"
_BUCKETS = ("available", "reserved", "locked")


def shard_key(warehouse: str, index: int) -> str:
    """The range key of shard `index` (0: the base item itself)."""
    return warehouse if index == 0 else f"{warehouse}{SHARD_MARK}{index}"


def parse_key(range_key: str) -> tuple[str, int]:
    """(warehouse, shard index) of an inventory item's range key; 0 for a base item."""
    base, mark, index = range_key.rpartition(SHARD_MARK)
    if mark and base and index.isdigit() and int(index) > 0:
        return base, int(index)
    return range_key, 0


def is_shard_key(range_key: str) -> bool:
    return parse_key(range_key)[1] > 0


def start_shard(order_key: str, shards: int) -> int:
    """The shard an order tries first: a stable hash of its key, so concurrent orders spread
    evenly over the shards and one order's later movements look where it booked first."""
    return shard_for(order_key, shards, 0)


def shard_for(order_key: str, shards: int, hop: int) -> int:
    """The shard an order tries after `hop` throttled attempts in a row: its start shard,
    then a step of its own round the ring (a stride coprime with K, also from its key), so
    K hops visit every shard once, and two orders that met on one throttled shard mostly
    part on the next hop instead of meeting again."""
    if shards <= 0:
        return 0
    digest = zlib.crc32(order_key.encode())
    strides = [s for s in range(1, shards) if math.gcd(s, shards) == 1] or [1]
    stride = strides[(digest // shards) % len(strides)]
    return 1 + (digest + hop * stride) % shards


def hop_instead_of_pause(streak: int, shards: int) -> bool:
    """After `streak` throttled commits in a row on shard items: retry at once on the next
    shard (`shard_for`, one hop on) while this round of the ring still has shards not tried;
    pause (jittered back-off) only after K throttles in a row, when every shard was busy."""
    return shards > 1 and streak % shards != 0


def fill_evenly(levels: Mapping[int, int], amount: int) -> dict[int, int]:
    """Units to add to each of `levels` (index -> available) so that `amount` units raise the
    lowest first (water-filling): the result is as even as the units allow, ties to the
    lower index. Pure arithmetic, independent of `amount`'s size."""
    add = dict.fromkeys(levels, 0)
    if amount <= 0 or not levels:
        return add
    ranked = sorted(levels, key=lambda i: (levels[i], i))
    # the water line: the highest level h such that raising all below h to h costs <= amount
    count, spent, line = 0, 0, levels[ranked[0]]
    while count < len(ranked):
        nxt = levels[ranked[count + 1]] if count + 1 < len(ranked) else None
        count += 1
        if nxt is None or spent + (nxt - line) * count > amount:
            break
        spent += (nxt - line) * count
        line = nxt
    rest = amount - spent
    line += rest // count
    extra = rest % count
    for rank, index in enumerate(sorted(ranked[:count])):
        add[index] = line - levels[index] + (1 if rank < extra else 0)
    return add


def fold_levels(levels: Iterable[StockLevel]) -> list[StockLevel]:
    """Items as stored (base and shard items) to one level per SKU x warehouse: buckets
    summed, rules from the base item. Order kept (first item of each SKU x warehouse)."""
    folded: dict[tuple[str, str], StockLevel] = {}
    for level in levels:
        warehouse, index = parse_key(level.warehouse)
        key = (level.sku, warehouse)
        seen = folded.get(key)
        if index:
            level = replace(
                level, warehouse=warehouse, safety_stock=0, holdback=0, holdback_channels=()
            )
        if seen is None:
            folded[key] = level
            continue
        rules = level if not index else seen
        folded[key] = replace(
            rules,
            on_hand=seen.on_hand + level.on_hand,
            locked=seen.locked + level.locked,
            reserved=seen.reserved + level.reserved,
            available=seen.available + level.available,
        )
    return list(folded.values())


@dataclass(frozen=True)
class ShardedStock:
    """One SKU x warehouse as stored: `parts[i]` is shard i's level (0: the base item), for
    the items that exist; `shards` is K."""

    sku: str
    warehouse: str
    shards: int
    parts: Mapping[int, StockLevel]

    @classmethod
    def of(cls, sku: str, warehouse: str, shards: int, items: Iterable[StockLevel]) -> ShardedStock:
        parts: dict[int, StockLevel] = {}
        for item in items:
            base, index = parse_key(item.warehouse)
            if item.sku == sku and base == warehouse and index <= shards:
                parts[index] = item
        return cls(sku, warehouse, shards, parts)

    def order_from(self, start: int) -> list[int]:
        """Shards in the order a change looks at them: from `start` round the ring, then the
        base item last (it holds the holdback and unspread receipts)."""
        ring = list(range(1, self.shards + 1))
        if 1 <= start <= self.shards:
            ring = ring[start - 1 :] + ring[: start - 1]
        return [*ring, 0]

    def spreadable(self) -> int:
        base = self.parts.get(0)
        spare = max(0, base.available - base.holdback) if base else 0
        return spare + sum(self.parts[i].available for i in self.parts if i)


def _flows(change: StockChange) -> list[tuple[str, str, int]]:
    """The change as unit moves between buckets (and in/out of the item): its deltas are
    the sums of these moves, so each move can be taken from any item that holds its source."""
    deltas = {
        "available": change.available,
        "reserved": change.reserved,
        "locked": change.locked,
    }
    sources = [(b, -d) for b, d in deltas.items() if d < 0]
    sinks = [(b, d) for b, d in deltas.items() if d > 0]
    if change.on_hand > 0:
        sources.append((_IN, change.on_hand))
    elif change.on_hand < 0:
        sinks.append((_OUT, -change.on_hand))
    flows: list[tuple[str, str, int]] = []
    si = ti = 0
    src = list(sources)
    dst = list(sinks)
    while si < len(src) and ti < len(dst):
        amount = min(src[si][1], dst[ti][1])
        if amount:
            flows.append((src[si][0], dst[ti][0], amount))
        src[si] = (src[si][0], src[si][1] - amount)
        dst[ti] = (dst[ti][0], dst[ti][1] - amount)
        if not src[si][1]:
            si += 1
        if not dst[ti][1]:
            ti += 1
    return flows


def _piece_change(sku: str, key: str, moves: dict[str, int]) -> StockChange:
    """Bucket deltas (incl. in/out) of one item to a StockChange (available is derived)."""
    on_hand = moves.get(_IN, 0) - moves.get(_OUT, 0)
    return StockChange(
        sku, key, reserved=moves.get("reserved", 0), locked=moves.get("locked", 0), on_hand=on_hand
    )


def spread_change(change: StockChange, stock: ShardedStock, start: int) -> list[StockChange]:
    """Split one planned change of a sharded SKU into changes of its items (their `warehouse`
    is the item's range key), each covered by that item's buckets as read.

    Every unit a move takes comes from the first item, in `order_from(start)`, that still
    holds its source bucket (so a booking takes from its start shard and falls back to the
    next; one needing more than a shard holds takes from several, all in the one
    transaction). Units coming in (receipts) go to the base item. The channel holdback stays
    on the base item: it gives only what it holds above the holdback, and its part is
    conditioned on keeping it. A count (`expect_on_hand`) conditions every item on the
    on_hand it was read with, so the count is exact across items. What no item covers (the
    read is stale) goes to the start shard, whose condition then fails: the caller re-reads.
    """
    taken = max(0, -change.available)
    holdback = max(0, change.min_available - taken)
    remaining = {i: {b: getattr(level, b) for b in _BUCKETS} for i, level in stock.parts.items()}
    if 0 in remaining:
        remaining[0]["available"] = max(0, remaining[0]["available"] - holdback)
    order = stock.order_from(start)
    fallback = start if start >= 1 else 0
    moves: dict[int, dict[str, int]] = {}  # item -> bucket deltas, and units in / out

    def move(index: int, source: str, sink: str, amount: int) -> None:
        deltas = moves.setdefault(index, {})
        deltas[source] = deltas.get(source, 0) + (amount if source == _IN else -amount)
        deltas[sink] = deltas.get(sink, 0) + amount
        held = remaining.setdefault(index, dict.fromkeys(_BUCKETS, 0))
        if source in held:
            held[source] -= amount
        if sink in held:
            held[sink] += amount

    first = next((i for i in order if i), 0)
    spare = remaining.get(0, {}).get("available", 0)
    if taken and first and remaining.get(first, {}).get("available", 0) < taken and spare >= taken:
        # stock still waits on the base item (a SKU just marked hot): the booking spreads
        # all of it over the shards (lowest first) in its own transaction, then books from
        # them: one write of the hot base item empties it, where carrying a share at a time
        # wrote it once a share and paced the sale at its rate (measured)
        levels = {i: remaining.get(i, {}).get("available", 0) for i in range(1, stock.shards + 1)}
        move(0, "available", _OUT, spare)
        for index, part in fill_evenly(levels, spare).items():
            if part:
                move(index, _IN, "available", part)

    for source, sink, amount in _flows(change):
        if source == _IN:
            for index, part in _receipt_parts(stock, remaining, sink, amount).items():
                if part:
                    move(index, source, sink, part)
            continue
        left = amount
        for index in order:
            part = min(remaining.get(index, {}).get(source, 0), left)
            if part > 0:
                move(index, source, sink, part)
                left -= part
            if not left:
                break
        if left:
            move(fallback, source, sink, left)

    counted = set(stock.parts) if change.expect_on_hand is not None else set()
    # the SKU's first receipt also makes its base item (empty: the units go to the shards),
    # which holds its rules and is what a read by key finds
    make_base = {0} if moves and not stock.parts and change.on_hand > 0 else set()
    pieces: list[StockChange] = []
    for index in sorted(set(moves) | counted | make_base):
        piece = _piece_change(stock.sku, shard_key(stock.warehouse, index), moves.get(index, {}))
        part_taken = max(0, -piece.available)
        need = part_taken + (holdback if index == 0 and part_taken else 0)
        expect = None
        if change.expect_on_hand is not None:
            level = stock.parts.get(index)
            expect = level.on_hand if level else 0
        pieces.append(replace(piece, min_available=need, expect_on_hand=expect))
    return [
        p
        for p in pieces
        if not p.is_empty()
        or p.expect_on_hand is not None
        or (make_base and p.warehouse == stock.warehouse)
    ]


def _receipt_parts(
    stock: ShardedStock, remaining: Mapping[int, Mapping[str, int]], sink: str, amount: int
) -> dict[int, int]:
    """Where units coming in (a receipt, a count's gain) land: the base item until it holds
    its channel holdback, the rest spread evenly over the K shards, lowest first
    (`fill_evenly`), in the receipt's own transaction. So a sale starts with its stock on
    the shards and nothing to carry off the base item, whose one item's write rate would
    otherwise pace the start of the sale. Units into another bucket than `available` land on
    the base item."""
    if sink != "available" or stock.shards <= 0:
        return {0: amount}
    base = stock.parts.get(0)
    room = max(0, base.holdback - base.available) if base else 0
    to_base = min(amount, room)
    levels = {i: remaining.get(i, {}).get("available", 0) for i in range(1, stock.shards + 1)}
    return {0: to_base, **fill_evenly(levels, amount - to_base)}


def needs_rebalance(stock: ShardedStock) -> bool:
    """A shard ran low (a quarter of its fair share or less) while another, or the base
    item's unspread stock, has units to give."""
    if stock.shards <= 0:
        return False
    fair = stock.spreadable() // stock.shards
    if fair < 2:
        return False  # the tail is sold by fallback round the ring
    return min(_shard_available(stock, i) for i in range(1, stock.shards + 1)) <= fair // 4


def _shard_available(stock: ShardedStock, index: int) -> int:
    level = stock.parts.get(index)
    return level.available if level else 0


def plan_top_up(stock: ShardedStock) -> list[StockChange]:
    """The cheap rebalance while bookings run: the lowest shard takes half the difference
    from the richest one, two items in one transaction (a full rebalance writes every item,
    and under load it seldom finds them all with capacity at once). When the base item holds
    unspread stock (a receipt), it is spread over all shards instead (`plan_rebalance`)."""
    base = stock.parts.get(0)
    if base and base.available - base.holdback >= stock.shards:
        return plan_rebalance(stock)
    shards = range(1, stock.shards + 1)
    low = min(shards, key=lambda i: (_shard_available(stock, i), i))
    rich = max(shards, key=lambda i: (_shard_available(stock, i), -i))
    amount = (_shard_available(stock, rich) - _shard_available(stock, low)) // 2
    if amount <= 0:
        return []
    return [
        StockChange(
            stock.sku, shard_key(stock.warehouse, rich), on_hand=-amount, min_available=amount
        ),
        StockChange(stock.sku, shard_key(stock.warehouse, low), on_hand=amount),
    ]


def plan_rebalance(stock: ShardedStock) -> list[StockChange]:
    """Changes that even out the shards' `available` (and empty the base item down to its
    holdback): units leave donors as on_hand (conditioned on their available, the base item's
    also on keeping its holdback) and arrive at receivers; the sum of every bucket is
    unchanged, so the total is conserved. Empty when nothing needs moving."""
    k = stock.shards
    if k <= 0:
        return []
    total = stock.spreadable()
    targets = {i: total // k + (1 if i <= total % k else 0) for i in range(1, k + 1)}
    deltas: dict[int, int] = {}
    for i, target in targets.items():
        level = stock.parts.get(i)
        have = level.available if level else 0
        if target != have:
            deltas[i] = target - have
    base = stock.parts.get(0)
    spare = max(0, base.available - base.holdback) if base else 0
    if spare:
        deltas[0] = -spare
    if not any(deltas.values()):
        return []
    changes = []
    for i in sorted(deltas):
        delta = deltas[i]
        if not delta:
            continue
        holdback = base.holdback if (i == 0 and base) else 0
        changes.append(
            StockChange(
                stock.sku,
                shard_key(stock.warehouse, i),
                on_hand=delta,
                min_available=(-delta + holdback) if delta < 0 else 0,
            )
        )
    return changes


def sharded_stocks(
    items: Sequence[StockLevel], shards_of: Mapping[tuple[str, str], int]
) -> dict[tuple[str, str], ShardedStock]:
    """Group stored items of sharded SKU x warehouses (`shards_of`: K of each)."""
    return {
        (sku, wh): ShardedStock.of(sku, wh, k, items) for (sku, wh), k in shards_of.items() if k
    }
