"""The Python benchmark of netmesh (make bench-py), the same figures as the C one.

    python3 bench.py [DATA_DIR]     (default build/bench-py-data)

- calls/s of a call on an invalid handle: the binding's bare cost per call
  (ctypes, the cgo entry, the error object, the exception);
- calls/s of Bus.stats() and of an empty Bus.poll() on 1 and on 16 shards;
- events/s of Bus.publish with 1000-event batches of ~200-byte events (dicts
  encoded by the binding), on file storage and on memory storage.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from typing import Any, Callable, Dict, List

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import netmesh  # noqa: E402
from netmesh._lib import library  # noqa: E402

SECONDS = 2.0
BATCH = 1000
EVENT_BYTES = 200


def rate(call: Callable[[], Any]) -> float:
    """Calls per second of ``call`` over about SECONDS."""
    n = 0
    start = time.perf_counter()
    end = start + SECONDS
    while True:
        for _ in range(100):
            call()
        n += 100
        now = time.perf_counter()
        if now >= end:
            return n / (now - start)


def invalid_handle_call() -> None:
    try:
        library().stats(0)
    except netmesh.InvalidHandleError:
        pass


def make_batch(first: int) -> List[Dict[str, Any]]:
    """BATCH events of about EVENT_BYTES each once encoded (padded in "note")."""
    sample = {"seq": first, "type": "order.created", "user": "user-100", "amount": 100.25,
              "note": ""}
    note = "x" * max(EVENT_BYTES - len(netmesh.bus._dumps(sample)), 0)
    return [{"seq": seq, "type": "order.created", "user": f"user-{seq % 977}",
             "amount": seq % 10000 + 0.25, "note": note}
            for seq in range(first, first + BATCH)]


def publish_rate(bus: netmesh.Bus) -> float:
    events = 0
    start = time.perf_counter()
    while True:
        result = bus.publish(make_batch(events))
        if result.published != BATCH:
            raise SystemExit(f"published {result.published} of {BATCH}")
        events += BATCH
        now = time.perf_counter()
        if now - start >= SECONDS:
            return events / (now - start)


def line(what: str, value: float, unit: str) -> None:
    print(f"  {what:<62} {value:9.0f} {unit}", flush=True)


def main() -> None:
    data_dir = sys.argv[1] if len(sys.argv) > 1 else "build/bench-py-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    version, _ = netmesh.library_version()
    print(f"libnetmesh {version} Python {sys.version.split()[0]} benchmark (ctypes), "
          f"embedded server, {SECONDS:.0f} s per figure")
    line("invalid handle: the bare cost of a call through the binding", rate(invalid_handle_call),
         "calls/s")
    for store, shards in ((1, 1), (2, 16)):
        with netmesh.Bus(embedded={"store_dir": f"{data_dir}/{store}", "memory": True},
                         shards=shards) as bus:
            if shards == 1:
                line("Bus.stats()", rate(bus.stats), "calls/s")
            # One event per shard, then polls from the end: each asks every
            # shard once and finds nothing.
            for k in range(shards):
                bus.publish([k], shard=k)
            cursor = bus.poll(limit=100).next_cursor
            what = f"Bus.poll() at the end, {shards} shard"
            if shards > 1:
                what += "s (one get per shard)"
            line(what, rate(lambda: bus.poll(cursor=cursor)), "calls/s")
    for store, memory in ((3, False), (4, True)):
        with netmesh.Bus(embedded={"store_dir": f"{data_dir}/{store}", "memory": memory},
                         shards=16) as bus:
            line(f"Bus.publish, {BATCH} x {EVENT_BYTES}-byte events, 16 shards, "
                 f"{'memory' if memory else 'file'}", publish_rate(bus), "events/s")
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
