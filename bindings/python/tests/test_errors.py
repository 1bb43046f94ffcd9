"""Each MeshError subclass, raised by a real call into the library."""

from __future__ import annotations

import threading
import time
import unittest
from typing import Any, Dict, List

import netmesh
from netmesh import _lib
from netmesh.errors import error_from_response
from _support import BusTestCase, raw_publish


class ErrorClassTest(BusTestCase):
    def assertMeshError(self, cm: Any, cls: type, code: str, fragment: str = "") -> None:
        err = cm.exception
        self.assertIs(type(err), cls)
        self.assertIsInstance(err, netmesh.MeshError)
        self.assertEqual(err.code, code)
        self.assertEqual(err.retryable, code == "transient")
        self.assertIn(fragment, err.message)
        self.assertIn(code, str(err))

    def test_invalid_argument(self) -> None:
        bus = self.open_bus(shards=4)
        cases = [
            (lambda: bus.poll(limit=0), "limit"),
            (lambda: bus.poll(limit=2**70), "limit"),  # huge ints go to the library
            (lambda: bus.poll(shard=-1), "shard"),
            (lambda: bus.poll(shard=2**64), "shard"),
            (lambda: bus.poll(cursor="not a cursor"), "cursor"),
            (lambda: bus.poll(start="middle"), "start"),
            (lambda: bus.poll(wait=-1), "wait_ms"),
            (lambda: bus.poll(wait=10**9), "wait_ms"),
            (lambda: bus.publish([1], batch_id="has space"), "batch_id"),
            (lambda: bus.publish([1, None]), "events[1]"),
            (lambda: bus.publish([netmesh.RawEvent("null")]), "events[0]"),
            (lambda: bus.publish([1], shard=4), "shard"),
            (lambda: bus.publish([1], timeout=0), "timeout_ms"),
            (lambda: bus.publish([{"n": 2**64}], shard=2**63), "shard"),
        ]
        for call, fragment in cases:
            with self.subTest(fragment=fragment):
                with self.assertRaises(netmesh.InvalidArgumentError) as cm:
                    call()
            self.assertMeshError(cm, netmesh.InvalidArgumentError, "invalid_argument", fragment)
        self.assertEqual(bus.stats()["errors"]["invalid_argument"], len(cases))
        self.assertEqual(len(bus.poll()), 0)  # nothing was stored

    def test_invalid_config(self) -> None:
        bad: List[Dict[str, Any]] = [{"shards": 0}, {"shards": "4"}, {"bogus": 1},
                                     {"max_request_bytes": 2**80}]
        for options in bad:
            with self.subTest(options=options), self.assertRaises(netmesh.InvalidArgumentError):
                netmesh.Bus(self.config(), **options)

    def test_too_large(self) -> None:
        bus = self.open_bus(max_request_bytes=1024)
        with self.assertRaises(netmesh.TooLargeError) as cm:
            bus.publish([{"blob": "x" * 2000}])
        self.assertMeshError(cm, netmesh.TooLargeError, "too_large", "max_request_bytes")
        # One event over the server's 1 MiB max_payload, in a request within limits.
        big = self.open_bus(self.config())
        with self.assertRaises(netmesh.TooLargeError) as cm:
            big.publish([1, "y" * (1 << 20) + "z"])
        self.assertMeshError(cm, netmesh.TooLargeError, "too_large", "events[1]")

    def test_invalid_handle_after_close(self) -> None:
        bus = netmesh.Bus(self.config())
        bus.close()
        for call in (lambda: bus.publish([1]), lambda: bus.poll(), bus.stats):
            with self.assertRaises(netmesh.InvalidHandleError) as cm:
                call()
            self.assertMeshError(cm, netmesh.InvalidHandleError, "invalid_handle", "not open")

    def test_close_is_idempotent_after_a_failed_close(self) -> None:
        """The first close reports its failure once; the handle is gone, so later
        closes return quietly."""
        bus = netmesh.Bus(self.config())
        _lib.library().shutdown(bus.handle)  # behind the Bus's back
        with self.assertRaises(netmesh.InvalidHandleError):
            bus.close()
        self.assertTrue(bus.closed)
        bus.close()
        bus.close()

    def test_shutdown_while_a_poll_waits(self) -> None:
        bus = netmesh.Bus(self.config())
        caught: list = []

        def waiter() -> None:
            try:
                bus.poll(wait=10, start="latest")
            except netmesh.MeshError as exc:
                caught.append(exc)

        thread = threading.Thread(target=waiter)
        thread.start()
        time.sleep(0.5)
        started = time.monotonic()
        bus.close()
        thread.join(10)
        self.assertFalse(thread.is_alive())
        self.assertLess(time.monotonic() - started, 5)
        self.assertEqual(len(caught), 1)
        self.assertIs(type(caught[0]), netmesh.ShutdownError)
        self.assertEqual(caught[0].code, "shutdown")
        self.assertFalse(caught[0].retryable)

    def test_connection(self) -> None:
        with self.assertRaises(netmesh.MeshConnectionError) as cm:
            netmesh.Bus(url="nats://127.0.0.1:1", connect_timeout_ms=500)
        self.assertMeshError(cm, netmesh.MeshConnectionError, "connection", "127.0.0.1:1")
        self.assertNotIsInstance(cm.exception, ConnectionError)  # the builtin is not shadowed

    def test_transient_when_the_server_goes_away(self) -> None:
        server = netmesh.Bus(self.config(listen="127.0.0.1:0"), shards=1)
        url = server.stats()["server"]["url"]
        client = self.open_bus({"url": url}, shards=1, connect_timeout_ms=1000)
        self.assertEqual(client.publish([1]).published, 1)
        server.close()
        with self.assertRaises(netmesh.TransientError) as cm:
            client.publish([2], timeout=0.3)
        self.assertMeshError(cm, netmesh.TransientError, "transient")
        with self.assertRaises(netmesh.TransientError) as cm:
            client.poll(timeout=0.3)
        self.assertTrue(cm.exception.retryable)

    def test_fatal_on_a_corrupt_record_and_skip_corrupt(self) -> None:
        bus = self.open_bus(self.config(listen="127.0.0.1:0"), shards=1)
        bus.publish([{"good": 1}])  # creates the stream of shard 0
        url = bus.stats()["server"]["url"]
        # A record netmesh never writes: "r" is null.
        ack = raw_publish(url, "netmesh.shard.0", b'{"r":null,"t":1,"s":0}')
        self.assertEqual(ack, {"stream": "netmesh_shard_0", "seq": 2, "duplicate": False})
        bus.publish([{"good": 2}])
        first = bus.poll()
        self.assertEqual([e.data for e in first], [{"good": 1}])  # the good prefix
        with self.assertRaises(netmesh.FatalError) as cm:
            bus.poll(cursor=first.next_cursor)
        self.assertMeshError(cm, netmesh.FatalError, "fatal", "corrupt")
        self.assertIn("seq 2", cm.exception.message)
        skipped = bus.poll(cursor=first.next_cursor, skip_corrupt=True)
        self.assertEqual([e.data for e in skipped], [{"good": 2}])
        self.assertEqual(skipped.skipped, 1)

    def test_unparseable_record_is_skipped(self) -> None:
        bus = self.open_bus(self.config(listen="127.0.0.1:0"), shards=1)
        bus.publish([1])
        url = bus.stats()["server"]["url"]
        raw_publish(url, "netmesh.shard.0", b"not json")
        bus.publish([2])
        result = bus.poll()
        self.assertEqual([e.data for e in result], [1, 2])
        self.assertEqual(result.skipped, 1)
        # The tool reports a message no stream stores rather than losing it.
        with self.assertRaisesRegex(RuntimeError, "no stream"):
            raw_publish(url, "nobody.stores.this", b"1", timeout=1.0)


class MappingTest(unittest.TestCase):
    """Every code string and status maps to its class (``internal`` cannot be
    provoked from outside: it is a recovered panic)."""

    TABLE = [
        (-1, "invalid_argument", netmesh.InvalidArgumentError),
        (-2, "invalid_handle", netmesh.InvalidHandleError),
        (-3, "connection", netmesh.MeshConnectionError),
        (-4, "transient", netmesh.TransientError),
        (-5, "fatal", netmesh.FatalError),
        (-6, "too_large", netmesh.TooLargeError),
        (-7, "shutdown", netmesh.ShutdownError),
        (-99, "internal", netmesh.InternalError),
    ]

    def test_from_error_object(self) -> None:
        for status, code, cls in self.TABLE:
            text = ('{"error":{"code":"%s","message":"m %s","retryable":%s}}'
                    % (code, code, "true" if code == "transient" else "false"))
            err = error_from_response(status, text)
            self.assertIs(type(err), cls)
            self.assertEqual((err.code, err.message, err.status), (code, f"m {code}", status))
            self.assertEqual(err.retryable, code == "transient")

    def test_from_status_alone(self) -> None:
        for status, code, cls in self.TABLE:
            err = error_from_response(status, None, "fallback")
            self.assertIs(type(err), cls)
            self.assertEqual(err.code, code)
            self.assertEqual(err.message, "fallback")
        unknown = error_from_response(-42, None, "unknown code")
        self.assertIs(type(unknown), netmesh.MeshError)


if __name__ == "__main__":
    unittest.main()
