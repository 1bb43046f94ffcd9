"""Bad Python inputs are refused before the library is called.

Policy: the binding checks Python *types* (TypeError, or ValueError for a
value that cannot be encoded as JSON at all: NaN, a lone surrogate); the
library checks *values* (ranges, formats), so a huge int is sent as JSON and
refused by the library with InvalidArgumentError (see test_errors).
"""

from __future__ import annotations

import unittest
from typing import Any, Callable, Dict, List, Type

import netmesh
from _support import BusTestCase


class BadInputTest(BusTestCase):
    def setUp(self) -> None:
        self.bus = self.open_bus(shards=2)

    def assertRefusedBeforeCall(self, exc: Type[Exception],
                                call: Callable[[], object]) -> None:
        """``call()`` raises ``exc``, and it is not a MeshError (the library was not called)."""
        with self.assertRaises(exc) as cm:
            call()
        self.assertNotIsInstance(cm.exception, netmesh.MeshError)

    def test_poll_argument_types(self) -> None:
        bus = self.bus
        # Deliberately wrong types: Any, so that the type checker lets them through.
        type_errors: List[Dict[str, Any]] = [
            dict(limit="100"), dict(limit=True), dict(limit=1.5), dict(limit=None),
            dict(shard=1.5), dict(shard="1"), dict(shard=False),
            dict(cursor=b"eyJ9"), dict(cursor=12),
            dict(wait="1"), dict(wait=True), dict(wait=[1]),
            dict(start=b"latest"), dict(skip_corrupt=1), dict(skip_corrupt="yes"),
            dict(timeout="5"),
        ]
        for kwargs in type_errors:
            with self.subTest(kwargs=kwargs):
                self.assertRefusedBeforeCall(TypeError, lambda: bus.poll(**kwargs))
        value_errors: List[Dict[str, Any]] = [
            dict(wait=float("nan")), dict(wait=float("inf")), dict(timeout=float("-inf"))]
        for kwargs in value_errors:
            with self.subTest(kwargs=kwargs):
                self.assertRefusedBeforeCall(ValueError, lambda: bus.poll(**kwargs))
        self.assertNoLibraryErrors(bus)
        self.assertEqual(bus.stats()["polled"], 0)

    def test_publish_argument_types(self) -> None:
        bus = self.bus
        type_errors: List[Dict[str, Any]] = [
            dict(shard=1.0), dict(shard="0"), dict(shard=True), dict(batch_id=123),
            dict(batch_id=b"abc"), dict(timeout="1"), dict(acks=1)]
        for kwargs in type_errors:
            with self.subTest(kwargs=kwargs):
                self.assertRefusedBeforeCall(TypeError, lambda: bus.publish([1], **kwargs))
        self.assertNoLibraryErrors(bus)

    def test_events_must_be_an_iterable_of_events(self) -> None:
        bus = self.bus
        # A str/bytes is never taken as an event list (it would be one event per
        # character), nor is a dict (its keys); non-iterables are refused too.
        for events in ('[{"a":1}]', b'[{"a":1}]', bytearray(b"[1]"), memoryview(b"[1]"),
                       {"a": 1}, 42, None, 1.5, netmesh.RawEvent("[1]")):
            with self.subTest(events=events):
                self.assertRefusedBeforeCall(
                    TypeError, lambda: bus.publish(events))  # type: ignore[arg-type]
        self.assertNoLibraryErrors(bus)
        self.assertEqual(bus.stats()["published"], 0)

    def test_events_that_are_not_json(self) -> None:
        bus = self.bus
        with self.assertRaisesRegex(TypeError, r"events\[1\]"):
            bus.publish([1, object()])
        with self.assertRaisesRegex(TypeError, r"events\[0\].*RawEvent"):
            bus.publish([b'{"a":1}'])
        with self.assertRaisesRegex(ValueError, r"events\[2\]"):
            bus.publish([1, 2, {"x": float("nan")}])
        with self.assertRaises(ValueError):  # a lone surrogate is not UTF-8
            bus.publish(["\ud800"])
        with self.assertRaises(TypeError):  # keys must be strings... or str()-able
            bus.publish([{(1, 2): "tuple key"}])

        def failing():  # type: ignore[no-untyped-def]
            yield 1
            raise RuntimeError("generator broke")

        with self.assertRaisesRegex(RuntimeError, "generator broke"):
            bus.publish(failing())
        self.assertNoLibraryErrors(bus)
        self.assertEqual(bus.stats()["published"], 0)

    def test_raw_event_checks_its_text(self) -> None:
        for bad in ("", "{", '{"a":1} {"b":2}', "NaN", "[1,]", "1 2"):
            with self.subTest(text=bad), self.assertRaises(ValueError):
                netmesh.RawEvent(bad)
        with self.assertRaises(TypeError):
            netmesh.RawEvent(123)  # type: ignore[arg-type]
        with self.assertRaises(UnicodeDecodeError):
            netmesh.RawEvent(b'"\xff"')
        # A request cannot be smuggled through a raw event.
        with self.assertRaises(ValueError):
            netmesh.RawEvent('1],"shard":1,"events":[2')

    def test_config_types(self) -> None:
        for config in ('{"shards":2}', b"{}", [("shards", 2)], 5):
            with self.subTest(config=config), self.assertRaises(TypeError):
                netmesh.Bus(config)  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            netmesh.Bus(self.config(), prefix=object())
        with self.assertRaises(ValueError):
            netmesh.Bus(self.config(), dedup_window_ms=float("nan"))

    def test_generator_of_events_is_accepted(self) -> None:
        bus = self.bus
        result = bus.publish({"i": i} for i in range(10))
        self.assertEqual(result.published, 10)
        self.assertEqual(sorted(e.data["i"] for e in bus.poll()), list(range(10)))

    def test_durations_round_up_to_milliseconds(self) -> None:
        from netmesh.bus import _ms_arg
        self.assertEqual(_ms_arg("t", 0), 0)
        self.assertEqual(_ms_arg("t", 0.0001), 1)
        self.assertEqual(_ms_arg("t", 0.007), 7)
        self.assertEqual(_ms_arg("t", 1.5), 1500)
        self.assertEqual(_ms_arg("t", 2), 2000)
        self.assertEqual(_ms_arg("t", -1), -1000)  # for the library to refuse


if __name__ == "__main__":
    unittest.main()
