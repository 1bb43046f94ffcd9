"""The polyglot demo (make demo-polyglot): three languages sharing one bus.

This Python process opens the bus with its embedded server listening on a
loopback port and publishes an event with a unique marker; then the Node
example (in its --url mode) and a C program connect to that port as ordinary
NATS clients, each finds the marker and prints it. The demo checks that both did.

    PYTHONPATH=bindings/python python3 examples/polyglot/run.py POLL_BINARY [STORE_DIR]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid

try:
    import netmesh
except ImportError:  # not installed: use the package in this repository
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", "..", "bindings", "python"))
    import netmesh

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_EXAMPLE = os.path.relpath(os.path.join(HERE, "..", "node", "example.js"))


def run(name: str, argv: list[str], marker: str) -> bool:
    print(f"$ {' '.join(argv)}", flush=True)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    ok = proc.returncode == 0 and f"found marker {marker}" in proc.stdout
    print(f"{name}: {'OK' if ok else f'FAILED (exit {proc.returncode})'}", flush=True)
    return ok


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    poll_binary = sys.argv[1]
    store_dir = sys.argv[2] if len(sys.argv) > 2 else "build/demo-polyglot-data"
    shutil.rmtree(store_dir, ignore_errors=True)  # a fresh store: the marker is the only event
    marker = f"polyglot-{uuid.uuid4().hex[:12]}"

    # Port 0: the server picks a free loopback port; stats() tells which.
    with netmesh.Bus(embedded={"store_dir": store_dir, "listen": "127.0.0.1:0"}) as bus:
        url = bus.stats()["server"]["url"]
        print(f"python: embedded server listening on {url}")
        result = bus.publish([{"marker": marker, "from": "python", "pid": os.getpid()}],
                             batch_id=marker, acks=True)
        ack = result.acks[0] if result.acks else None
        print(f"python: published marker {marker}"
              + (f" (shard {ack.shard}, id {ack.seq})" if ack else ""), flush=True)

        node_ok = run("node", ["node", NODE_EXAMPLE, "--url", url, "--find", marker], marker)
        c_ok = run("c", [poll_binary, url, marker], marker)

    shutil.rmtree(store_dir, ignore_errors=True)
    if node_ok and c_ok:
        print("polyglot: the event published from Python was read from Node and from C")
        return 0
    print("polyglot: FAILED", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
