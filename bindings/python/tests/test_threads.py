"""Eight threads sharing one bus."""

from __future__ import annotations

import threading
import time
import unittest
from collections import Counter
from typing import List

from _support import BusTestCase

THREADS = 8
BATCHES = 20
PER_BATCH = 25


class ThreadsTest(BusTestCase):
    def test_eight_publishers_and_eight_readers(self) -> None:
        bus = self.open_bus(shards=THREADS)
        total = THREADS * BATCHES * PER_BATCH
        errors: List[BaseException] = []
        seen: Counter = Counter()
        seen_lock = threading.Lock()
        done_publishing = threading.Event()

        def publisher(t: int) -> None:
            try:
                for b in range(BATCHES):
                    events = [{"t": t, "b": b, "i": i} for i in range(PER_BATCH)]
                    result = bus.publish(events, batch_id=f"t{t}-b{b}")
                    assert result.published + result.duplicates == PER_BATCH
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)

        def reader(shard: int) -> None:
            # Each reader follows one shard's cursor while the publishers run.
            cursor = None
            try:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    batch = bus.poll(limit=50, cursor=cursor, shard=shard, wait=0.2)
                    cursor = batch.next_cursor
                    with seen_lock:
                        for event in batch:
                            assert event.shard == shard
                            seen[(event.data["t"], event.data["b"], event.data["i"])] += 1
                    if not batch.events and not batch.has_more and done_publishing.is_set():
                        return
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        readers = [threading.Thread(target=reader, args=(k,)) for k in range(THREADS)]
        publishers = [threading.Thread(target=publisher, args=(t,)) for t in range(THREADS)]
        for thread in readers + publishers:
            thread.start()
        for thread in publishers:
            thread.join(60)
        done_publishing.set()
        for thread in readers:
            thread.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(len(seen), total)
        self.assertEqual(set(seen.values()), {1})  # every event exactly once
        stats = bus.stats()
        self.assertEqual((stats["published"], stats["duplicates"]), (total, 0))

    def test_calls_run_in_parallel(self) -> None:
        """ctypes releases the GIL: eight 0.5 s waiting polls take ~0.5 s, not 4 s."""
        bus = self.open_bus(shards=1)
        start = time.monotonic()
        threads = [threading.Thread(target=bus.poll, kwargs={"wait": 0.5, "start": "latest"})
                   for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertLess(time.monotonic() - start, 2.0)


if __name__ == "__main__":
    unittest.main()
