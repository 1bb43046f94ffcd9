"""A consumer group member in Python, for core/groupproc_test.go (make group-test).

group_member.c and member.js do exactly the same in C and Node; the log format
and the signals are described in tests/group/README.md.

    PYTHONPATH=bindings/python python3 tests/group/member.py URL GROUP MEMBER LOG_FILE [STOP_FILE]

URL may also come from NETMESH_URL when the argument is "-". Environment (all
optional): MEMBER_SHARDS (16), MEMBER_REPLICAS (1), MEMBER_SESSION_MS (2000),
MEMBER_LIMIT (200), MEMBER_WAIT_MS (500).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any, List, Optional, TextIO

import netmesh

stop_requested = False


def on_stop_signal(signum: int, frame: Any) -> None:
    global stop_requested
    stop_requested = True


def ints(values: List[int]) -> str:
    return ",".join(str(k) for k in values) if values else "-"


class Member:
    def __init__(self, member: str, log: TextIO) -> None:
        self.member = member
        self.log = log

    def meta(self, what: str, rest: Optional[str] = None) -> None:
        tail = f" {rest}" if rest is not None else ""
        self.log.write(f"# {what} {self.member} {time.time_ns()}{tail}\n")
        self.log.flush()


def main() -> int:
    if not 5 <= len(sys.argv) <= 6:
        print(__doc__, file=sys.stderr)
        return 2
    url = os.environ.get("NETMESH_URL") if sys.argv[1] == "-" else sys.argv[1]
    group, member, log_path = sys.argv[2], sys.argv[3], sys.argv[4]
    stop_file = sys.argv[5] if len(sys.argv) > 5 else None
    if not url:
        print("member.py: no URL (argument or NETMESH_URL)", file=sys.stderr)
        return 2
    env = os.environ.get
    limit = int(env("MEMBER_LIMIT", "200"))
    wait = int(env("MEMBER_WAIT_MS", "500")) / 1000
    pause_file = log_path + ".pause"

    signal.signal(signal.SIGTERM, on_stop_signal)
    signal.signal(signal.SIGINT, on_stop_signal)

    with open(log_path, "a", encoding="utf-8") as log:
        m = Member(member, log)
        bus = netmesh.Bus(url=url, shards=int(env("MEMBER_SHARDS", "16")),
                          replicas=int(env("MEMBER_REPLICAS", "1")),
                          groups={"session_ms": int(env("MEMBER_SESSION_MS", "2000"))},
                          log_level="warn")
        m.meta("start")
        assigned: Optional[List[int]] = None
        status = 0
        try:
            while not stop_requested and not (stop_file and os.path.exists(stop_file)):
                try:
                    batch = bus.poll(limit=limit, group=group, member=member, wait=wait)
                except netmesh.TransientError as exc:  # a leader change, a timeout
                    print(f"member.py {member}: poll: {exc}", file=sys.stderr)
                    time.sleep(0.1)
                    continue
                returned = time.time_ns()
                if batch.assigned != assigned:
                    assigned = batch.assigned
                    log.write(f"# assigned {member} {returned} {ints(assigned or [])}\n")
                for e in batch.events:
                    log.write(f"{member} {e.shard} {e.id} {time.time_ns()}\n")
                log.flush()

                if batch.events and os.path.exists(pause_file):
                    os.unlink(pause_file)
                    m.meta("pause")
                    os.kill(os.getpid(), signal.SIGSTOP)

                result = None
                for attempt in range(6):
                    try:
                        result = bus.commit(batch.next_cursor, group=group)
                        break
                    except netmesh.TransientError as exc:
                        print(f"member.py {member}: commit: {exc}", file=sys.stderr)
                        time.sleep(0.1)
                if result is None:
                    continue  # the next batch's commit covers this one
                m.meta("commit", f"{ints(result.committed)} {ints(result.revoked)}")
                if result.revoked:
                    assigned = None  # those shards are gone: log the next assignment
        except netmesh.MeshError as exc:
            print(f"member.py {member}: {exc!r}", file=sys.stderr)
            status = 1
        m.meta("stop")
        try:
            bus.close()
        except netmesh.MeshError as exc:
            print(f"member.py {member}: close: {exc!r}", file=sys.stderr)
            status = 1
        m.meta("exit")
    return status


if __name__ == "__main__":
    sys.exit(main())
