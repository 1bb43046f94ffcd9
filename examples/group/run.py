"""The consumer group demo (make demo-group): a C, a Python and a Node process
are the three members of one group and share its six shards.

This Python process opens the bus with its embedded server listening on a
loopback port, starts the members (member.c compiled, member.py, member.js),
waits until each holds two shards, and publishes 3000 events {"n":0}..{"n":2999}.
Halfway it stops the C member with SIGTERM: that member commits its batch and
leaves, and the other two take its shards at once. The demo ends when every
event was handled exactly once (counted, and the sum of "n" checked).

    PYTHONPATH=bindings/python python3 examples/group/run.py MEMBER_BINARY [STORE_DIR]
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, List, Tuple

try:
    import netmesh
except ImportError:  # not installed: use the package in this repository
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", "..", "bindings", "python"))
    import netmesh

HERE = os.path.dirname(os.path.abspath(__file__))
GROUP = "demo"
EVENTS = 3000
WAVE = 100


class Member:
    """One member process; its report lines go to a shared queue."""

    def __init__(self, name: str, argv: List[str], lines: "queue.Queue[Tuple[str, str]]"):
        self.name = name
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        self.assigned = "?"
        self.handled = 0
        self.checksum = 0
        self.left = False
        threading.Thread(target=self._read, args=(lines,), daemon=True).start()

    def _read(self, lines: "queue.Queue[Tuple[str, str]]") -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            lines.put((self.name, line.strip()))


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    c_member = sys.argv[1]
    store_dir = sys.argv[2] if len(sys.argv) > 2 else "build/demo-group-data"
    shutil.rmtree(store_dir, ignore_errors=True)
    lines: "queue.Queue[Tuple[str, str]]" = queue.Queue()

    with netmesh.Bus(embedded={"store_dir": store_dir, "listen": "127.0.0.1:0",
                               "memory": True}, shards=6) as bus:
        url = bus.stats()["server"]["url"]
        print(f"python: embedded server listening on {url}; 6 shards; group {GROUP!r}")
        members: Dict[str, Member] = {}
        for name, argv in [("c", [c_member]),
                           ("py", [sys.executable, os.path.join(HERE, "member.py")]),
                           ("node", ["node", os.path.join(HERE, "member.js")])]:
            members[name] = Member(name, argv + [url, GROUP, name], lines)
        print("python: started members c, py and node")

        def pump(until: float) -> None:
            """Handle the members' report lines until the time `until`."""
            while True:
                left = until - time.monotonic()
                try:
                    name, line = lines.get(timeout=max(left, 0.001))
                except queue.Empty:
                    return
                m = members[name]
                kind, _, rest = line.partition(" ")
                if kind == "assigned":
                    m.assigned = rest
                    print(f"  {name:<4} holds shards {rest}")
                elif kind == "batch":
                    count, checksum = rest.split()
                    m.handled += int(count)
                    m.checksum += int(checksum)
                elif kind == "bye":
                    m.left = True
                    print(f"  {name:<4} left the group after {rest} events")

        def wait_for(what: str, cond: Callable[[], bool], seconds: float) -> bool:
            deadline = time.monotonic() + seconds
            while not cond():
                if time.monotonic() > deadline:
                    print(f"python: timed out waiting for {what}", file=sys.stderr)
                    return False
                pump(min(deadline, time.monotonic() + 0.1))
            return True

        ok = wait_for("the members to share the shards",
                      lambda: all(len(m.assigned.split(",")) == 2 for m in members.values()), 30)
        if ok:
            print("python: each member holds two shards; publishing "
                  f"{EVENTS} events in waves of {WAVE}")
            for start in range(0, EVENTS, WAVE):
                if start == EVENTS // 2:
                    print(f"python: {start} events published; stopping c with SIGTERM")
                    members["c"].proc.send_signal(signal.SIGTERM)
                bus.publish([{"n": n} for n in range(start, start + WAVE)])
                pump(time.monotonic() + 0.05)
            print(f"python: {EVENTS} events published")
            ok = wait_for("every event to be handled",
                          lambda: sum(m.handled for m in members.values()) >= EVENTS, 30)
        for m in members.values():
            if m.proc.poll() is None:
                m.proc.send_signal(signal.SIGTERM)
        wait_for("the members to leave",
                 lambda: all(m.left or m.proc.poll() is not None for m in members.values()), 30)
        for m in members.values():
            if m.proc.wait(timeout=30) != 0:
                print(f"python: member {m.name} exited with {m.proc.returncode}", file=sys.stderr)
                ok = False

    shutil.rmtree(store_dir, ignore_errors=True)
    handled = sum(m.handled for m in members.values())
    checksum = sum(m.checksum for m in members.values())
    split = ", ".join(f"{m.name} {m.handled}" for m in members.values())
    if ok and handled == EVENTS and checksum == EVENTS * (EVENTS - 1) // 2:
        print(f"group: all {EVENTS} events handled exactly once ({split})")
        return 0
    print(f"group: FAILED: {handled} events handled ({split}), sum of n {checksum}",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
