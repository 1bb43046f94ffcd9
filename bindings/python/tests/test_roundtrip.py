"""Round trips through the library: publish, poll, cursors, stats, lookup."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from typing import List
from unittest import mock

import netmesh
from netmesh import _lib
from _support import BusTestCase


class RoundTripTest(BusTestCase):
    def test_publish_then_poll_returns_every_event_once(self) -> None:
        bus = self.open_bus(shards=4)
        events = [{"n": i, "name": f"event-{i}", "tags": ["a", "b"], "ok": i % 2 == 0}
                  for i in range(50)]
        result = bus.publish(events)
        self.assertIsInstance(result, netmesh.PublishResult)
        self.assertEqual((result.published, result.duplicates), (50, 0))
        self.assertIsNone(result.acks)

        seen = []
        cursor = None
        for _ in range(100):
            batch = bus.poll(limit=7, cursor=cursor)
            self.assertIsInstance(batch, netmesh.PollResult)
            self.assertLessEqual(len(batch.events), 7)
            seen.extend(batch.events)
            cursor = batch.next_cursor
            if not batch.events and not batch.has_more:
                break
        self.assertEqual(sorted(e.data["n"] for e in seen), list(range(50)))
        self.assertEqual(sorted(seen, key=lambda e: e.data["n"])[3].data, events[3])
        for event in seen:
            self.assertIsInstance(event.id, int)
            self.assertIsInstance(event.ts, int)
            self.assertIn(event.shard, range(4))
            self.assertGreater(event.ts, 1_600_000_000 * 10**9)
            self.assertAlmostEqual(event.timestamp, event.ts / 1e9)
        # Within a shard, ids increase.
        for shard in range(4):
            ids = [e.id for e in seen if e.shard == shard]
            self.assertEqual(ids, sorted(ids))
        self.assertNoLibraryErrors(bus)

    def test_json_values_of_every_kind_survive(self) -> None:
        bus = self.open_bus(shards=1)
        values = [{"a": {"b": [1, 2.5, None, True]}}, [1, "two"], "plain string", 42,
                  -1.25, True, False, {"big": 2**70, "neg": -(2**65)},
                  {"unicode": "h\u00e9llo \u2603 \U0001F600", "nul": "a\u0000b"}]
        bus.publish(values)
        got = [e.data for e in bus.poll(limit=100)]
        self.assertEqual(got, values)

    def test_raw_event_is_stored_as_given(self) -> None:
        bus = self.open_bus(shards=1)
        bus.publish([netmesh.RawEvent('  {"z": 1, "a": 2.50}\n'), netmesh.RawEvent(b"[1,2]"),
                     {"normal": True}])
        got = [e.data for e in bus.poll()]
        self.assertEqual(got, [{"z": 1, "a": 2.5}, [1, 2], {"normal": True}])
        self.assertEqual(list(got[0]), ["z", "a"])  # key order kept

    def test_shard_batch_id_acks_and_duplicates(self) -> None:
        bus = self.open_bus(shards=8)
        first = bus.publish([{"k": 1}, {"k": 2}], shard=5, batch_id="order-17", acks=True)
        self.assertEqual((first.published, first.duplicates), (2, 0))
        self.assertEqual([a.shard for a in first.acks or []], [5, 5])
        self.assertEqual([a.seq for a in first.acks or []], [1, 2])
        again = bus.publish([{"k": 1}, {"k": 2}], shard=5, batch_id="order-17", acks=True)
        self.assertEqual((again.published, again.duplicates), (0, 2))
        self.assertTrue(all(a.duplicate for a in again.acks or []))
        only = bus.poll(shard=5)
        self.assertEqual([e.data["k"] for e in only], [1, 2])
        self.assertEqual(len(bus.poll(shard=4)), 0)

    def test_start_latest_and_wait(self) -> None:
        bus = self.open_bus(shards=2)
        bus.publish([1, 2, 3])
        at_end = bus.poll(start="latest", limit=1)
        self.assertEqual(len(at_end), 0)
        bus.publish([4])
        after = bus.poll(cursor=at_end.next_cursor, wait=2)
        self.assertEqual([e.data for e in after], [4])
        empty = bus.poll(cursor=after.next_cursor, wait=0.2)
        self.assertEqual(len(empty), 0)
        self.assertFalse(empty.has_more)

    def test_publish_accepts_tuples_and_generators(self) -> None:
        bus = self.open_bus(shards=1)
        self.assertEqual(bus.publish((1, 2)).published, 2)
        self.assertEqual(bus.publish(x for x in range(3)).published, 3)
        self.assertEqual(bus.publish([]).published, 0)
        self.assertEqual([e.data for e in bus.poll()], [1, 2, 0, 1, 2])

    def test_stats_and_context_manager(self) -> None:
        with netmesh.Bus(self.config(), shards=3) as bus:
            bus.publish([1, 2])
            bus.poll()
            stats = bus.stats()
            self.assertEqual(stats["published"], 2)
            self.assertEqual(stats["polled"], 2)
            self.assertEqual(stats["shards"], 3)
            self.assertTrue(stats["embedded"])
            self.assertFalse(bus.closed)
        self.assertTrue(bus.closed)
        bus.close()  # closing again does nothing

    def test_options_merge_into_config(self) -> None:
        config = self.config()
        bus = self.open_bus(config, shards=2, prefix="merged")
        self.assertEqual(bus.stats()["prefix"], "merged")
        self.assertNotIn("shards", config)  # the caller's dict is not changed

    def test_version(self) -> None:
        version, abi = netmesh.library_version()
        self.assertRegex(version, r"^\d+\.\d+\.\d+")
        self.assertEqual(abi, netmesh.ABI_VERSION)


class FreeTest(BusTestCase):
    def test_every_string_the_library_returns_is_freed(self) -> None:
        lib = _lib.library()
        real_free = lib.cdll.mesh_free
        freed: List[int] = []

        def counting_free(ptr: int) -> None:
            freed.append(ptr)
            real_free(ptr)

        patcher = mock.patch.object(lib.cdll, "mesh_free", counting_free)
        patcher.start()
        self.addCleanup(patcher.stop)
        bus = netmesh.Bus(self.config())
        self.assertEqual(freed, [])  # success: error_out stays NULL
        bus.publish([1])
        bus.poll()
        with self.assertRaises(netmesh.InvalidArgumentError):
            bus.poll(limit=0)
        bus.stats()
        bus.close()  # NULL error_out
        with self.assertRaises(netmesh.InvalidHandleError):
            bus.stats()
        self.assertEqual(len(freed), 5)
        self.assertTrue(all(isinstance(p, int) and p for p in freed))


class LookupTest(unittest.TestCase):
    def test_env_var_wins_and_must_exist(self) -> None:
        with mock.patch.dict(os.environ, {"NETMESH_LIBRARY": "/nonexistent/libnetmesh.so"}):
            with self.assertRaises(netmesh.LibraryNotFoundError):
                netmesh.find_library()
        real = str(netmesh.find_library())
        with mock.patch.dict(os.environ, {"NETMESH_LIBRARY": real}):
            self.assertEqual(str(netmesh.find_library()), real)

    def test_order_next_to_package_then_system_then_build(self) -> None:
        with mock.patch.dict(os.environ, {}, clear=False):
            os.environ.pop("NETMESH_LIBRARY", None)
            paths = _lib.candidate_paths()
        package_dir = Path(netmesh.__file__).resolve().parent
        self.assertEqual(paths[0], package_dir / "libnetmesh.so")
        self.assertEqual(paths[1], Path("libnetmesh.so.0"))
        self.assertEqual(_lib.SONAME, "libnetmesh.so.0")
        self.assertEqual(paths[2], package_dir.parent / "build" / "libnetmesh.so")
        self.assertIn(package_dir.parents[2] / "build" / "libnetmesh.so", paths)

    def test_not_found_names_every_place(self) -> None:
        """Run where nothing can be found: a copy of the package outside the checkout."""
        with tempfile.TemporaryDirectory(prefix="netmesh-pytest-lookup-") as tmp:
            shutil.copytree(Path(netmesh.__file__).resolve().parent, Path(tmp) / "netmesh",
                            ignore=shutil.ignore_patterns("__pycache__", "libnetmesh.so*"))
            script = ("import netmesh\n"
                      "try:\n"
                      "    netmesh.find_library()\n"
                      "except netmesh.LibraryNotFoundError as exc:\n"
                      "    print(exc)\n")
            env = {k: v for k, v in os.environ.items()
                   if k not in ("NETMESH_LIBRARY", "LD_LIBRARY_PATH")}
            env["PYTHONPATH"] = tmp
            proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp,
                                  capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        message = proc.stdout
        if "not found" not in message:
            self.skipTest(f"a system libnetmesh.so.0 is installed: {message!r}")
        self.assertIn("NETMESH_LIBRARY (not set)", message)
        self.assertIn(str(Path(tmp).resolve() / "netmesh" / "libnetmesh.so"), message)
        self.assertIn("libnetmesh.so.0 through the dynamic loader", message)
        self.assertIn(str(Path(tmp).resolve() / "build" / "libnetmesh.so"), message)
        self.assertIn("/build/libnetmesh.so", message.split("libnetmesh.so.0 through")[1])


if __name__ == "__main__":
    unittest.main()
