"""A consumer group member in Python (examples/group): poll the group, handle
the batch, commit it; stop on SIGTERM, which commits the batch in hand and
leaves the group (closing the bus hands this member's shards to the others).

    PYTHONPATH=bindings/python python3 examples/group/member.py URL GROUP NAME

It reports to run.py on stdout, one line each: ``assigned K,K,..|-`` when its
shards change, ``batch COUNT SUM`` per handled batch (the sum of the events'
"n"), ``bye TOTAL`` when it left.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any, List, Optional

try:
    import netmesh
except ImportError:  # not installed: use the package in this repository
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", "..", "bindings", "python"))
    import netmesh

stopping = False


def on_sigterm(signum: int, frame: Any) -> None:
    global stopping
    stopping = True


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    url, group, name = sys.argv[1:]
    signal.signal(signal.SIGTERM, on_sigterm)
    total = 0
    assigned: Optional[List[int]] = None
    with netmesh.Bus(url=url, shards=6) as bus:
        while not stopping:
            batch = bus.poll(group=group, member=name, limit=100, wait=0.5)
            if batch.assigned != assigned:
                assigned = batch.assigned
                print("assigned " + (",".join(map(str, assigned)) if assigned else "-"),
                      flush=True)
            if not batch.events:
                continue
            # Handle the batch (here: add up "n"), then commit it.
            total += len(batch.events)
            checksum = sum(e.data["n"] for e in batch.events)
            bus.commit(batch.next_cursor, group=group)
            print(f"batch {len(batch.events)} {checksum}", flush=True)
    print(f"bye {total}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
