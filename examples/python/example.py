"""netmesh from Python: open the embedded bus, publish a few events, read them
back by following the cursor, print them, read them as a consumer group, close.

    PYTHONPATH=bindings/python python3 examples/python/example.py [STORE_DIR]

(run from the repository root; the default store is build/demo-py-data).
"""

from __future__ import annotations

import os
import sys

try:
    import netmesh
except ImportError:  # not installed: use the package in this repository
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", "..", "bindings", "python"))
    import netmesh


def main() -> int:
    store_dir = sys.argv[1] if len(sys.argv) > 1 else "build/demo-py-data"
    version, abi = netmesh.library_version()
    print(f"netmesh for Python, libnetmesh {version} (ABI {abi})")

    with netmesh.Bus(embedded={"store_dir": store_dir}) as bus:
        # A cursor at the current end of every shard, so this run reads back only
        # what it publishes even when the store holds earlier runs' events.
        cursor = bus.poll(start="latest", limit=1).next_cursor

        orders = [{"order": i, "item": f"widget-{i % 7}", "qty": 1 + i % 5} for i in range(10)]
        result = bus.publish(orders)
        print(f"published {result.published} events ({result.duplicates} duplicates)")

        read = 0
        while read < len(orders):
            # wait: an empty poll waits up to 1 s for new events instead of spinning.
            batch = bus.poll(cursor=cursor, limit=4, wait=1.0)
            for event in batch.events:
                print(f"  shard {event.shard:2}  id {event.id:3}  {event.data}")
            read += len(batch.events)
            cursor = batch.next_cursor
            if not batch.events:
                print("no more events", file=sys.stderr)
                return 1

        # A consumer group: its members share the shards, and the group keeps how
        # far it got under its name, across runs (consume commits each batch once
        # its events are handed out). It reads what came since its last run.
        billed = 0
        for _event in bus.consume(group="demo-billing", limit=100, wait=0.1, stop_at_end=True):
            billed += 1
        shards = bus.stats()["groups"][0]["assigned"]
        print(f"group demo-billing read {billed} new events from {len(shards)} shards")

        stats = bus.stats()
        print(f"read back {read} events; stats: published={stats['published']} "
              f"polled={stats['polled']} healthy={stats['healthy']}")
    print("closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
