"""Consumer groups: group polls, commit, and consume(group=...) committing."""

from __future__ import annotations

from typing import Any, Dict, List

import netmesh
from _support import BusTestCase


def numbers(events: List[netmesh.Event]) -> List[int]:
    return [e.data["n"] for e in events]


class GroupTestCase(BusTestCase):
    def file_config(self, **options: Any) -> Dict[str, Any]:
        """File storage, so a new bus on the same store sees the group's positions."""
        return {"embedded": {"store_dir": self.store_dir()}, **options}

    def group_stats(self, bus: netmesh.Bus, group: str) -> Dict[str, Any]:
        for g in bus.stats().get("groups", []):
            if g["group"] == group:
                result: Dict[str, Any] = g
                return result
        self.fail(f"stats has no group {group!r}")


class ResumeTest(GroupTestCase):
    def test_a_new_bus_resumes_the_group_by_name(self) -> None:
        config = self.file_config()
        with netmesh.Bus(config) as bus:
            bus.publish([{"n": i} for i in range(1000)])
            first: List[int] = []
            for _ in range(4):
                batch = bus.poll(limit=100, group="billing")
                self.assertEqual(batch.assigned, list(range(16)))  # a lone member holds all
                first += numbers(batch.events)
                result = bus.commit(batch.next_cursor, "billing")
                self.assertEqual(result.revoked, [])
                self.assertTrue(result.committed)
            self.assertEqual(len(first), 400)
            self.assertEqual(len(set(first)), 400)
        with netmesh.Bus(config) as bus:
            rest = numbers(list(bus.consume(group="billing", wait=0.1, stop_at_end=True)))
        self.assertEqual(len(rest), 600)
        self.assertEqual(len(set(rest)), 600, "an event was read twice")
        self.assertEqual(set(first) & set(rest), set(), "an event was read twice")
        self.assertEqual(set(first) | set(rest), set(range(1000)))

    def test_auto_commit_commits_the_previous_poll(self) -> None:
        bus = self.open_bus(shards=1)
        bus.publish([{"n": i} for i in range(30)])
        bus.poll(limit=10, group="g", auto_commit=True)  # nothing before it to commit
        self.assertEqual(self.group_stats(bus, "g")["shards"][0]["committed"], "0")
        bus.poll(limit=10, group="g", auto_commit=True)  # commits the first poll's cursor
        self.assertEqual(self.group_stats(bus, "g")["shards"][0]["committed"], "10")


class ConsumeTest(GroupTestCase):
    def test_consume_commits_what_it_handed_out(self) -> None:
        config = self.file_config(shards=4)
        with netmesh.Bus(config) as bus:
            bus.publish([{"n": i} for i in range(250)])
            got = numbers(list(bus.consume(limit=40, group="g", wait=0.1, stop_at_end=True)))
            self.assertEqual(sorted(got), list(range(250)))
        with netmesh.Bus(config) as bus:
            self.assertEqual(len(bus.poll(limit=1000)), 250)  # the events are still there
            batch = bus.poll(limit=1000, group="g")
            self.assertEqual(batch.events, [])
            self.assertFalse(batch.has_more)
            self.assertEqual(batch.assigned, [0, 1, 2, 3])

    def test_commits_only_complete_batches(self) -> None:
        config = self.file_config(shards=1)
        with netmesh.Bus(config) as bus:
            bus.publish([{"n": i} for i in range(30)])
            gen = bus.consume(limit=10, group="g", wait=0.1)
            self.assertEqual([next(gen).data["n"] for _ in range(10)], list(range(10)))
            gen.close()  # right after a batch's last event: it is committed
            self.assertEqual(self.group_stats(bus, "g")["shards"][0]["committed"], "10")
            gen = bus.consume(limit=10, group="g", wait=0.1)
            self.assertEqual([next(gen).data["n"] for _ in range(5)], list(range(10, 15)))
            gen.close()  # in the middle of a batch: nothing is committed
            self.assertEqual(self.group_stats(bus, "g")["shards"][0]["committed"], "10")
        with netmesh.Bus(config) as bus:  # the group reads the unfinished batch again
            rest = numbers(list(bus.consume(group="g", wait=0.1, stop_at_end=True)))
        self.assertEqual(rest, list(range(10, 30)))

    def test_consume_batches_commits_on_resume_and_close(self) -> None:
        bus = self.open_bus(shards=1)
        bus.publish([{"n": i} for i in range(30)])
        batches = bus.consume_batches(limit=10, group="g", member="worker-1", wait=0.1)
        first = next(batches)
        self.assertEqual(first.assigned, [0])
        stats = self.group_stats(bus, "g")
        self.assertEqual((stats["member"], stats["shards"][0]["committed"]), ("worker-1", "0"))
        second = next(batches)  # resuming commits the first batch
        self.assertEqual(numbers(second.events), list(range(10, 20)))
        self.assertEqual(self.group_stats(bus, "g")["shards"][0]["committed"], "10")
        batches.close()  # closing while holding a whole batch commits it
        self.assertEqual(self.group_stats(bus, "g")["shards"][0]["committed"], "20")
        self.assertNoLibraryErrors(bus)

    def test_closing_the_bus_between_events_ends_it(self) -> None:
        bus = netmesh.Bus(self.config(), shards=1)
        bus.publish([1, 2, 3])
        got = []
        for event in bus.consume(limit=1, group="g", wait=0.1):
            got.append(event.data)
            bus.close()  # the commit after this event finds the bus closed: no error
        self.assertEqual(got, [1])

    def test_without_group_nothing_changes(self) -> None:
        bus = self.open_bus(shards=2)
        bus.publish(list(range(20)))
        batch = next(bus.consume_batches(limit=5, wait=0.1))
        self.assertIsNone(batch.assigned)
        self.assertNotIn("groups", bus.stats())


class BadInputTest(GroupTestCase):
    def test_group_poll_refusals(self) -> None:
        bus = self.open_bus(shards=2)
        bus.publish(list(range(10)))
        plain = bus.poll(limit=5)
        refused: List[Dict[str, Any]] = [
            {"group": "g", "cursor": plain.next_cursor}, {"group": "g", "shard": 1},
            {"member": "m"}, {"auto_commit": True}, {"group": "a.b"}, {"group": ""},
            {"group": "g", "member": "x y"}]
        for kwargs in refused:
            with self.subTest(**kwargs), self.assertRaises(netmesh.InvalidArgumentError) as cm:
                bus.poll(**kwargs)
            self.assertEqual(cm.exception.code, "invalid_argument")
        with self.assertRaises(netmesh.InvalidArgumentError):
            next(bus.consume(group="g", cursor=plain.next_cursor))
        with self.assertRaises(netmesh.InvalidArgumentError):
            next(bus.consume_batches(group="g", shard=0))
        with self.assertRaises(netmesh.InvalidArgumentError):
            next(bus.consume(member="m"))

    def test_commit_refusals(self) -> None:
        bus = self.open_bus(shards=2)
        bus.publish(list(range(10)))
        plain = bus.poll(limit=5)
        with self.assertRaisesRegex(netmesh.InvalidArgumentError, "not a member"):
            bus.commit(plain.next_cursor, "g")  # before polling the group
        group = bus.poll(limit=5, group="g")
        other = bus.poll(limit=5, group="h")
        for cursor, name in ((plain.next_cursor, "g"), (other.next_cursor, "g"),
                             ("garbage", "g"), (group.next_cursor, "h"),
                             (group.next_cursor, "")):
            with self.subTest(cursor=cursor, group=name), \
                    self.assertRaises(netmesh.InvalidArgumentError):
                bus.commit(cursor, name)
        with self.assertRaisesRegex(netmesh.InvalidArgumentError, "one handle is one member"):
            bus.poll(group="g", member="other")
        for shard in self.group_stats(bus, "g")["shards"]:
            self.assertEqual(shard["committed"], "0", "a refused commit stored something")

    def test_type_errors_before_the_call(self) -> None:
        bus = self.open_bus(shards=2)
        with self.assertRaises(TypeError):
            bus.poll(group=1)  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            bus.poll(group="g", member=b"m")  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            bus.poll(group="g", auto_commit=1)  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            bus.commit(None, "g")  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            bus.commit("x", None)  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            bus.commit("x", "g", timeout="1")  # type: ignore[arg-type]
        with self.assertRaises(TypeError):  # checked when consume() is called
            bus.consume(group=["g"])  # type: ignore[arg-type]
        self.assertNoLibraryErrors(bus)


class TypesTest(GroupTestCase):
    def test_result_types(self) -> None:
        bus = self.open_bus(shards=3)
        bus.publish([{"n": i} for i in range(9)])
        self.assertIsNone(bus.poll().assigned)
        batch = bus.poll(group="g", limit=4)
        self.assertIsInstance(batch, netmesh.PollResult)
        assert batch.assigned is not None
        self.assertEqual(batch.assigned, [0, 1, 2])
        self.assertTrue(all(type(k) is int for k in batch.assigned))
        self.assertEqual(len(batch), 4)
        result = bus.commit(batch.next_cursor, "g", timeout=5)
        self.assertIsInstance(result, netmesh.CommitResult)
        self.assertEqual(result.committed, [0, 1, 2])
        self.assertEqual(result.revoked, [])
        self.assertTrue(all(type(k) is int for k in result.committed))
        stats = self.group_stats(bus, "g")
        self.assertEqual(stats["assigned"], [0, 1, 2])
        self.assertEqual([s["shard"] for s in stats["shards"]], [0, 1, 2])
        self.assertEqual(sum(int(s["committed"]) for s in stats["shards"]), 4)
        self.assertTrue(all(type(s["lag"]) is int and s["lag"] >= 0 for s in stats["shards"]))

    def test_groups_config(self) -> None:
        bus = self.open_bus(self.config(), groups={"session_ms": 1000})
        self.assertEqual(bus.poll(group="g").assigned, list(range(16)))
        with self.assertRaises(netmesh.InvalidArgumentError):
            netmesh.Bus(self.config(), groups={"session_ms": 999})
        with self.assertRaises(netmesh.InvalidArgumentError):
            netmesh.Bus(self.config(), groups={"session": 1000})


if __name__ == "__main__":
    import unittest
    unittest.main()
