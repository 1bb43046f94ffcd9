"""consume() follows the cursor, waits, and stops cleanly."""

from __future__ import annotations

import threading
import time
import unittest
from typing import List

import netmesh
from _support import BusTestCase


class ConsumeTest(BusTestCase):
    def test_follows_the_cursor_and_stops_at_end(self) -> None:
        bus = self.open_bus(shards=3)
        bus.publish([{"n": i} for i in range(250)])
        got = [e.data["n"] for e in bus.consume(limit=40, wait=0.1, stop_at_end=True)]
        self.assertEqual(sorted(got), list(range(250)))

    def test_waits_for_new_events(self) -> None:
        bus = self.open_bus(shards=2)

        def later() -> None:
            time.sleep(0.3)
            bus.publish([{"late": 1}])

        thread = threading.Thread(target=later)
        thread.start()
        gen = bus.consume(wait=5)
        started = time.monotonic()
        event = next(gen)
        self.assertEqual(event.data, {"late": 1})
        self.assertLess(time.monotonic() - started, 4)
        gen.close()
        thread.join()

    def test_closing_the_generator_stops_it(self) -> None:
        bus = self.open_bus(shards=1)
        bus.publish(list(range(10)))
        gen = bus.consume(limit=3, wait=0.1)
        self.assertEqual([next(gen).data for _ in range(4)], [0, 1, 2, 3])
        gen.close()
        with self.assertRaises(StopIteration):
            next(gen)
        # break out of a for loop: the bus is still usable.
        for event in bus.consume(limit=3, wait=0.1):
            if event.data == 5:
                break
        self.assertEqual(len(bus.poll()), 10)

    def test_closing_the_bus_from_another_thread_ends_it(self) -> None:
        bus = netmesh.Bus(self.config(), shards=2)
        bus.publish([1, 2])
        got: List[int] = []
        errors: List[BaseException] = []
        finished = threading.Event()

        def consumer() -> None:
            try:
                for event in bus.consume(wait=30):
                    got.append(event.data)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            finished.set()

        thread = threading.Thread(target=consumer)
        thread.start()
        time.sleep(0.5)  # the consumer read both and now waits in a poll
        started = time.monotonic()
        bus.close()
        self.assertTrue(finished.wait(10))
        thread.join()
        self.assertLess(time.monotonic() - started, 5)
        self.assertEqual(errors, [])
        self.assertEqual(sorted(got), [1, 2])

    def test_closing_the_bus_between_events_ends_it(self) -> None:
        bus = netmesh.Bus(self.config(), shards=1)
        bus.publish([1, 2, 3])
        got = []
        for event in bus.consume(limit=1, wait=0.1):
            got.append(event.data)
            bus.close()
        self.assertEqual(got, [1])

    def test_batches_resume_from_a_saved_cursor(self) -> None:
        bus = self.open_bus(shards=2)
        bus.publish(list(range(20)))
        batches = bus.consume_batches(limit=8, wait=0.1)
        first = next(batches)
        batches.close()
        rest = [e.data for e in bus.consume(cursor=first.next_cursor, wait=0.1, stop_at_end=True)]
        self.assertEqual(sorted([e.data for e in first] + rest), list(range(20)))

    def test_errors_other_than_close_propagate(self) -> None:
        bus = self.open_bus()
        with self.assertRaises(netmesh.InvalidArgumentError):
            next(bus.consume(cursor="garbage"))
        with self.assertRaises(TypeError):  # checked when consume() is called
            bus.consume(limit="10")  # type: ignore[arg-type]


if __name__ == "__main__":
    unittest.main()
