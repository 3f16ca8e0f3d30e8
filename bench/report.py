"""What bench/drive.py prints: percentiles, the machine, the emulator's request counts."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
from collections import Counter
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import requests

from bench.load import (
    HEALTH_HINT,
    HTTP_TIMEOUT,
    LOADAVG_AT_START,
    BookingPoller,
    Delivery,
    Order,
    Sender,
    StackError,
    progress,
)

# --------------------------------------------------------------------------- reporting


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def summary(values: list[float]) -> dict[str, float | int | None]:
    """p50/p99/max in milliseconds."""
    ms = [v * 1000 for v in values]
    return {
        "count": len(ms),
        "p50_ms": percentile(ms, 50),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms) if ms else None,
    }


def machine() -> dict[str, Any]:
    """CPUs (as nproc counts them), CPU model, Python and moto versions."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 0
    try:
        moto = metadata.version("moto")
    except metadata.PackageNotFoundError:
        moto = "?"
    return {
        "cpus": cpus,
        "cpu_model": model,
        "python": platform.python_version(),
        "moto": moto,
        "os": platform.platform(terse=True),
        "loadavg_at_start": LOADAVG_AT_START,
    }


def fetch_counts(aws_url: str) -> dict[str, Any]:
    """The emulator's request counters since the last reset."""
    try:
        response = requests.get(f"{aws_url}/_orderhub/requests", timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
    except (requests.RequestException, ValueError) as exc:
        progress(f"could not read the emulator's request counts ({exc}); AWS lines stay empty")
        return {"total": 0, "by_operation": {}}
    return result


def reset_counts(aws_url: str) -> None:
    """Zero the emulator's request counters."""
    try:
        response = requests.post(f"{aws_url}/_orderhub/requests/reset", timeout=HTTP_TIMEOUT)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise StackError(
            f"the AWS emulator at {aws_url} does not answer /_orderhub/requests/reset ({exc}); "
            f"{HEALTH_HINT}, or pass --aws-url"
        ) from None


def _per(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _ms(value: float | int | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def build_report(
    args: argparse.Namespace,
    api_url: str,
    aws_url: str,
    orders: list[Order],
    deliveries: list[Delivery],
    sender: Sender,
    poller: BookingPoller,
    counts: dict[str, Any],
    finished: dict[str, Any],
) -> dict[str, Any]:
    """Everything measured, as plain data (printed as text or JSON)."""
    sent = [d for d in deliveries if d.sent_wall]
    accepted = [d for d in sent if 200 <= d.status < 300]
    processed = [d for d in accepted if d.processed_wall]
    created = [d for d in sent if d.kind == "created"]
    span = (created[-1].sent_wall - created[0].sent_wall) if len(created) > 1 else 0.0
    achieved = (len(created) - 1) / span if span > 0 else None
    first_send = min((d.sent_wall for d in sent), default=0.0)
    last_processed = max((d.processed_wall for d in processed), default=0.0)
    window = last_processed - first_send if processed else 0.0
    by_order: dict[str, list[Delivery]] = {}
    for d in sent:
        by_order.setdefault(d.order.order_id, []).append(d)
    orders_done = sum(1 for ds in by_order.values() if all(d.processed_wall for d in ds))

    own = poller.own_requests
    by_op: dict[str, int] = {}
    for op, n in counts.get("by_operation", {}).items():
        if int(n) - own.get(op, 0):
            by_op[op] = int(n) - own.get(op, 0)
    total = sum(by_op.values())
    tx = by_op.get("dynamodb.TransactWriteItems", 0)

    def ratio(n: int, d: int) -> float | None:
        return n / d if d else None

    return {
        "run_id": finished["run_id"],
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "api_url": api_url,
        "aws_url": aws_url,
        "interrupted": finished["interrupted"],
        "load": {
            "rate_asked": args.rate,
            "rate_achieved": achieved,
            "duration_s": args.duration,
            "send_phase_s": finished["send_phase_s"],
            "sender_threads": sender.threads,
            "orders": len(by_order),
            "orders_planned": len(orders),
            "events_by_type": dict(Counter(d.kind for d in sent)),
            "sender_late": summary([d.late for d in sent]),
        },
        "events": {
            "sent": len(sent),
            "accepted": len(accepted),
            "non_2xx": dict(Counter(str(d.status) for d in sent if d.status and d.status >= 300)),
            "network_errors": sum(1 for d in sent if not d.status),
            "first_errors": sorted({d.error for d in sent if d.error})[:3],
        },
        "ack_latency": summary([d.ack for d in sent if d.status]),
        "booked_latency": summary([max(0.0, d.processed_wall - d.sent_wall) for d in processed]),
        "observed_latency": summary([d.observed_wall - d.sent_wall for d in processed]),
        "processed": len(processed),
        "not_processed": len(accepted) - len(processed),
        "drain_s": finished["drain_s"],
        "throughput": {
            "window_s": window,
            "events_per_s": len(processed) / window if window > 0 else None,
            "orders_per_s": orders_done / window if window > 0 else None,
            "orders_fully_processed": orders_done,
        },
        "outcomes": dict(Counter(d.outcome for d in processed).most_common()),
        "aws_requests": {
            "total": total,
            "per_event": ratio(total, len(processed)),
            "by_operation": dict(sorted(by_op.items(), key=lambda kv: -kv[1])),
            "bench_own_subtracted": dict(own),
            "transact_write_items_per_event": ratio(tx, len(processed)),
            "transact_write_items_per_order": ratio(tx, orders_done),
            "poller_errors": poller.errors,
            "poller_batch_get_item": summary(poller.round_trips),
        },
    }


def print_report(r: dict[str, Any]) -> None:
    """The human-readable report."""
    m, load, ev = r["machine"], r["load"], r["events"]
    ack, booked, seen = r["ack_latency"], r["booked_latency"], r["observed_latency"]
    tput, aws = r["throughput"], r["aws_requests"]
    achieved = load["rate_achieved"]
    lines = [
        f"OrderHub bench  run {r['run_id']}  {r['when']}"
        + ("  (INTERRUPTED: partial numbers)" if r["interrupted"] else ""),
        f"machine    {m['cpus']} CPUs (nproc), {m['cpu_model']}, Python {m['python']}, "
        f"moto {m['moto']}, {m['os']}; load average at start {m['loadavg_at_start']}",
        f"stack      API {r['api_url']}  emulator {r['aws_url']}",
        f"load       {load['rate_asked']:g} orders/s asked, "
        + (f"{achieved:.1f} achieved" if achieved else "- achieved")
        + f", {load['duration_s']:g} s of new orders (send phase {load['send_phase_s']:.1f} s"
        f" incl. follow-ups), {load['sender_threads']} sender threads",
        f"           {load['orders']} orders -> {ev['sent']} events "
        + ", ".join(f"{k} {v}" for k, v in sorted(load["events_by_type"].items()))
        + f"; sender late p99 {_ms(load['sender_late']['p99_ms'])}",
        *(
            [
                "           WARNING: sends started late (sender pool saturated, the load was not "
                "fully open-loop); ack latency excludes that wait"
            ]
            if (load["sender_late"]["p99_ms"] or 0) > 100
            else []
        ),
        f"events     sent {ev['sent']}, accepted (202) {ev['accepted']}, non-2xx "
        f"{sum(ev['non_2xx'].values())} {ev['non_2xx'] or ''}, network errors "
        f"{ev['network_errors']}",
        *(f"           error: {e}" for e in ev["first_errors"]),
        f"ack        p50 {_ms(ack['p50_ms'])}  p99 {_ms(ack['p99_ms'])}  max {_ms(ack['max_ms'])}"
        "   (request start -> 202, client side)",
        f"booked     p50 {_ms(booked['p50_ms'])}  p99 {_ms(booked['p99_ms'])}  "
        f"max {_ms(booked['max_ms'])}   (request start -> processed_at of the event record)",
        f"observed   p50 {_ms(seen['p50_ms'])}  p99 {_ms(seen['p99_ms'])}  "
        f"max {_ms(seen['max_ms'])}   (request start -> record seen by the poller; upper bound)",
        f"processed  {r['processed']} of {ev['accepted']} accepted events"
        + (f", {r['not_processed']} NOT processed" if r["not_processed"] else "")
        + f" (drain after sending: {r['drain_s']:.1f} s)",
        "throughput "
        + (
            f"{tput['events_per_s']:.1f} events/s, {tput['orders_per_s']:.1f} orders/s "
            f"sustained ({tput['orders_fully_processed']} orders fully processed in "
            f"{tput['window_s']:.1f} s, first send -> last processed)"
            if tput["events_per_s"]
            else "-"
        ),
        "outcomes   " + (", ".join(f"{k} {v}" for k, v in r["outcomes"].items()) or "-"),
        f"AWS        {aws['total']} emulator requests = {_per(aws['per_event'])} per processed "
        f"event; DynamoDB TransactWriteItems {_per(aws['transact_write_items_per_event'])} per "
        f"event, {_per(aws['transact_write_items_per_order'])} per order (fully processed)",
    ]
    for op, n in list(aws["by_operation"].items())[:10]:
        per = _per(n / r["processed"] if r["processed"] else None)
        lines.append(f"           {op:<34} {n:>7}  {per:>6}/event")
    own = ", ".join(f"{k} {v}" for k, v in aws["bench_own_subtracted"].items()) or "none"
    probe = aws["poller_batch_get_item"]
    lines.append(
        "           counted by the emulator from reset (before sending) to the end of the drain:"
        " API, worker (incl. empty long polls), scheduler and any other client;"
        f" the bench's own requests are subtracted ({own})"
    )
    lines.append(
        f"probe      the poller's BatchGetItem (<=100 keys) round trip: p50 {_ms(probe['p50_ms'])}"
        f"  p99 {_ms(probe['p99_ms'])}  max {_ms(probe['max_ms'])}  (emulator queueing under load)"
    )
    print("\n".join(lines), flush=True)
