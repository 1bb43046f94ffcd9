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
WAIT = 0.5  # seconds each poll of test_calls_run_in_parallel waits


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
        """ctypes releases the GIL: eight 0.5 s waiting polls take ~0.5 s, not 4 s.

        Each poll must wait out its ``wait`` on the idle bus (so the whole takes
        at least WAIT) and return empty without raising; together they must take
        well under THREADS * WAIT, which only overlapping calls can do.
        """
        bus = self.open_bus(shards=1)
        errors: List[BaseException] = []
        results: List[int] = []
        lock = threading.Lock()

        def poller() -> None:
            try:
                batch = bus.poll(wait=WAIT, start="latest")
                with lock:
                    results.append(len(batch.events))
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                with lock:
                    errors.append(exc)

        threads = [threading.Thread(target=poller) for _ in range(THREADS)]
        start = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        elapsed = time.monotonic() - start
        self.assertFalse(any(thread.is_alive() for thread in threads), "a poll never returned")
        if errors:  # a thread's exception is lost unless re-raised here
            raise AssertionError(f"{len(errors)} of {THREADS} polls raised: {errors!r}") \
                from errors[0]
        self.assertEqual(results, [0] * THREADS)
        # Each poll waited its full WAIT on the idle bus...
        self.assertGreaterEqual(elapsed, WAIT)
        # ...and they overlapped: run one after another they would take THREADS * WAIT.
        self.assertLess(elapsed, WAIT * THREADS / 2)


if __name__ == "__main__":
    unittest.main()
