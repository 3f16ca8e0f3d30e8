"""How fast a stock change reaches every channel, on the local stack.

    python bench/stock_push.py                # a private stack on free ports
    python bench/stock_push.py --state-file build/local/stack.json   # the running `make run`

Each round posts one stock receipt (`POST /inventory/{sku}/adjustments`) and polls the stub
platform's `GET /_stub/pushes` until every store of the catalog (the seed's 11: nine
marketplaces, each through its own inventory API, and two own shops through the generic
endpoint) was told the new quantity. Latency = from the receipt's request until the last
store's push is recorded. The minute sweeper keeps running: a round it happens to serve is
counted as it is. Prints one JSON line of numbers (p50/p95/p99/max in seconds, rounds,
stores) and a summary line; docs/performance.md "Stock pushes" records runs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
SKU = "TEA-LONGJING-250G"
WAREHOUSE_KEY = "oh_dev_warehouse_local_only"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_stack(tmp: Path) -> tuple[subprocess.Popen[bytes], Path]:
    state = tmp / "stack.json"
    env = dict(
        os.environ,
        ORDERHUB_API_PORT=str(free_port()),
        ORDERHUB_AWS_PORT=str(free_port()),
        ORDERHUB_STUB_PORT=str(free_port()),
        ORDERHUB_PULL_STUB_PORT=str(free_port()),
        ORDERHUB_NOTIFY_STUB_PORT=str(free_port()),
        ORDERHUB_STATE_FILE=str(state),
    )
    log = open(tmp / "stack.log", "wb")  # noqa: SIM115 - lives as long as the stack
    process = subprocess.Popen(
        [sys.executable, "-m", "local.stack"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    deadline = time.monotonic() + 120
    while not state.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the local stack did not start: " + str(tmp / "stack.log"))
        time.sleep(0.2)
    return process, state


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def run(state_file: Path, rounds: int, timeout: float) -> dict[str, Any]:
    state = json.loads(state_file.read_text())
    api, stub = state["api_url"], state["stub_url"]
    stores = {
        (s["platform"], s["store_id"])
        for s in json.loads((ROOT / "local" / "seed.json").read_text())["stores"]
    }
    auth = {"Authorization": f"Bearer {WAREHOUSE_KEY}"}
    latencies: list[float] = []
    late = 0
    run_id = int(time.time())
    for n in range(rounds):
        requests.post(f"{stub}/_stub/reset", json={}, timeout=10)
        receipt: dict[str, Any] = {
            "adjustment_id": f"bench-push-{run_id}-{n}",
            "warehouse": "wh-shanghai",
            "kind": "receipt",
            "quantity": 1,
            "reason": "bench",
        }
        started = time.monotonic()
        answer = requests.post(
            f"{api}/inventory/{SKU}/adjustments", json=receipt, headers=auth, timeout=10
        )
        answer.raise_for_status()
        expected = answer.json()["stock"]["total"]["available"]
        while True:
            pushes = requests.get(f"{stub}/_stub/pushes", params={"sku": SKU}, timeout=10).json()
            told = {(p["platform"], p["store"]) for p in pushes if p["quantity"] == expected}
            if told >= stores:
                latencies.append(time.monotonic() - started)
                break
            if time.monotonic() - started > timeout:
                late += 1
                break
            time.sleep(0.02)
    return {
        "rounds": rounds,
        "stores": len(stores),
        "late": late,
        "p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "p95_s": round(percentile(latencies, 0.95), 3) if latencies else None,
        "p99_s": round(percentile(latencies, 0.99), 3) if latencies else None,
        "max_s": round(max(latencies), 3) if latencies else None,
        "target_p99_s": 5.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--state-file", type=Path, help="a running stack's state file")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds before a round is late"
    )
    args = parser.parse_args()
    process = None
    if args.state_file is None:
        tmp = Path(tempfile.mkdtemp(prefix="orderhub-bench-push-"))
        process, state_file = start_stack(tmp)
    else:
        state_file = args.state_file
    try:
        result = run(state_file, args.rounds, args.timeout)
    finally:
        if process is not None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
    print(json.dumps(result))
    ok = result["late"] == 0 and result["p99_s"] is not None and result["p99_s"] <= 5.0
    print(
        f"stock change -> all {result['stores']} stores told: p50 {result['p50_s']} s, "
        f"p99 {result['p99_s']} s (target 5 s) over {result['rounds']} rounds: "
        + ("within target" if ok else "MISSED")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
