"""netmesh's Python binding publishing the events file, for bench/peers.

    python3 py_pub.py URL PREFIX SHARDS EVENTS_FILE

The events are decoded into dicts before the clock starts; encoding them is
the binding's work and is timed, as is every 1000-event Bus.publish. Streams
are created at open ("create_streams": "init"), outside the timing. Prints
{"count":N,"seconds":S}.
"""

from __future__ import annotations

import json
import sys
import time

import netmesh

BATCH = 1000


def main() -> None:
    url, prefix, shards, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    with open(path, encoding="utf-8") as f:
        events = [json.loads(line) for line in f if line.strip()]
    with netmesh.Bus(url=url, prefix=prefix, shards=shards, create_streams="init",
                     log_level="error") as bus:
        start = time.perf_counter()
        for i in range(0, len(events), BATCH):
            chunk = events[i:i + BATCH]
            result = bus.publish(chunk)
            if result.published != len(chunk):
                raise SystemExit(f"published {result.published} of {len(chunk)}")
        seconds = time.perf_counter() - start
    print(json.dumps({"count": len(events), "seconds": seconds}))


if __name__ == "__main__":
    main()
