"""The :class:`Bus`: one open handle of libnetmesh."""

from __future__ import annotations

import json
import math
import operator
import os
import threading
from collections.abc import Iterable, Mapping
from itertools import islice
from typing import Any, Dict, Generator, List, Optional, Union

from ._lib import library
from .errors import InvalidHandleError, ShutdownError
from .types import Ack, CommitResult, Event, PollResult, PublishResult, RawEvent

__all__ = ["Bus"]

Seconds = Union[int, float]
#: What :meth:`Bus.consume` and :meth:`Bus.consume_batches` return: generators,
#: so ``close()`` stops them.
EventGenerator = Generator[Event, None, None]
BatchGenerator = Generator[PollResult, None, None]

_TEXT_TYPES = (str, bytes, bytearray, memoryview)


# One encoder, reused: json.dumps with non-default options builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _dumps(obj: Any) -> str:
    """Compact JSON, UTF-8 as is; NaN and infinities are a ValueError."""
    return _ENCODER.encode(obj)


def _int_arg(name: str, value: Any) -> Optional[int]:
    """An optional integer argument: ``None`` or an ``int`` (not ``bool``).

    Only the type is checked here; the range is the library's to check, so
    out-of-range values (negative, huge) raise ``InvalidArgumentError``.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got bool")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(value).__name__}") from None


def _str_arg(name: str, value: Any) -> Optional[str]:
    """An optional ``str`` argument (``bytes`` is refused)."""
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"{name} must be a str, got {type(value).__name__}")


def _ms_arg(name: str, seconds: Any) -> Optional[int]:
    """Seconds (int or float) to whole milliseconds, rounding up a fraction.

    ``0.0001`` becomes 1 ms rather than 0; negative or too large values are
    passed on for the library to reject with ``InvalidArgumentError``.
    """
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{name} must be a number of seconds (int or float), "
                        f"got {type(seconds).__name__}")
    if isinstance(seconds, int):
        return seconds * 1000
    if not math.isfinite(seconds):
        raise ValueError(f"{name} must be finite, got {seconds!r}")
    return math.ceil(round(seconds * 1000, 6))


def _encode_event_array(events: Any) -> str:
    """The events as one JSON array; raises TypeError/ValueError naming an index.

    A list or tuple of plain JSON values is encoded in one call of the C
    encoder; anything else (RawEvent, bytes, another iterable, an error to
    report by index) goes event by event.
    """
    if type(events) in (list, tuple):
        try:
            return _ENCODER.encode(events)
        except (TypeError, ValueError):
            pass  # RawEvent, bytes or a bad event: the slow path names it
    return "[" + ",".join(_encode_events(events)) + "]"


def _encode_events(events: Any) -> List[str]:
    """Each event as JSON text; raises TypeError/ValueError naming its index."""
    if isinstance(events, _TEXT_TYPES) or isinstance(events, Mapping):
        raise TypeError(f"events must be a list (or other iterable) of events, "
                        f"got {type(events).__name__}; wrap one event in a list, "
                        f"and use RawEvent for pre-encoded JSON")
    if not isinstance(events, Iterable):
        raise TypeError(f"events must be a list (or other iterable) of events, "
                        f"got {type(events).__name__}")
    parts: List[str] = []
    for i, event in enumerate(events):
        if isinstance(event, RawEvent):
            parts.append(event.text)
            continue
        if isinstance(event, (bytes, bytearray, memoryview)):
            raise TypeError(f"events[{i}] is {type(event).__name__}; "
                            f"use RawEvent(...) for pre-encoded JSON")
        try:
            parts.append(_dumps(event))
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"events[{i}]: {exc}") from None
    return parts


def _bool_arg(name: str, value: Any) -> Optional[bool]:
    """An optional ``bool`` argument (``0``/``1`` are refused)."""
    if value is None or isinstance(value, bool):
        return value
    raise TypeError(f"{name} must be a bool, got {type(value).__name__}")


def _event(obj: Dict[str, Any]) -> Event:
    return Event(id=int(obj["id"]), shard=obj["shard"], ts=int(obj["ts"]), data=obj["raw"])


def _ints(values: Any) -> List[int]:
    return [int(k) for k in values]


class _Handout:
    """How far :meth:`Bus.consume` has handed out the current batch.

    ``complete`` is true once the batch's last event was handed out (always,
    for :meth:`Bus.consume_batches`, which hands out whole batches): a group
    consume closed in that state commits the batch, one closed in the middle
    of a batch does not.
    """

    __slots__ = ("complete",)

    def __init__(self) -> None:
        self.complete = True


class Bus:
    """An open netmesh bus (one handle of libnetmesh).

    ``config`` is the configuration object (``docs/reference.md``, "Config");
    keyword options are merged into a copy of it (top level only), so these
    are the same::

        Bus({"embedded": {"store_dir": "data"}, "shards": 4})
        Bus(embedded={"store_dir": "data"}, shards=4)

    With neither ``url`` nor ``embedded`` the embedded server uses
    ``./netmesh-data``.  Use it as a context manager, or call :meth:`close`.

    Every method may be called from any thread at the same time; the calls
    release the GIL while the library works.  A ``Bus`` belongs to the process
    that opened it: used in a forked child, it raises
    :class:`~netmesh.InvalidHandleError` without calling the library (the
    child must open its own).

    Arguments are type-checked here (``TypeError``/``ValueError`` before any
    call); values (ranges, formats) are checked by the library, which raises
    :class:`~netmesh.InvalidArgumentError` naming the field.  Durations given
    to the methods are in seconds (int or float), sent as whole milliseconds
    rounded up (config fields keep their ``*_ms`` names and units).

    Raises:
        MeshError: a subclass for the library's error code, e.g.
            InvalidArgumentError for a bad config, MeshConnectionError when
            ``url`` cannot be reached.
    """

    def __init__(self, config: Optional[Mapping[str, Any]] = None, **options: Any) -> None:
        self._closed = True
        self._handle = 0
        self._pid = os.getpid()
        self._lock = threading.Lock()
        if config is None:
            merged: Dict[str, Any] = {}
        elif isinstance(config, Mapping):
            merged = dict(config)
        else:
            raise TypeError(f"config must be a mapping (dict) or None, "
                            f"got {type(config).__name__}")
        merged.update(options)
        encoded = _dumps(merged).encode("utf-8")
        self._lib = library()
        self._handle = self._lib.init(encoded)
        self._closed = False

    # -- lifecycle -----------------------------------------------------------

    def __enter__(self) -> "Bus":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if not self._closed and os.getpid() == self._pid:
                self.close()
        except Exception:  # never raise from a finalizer
            pass

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"handle={self._handle}"
        return f"<netmesh.Bus {state}>"

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    @property
    def handle(self) -> int:
        """The library handle (a ``uint64``); for diagnostics only."""
        return self._handle

    def close(self) -> None:
        """Shut the bus down (drains, then releases the embedded server when
        its last user goes).  Calls racing it in other threads end with
        :class:`~netmesh.ShutdownError`; later calls raise
        :class:`~netmesh.InvalidHandleError`.  Closing again does nothing.

        In a forked child this only forgets the handle: the parent's bus is
        not touched.

        Raises:
            TransientError: the drain timed out (everything is released anyway).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if os.getpid() != self._pid:
            return
        self._lib.shutdown(self._handle)

    def _check_process(self) -> None:
        pid = os.getpid()
        if pid != self._pid:
            raise InvalidHandleError(
                f"this Bus was opened in process {self._pid}; a forked child "
                f"(process {pid}) must open its own Bus",
                code="invalid_handle", retryable=False)

    # -- calls ---------------------------------------------------------------

    def publish(self, events: Iterable[Any], shard: Optional[int] = None,
                batch_id: Optional[str] = None, timeout: Optional[Seconds] = None,
                acks: bool = False) -> PublishResult:
        """Store a batch of events; returns once every one is acknowledged.

        The request and its limits: ``docs/reference.md``, "Publish".

        Args:
            events: Any iterable of JSON-serialisable objects (a list, tuple,
                generator...), each encoded with :func:`json.dumps`, or
                :class:`RawEvent` for pre-encoded JSON stored byte for byte.
                A ``str``, ``bytes`` or ``dict`` is refused (``TypeError``):
                pass ``[event]`` for a single event.  ``None`` events are
                refused by the library (``InvalidArgumentError``).
            shard: Put every event in this shard (default: route by hash).
            batch_id: ``[A-Za-z0-9_.:-]{1,128}``; a retry of the same request
                with the same id is stored exactly once within the dedup window.
            timeout: Seconds for the whole publish, including internal retries.
            acks: Return where each event was stored in ``PublishResult.acks``.

        Raises:
            TypeError, ValueError: wrong argument types, an event that is not
                JSON-serialisable (message names its index).
            InvalidArgumentError, TooLargeError: nothing was stored.
            TransientError: retry the same call (with ``batch_id``: exactly once).
        """
        array = _encode_event_array(events)
        rest: Dict[str, Any] = {}
        shard_i = _int_arg("shard", shard)
        if shard_i is not None:
            rest["shard"] = shard_i
        if _str_arg("batch_id", batch_id) is not None:
            rest["batch_id"] = batch_id
        timeout_ms = _ms_arg("timeout", timeout)
        if timeout_ms is not None:
            rest["timeout_ms"] = timeout_ms
        if not isinstance(acks, bool):
            raise TypeError(f"acks must be a bool, got {type(acks).__name__}")
        if acks:
            rest["acks"] = True
        tail = _dumps(rest)[1:]  # '}' or '"shard":1,...}'
        request = '{"events":' + array + ("" if tail == "}" else ",") + tail
        self._check_process()
        resp = json.loads(self._lib.publish(self._handle, request.encode("utf-8")))
        ack_list = None
        if resp.get("acks") is not None:
            ack_list = [Ack(shard=a["shard"], seq=int(a["seq"]), duplicate=a["duplicate"])
                        for a in resp["acks"]]
        return PublishResult(published=resp["published"], duplicates=resp["duplicates"],
                             acks=ack_list)

    def poll(self, limit: int = 100, cursor: Optional[str] = None,
             shard: Optional[int] = None, wait: Optional[Seconds] = None,
             start: Optional[str] = None, skip_corrupt: bool = False,
             timeout: Optional[Seconds] = None, *, group: Optional[str] = None,
             member: Optional[str] = None,
             auto_commit: Optional[bool] = None) -> PollResult:
        """Read up to ``limit`` events after ``cursor``, or as a member of a
        consumer group.

        The request, the cursor and the result: ``docs/reference.md``, "Poll".

        With ``group``, the poll reads the shards the group assigns to this
        member, from the group's committed positions (or from where this
        member's own previous polls got to); ``cursor`` and ``shard`` are
        refused (``InvalidArgumentError``).  The result's ``assigned`` lists
        the shards this member holds, and its ``next_cursor`` is what
        :meth:`commit` takes to store the group's positions.

        Args:
            limit: 1..10000 events.
            cursor: A ``next_cursor`` from an earlier poll; ``None`` starts
                every shard where ``start`` says.
            shard: Read this shard only (default: all, filled fairly).
            wait: Seconds an empty poll waits for the first new event.
            start: ``"earliest"`` (default) or ``"latest"``, for shards the
                cursor does not hold.
            skip_corrupt: Skip structurally corrupt records (counted in
                ``skipped``) instead of raising ``FatalError``.
            timeout: Seconds each server request may take.
            group: Poll as a member of this consumer group
                (``[A-Za-z0-9_-]{1,64}``).
            member: This member's id in the group (same pattern); default: one
                id per :class:`Bus`.  A bus is one member of a group: another
                ``member`` for a group it already polled is refused.  Only with
                ``group``.
            auto_commit: Commit this member's previous group poll's
                ``next_cursor`` before reading (at-least-once without calling
                :meth:`commit`).  Only with ``group``.

        Raises:
            TypeError, ValueError: wrong argument types.
            InvalidArgumentError: a bad cursor or a value out of range; a
                ``cursor`` or ``shard`` with ``group``, a ``member`` or
                ``auto_commit`` without it.
            FatalError: a corrupt record (unless ``skip_corrupt``).
        """
        request = self._poll_request(limit, cursor, shard, wait, start, skip_corrupt, timeout,
                                     group, member, auto_commit)
        self._check_process()
        resp = json.loads(self._lib.poll(self._handle, request))
        assigned = resp.get("assigned")
        return PollResult(events=[_event(e) for e in resp["events"]],
                          next_cursor=resp["next_cursor"], has_more=resp["has_more"],
                          skipped=resp["skipped"],
                          assigned=None if assigned is None else _ints(assigned))

    @staticmethod
    def _poll_request(limit: Any, cursor: Any, shard: Any, wait: Any, start: Any,
                      skip_corrupt: Any, timeout: Any, group: Any = None, member: Any = None,
                      auto_commit: Any = None) -> bytes:
        """The poll request as JSON bytes; raises TypeError/ValueError for bad types.

        The group fields are sent as given: the library refuses a ``cursor``
        or ``shard`` with ``group``, and ``member`` or ``auto_commit`` without it.
        """
        req: Dict[str, Any] = {"limit": _int_arg("limit", limit)}
        if req["limit"] is None:
            raise TypeError("limit must be an int, got None")
        if _str_arg("cursor", cursor) is not None:
            req["cursor"] = cursor
        shard_i = _int_arg("shard", shard)
        if shard_i is not None:
            req["shard"] = shard_i
        wait_ms = _ms_arg("wait", wait)
        if wait_ms is not None:
            req["wait_ms"] = wait_ms
        if _str_arg("start", start) is not None:
            req["start"] = start
        if not isinstance(skip_corrupt, bool):
            raise TypeError(f"skip_corrupt must be a bool, got {type(skip_corrupt).__name__}")
        if skip_corrupt:
            req["skip_corrupt"] = True
        timeout_ms = _ms_arg("timeout", timeout)
        if timeout_ms is not None:
            req["timeout_ms"] = timeout_ms
        if _str_arg("group", group) is not None:
            req["group"] = group
        if _str_arg("member", member) is not None:
            req["member"] = member
        if _bool_arg("auto_commit", auto_commit) is not None:
            req["auto_commit"] = auto_commit
        return _dumps(req).encode("utf-8")

    def commit(self, cursor: str, group: str,
               timeout: Optional[Seconds] = None) -> CommitResult:
        """Store a consumer group's positions: those of ``cursor``, the
        ``next_cursor`` of this bus's group poll of ``group``.

        Commit once the batch's events are handled: after a restart (or when a
        shard moves to another member) the group reads on from the committed
        positions, so events handled but not committed are read again
        (at-least-once).  Only shards this member still holds are written; a
        shard that moved to another member since the poll is in ``revoked``
        and keeps its new owner's position.  Positions never move backwards.
        See ``docs/reference.md``, "Groups".

        Args:
            cursor: The ``next_cursor`` of a group poll of this bus.
            group: The group it was polled as.
            timeout: Seconds the commit may take.

        Raises:
            TypeError, ValueError: wrong argument types.
            InvalidArgumentError: nothing was stored: a cursor of a plain poll,
                of another group or member, or a group this bus has not polled.
            TransientError: retry the same commit.
        """
        if not isinstance(cursor, str):
            raise TypeError(f"cursor must be a str, got {type(cursor).__name__}")
        if not isinstance(group, str):
            raise TypeError(f"group must be a str, got {type(group).__name__}")
        req: Dict[str, Any] = {"group": group, "cursor": cursor}
        timeout_ms = _ms_arg("timeout", timeout)
        if timeout_ms is not None:
            req["timeout_ms"] = timeout_ms
        self._check_process()
        resp = json.loads(self._lib.commit(self._handle, _dumps(req).encode("utf-8")))
        return CommitResult(committed=_ints(resp["committed"]), revoked=_ints(resp["revoked"]))

    def consume_batches(self, limit: int = 100, cursor: Optional[str] = None,
                        shard: Optional[int] = None, wait: Seconds = 1.0,
                        start: Optional[str] = None, skip_corrupt: bool = False,
                        timeout: Optional[Seconds] = None,
                        stop_at_end: bool = False, *, group: Optional[str] = None,
                        member: Optional[str] = None) -> BatchGenerator:
        """Follow the cursor, yielding each non-empty :class:`PollResult`.

        Like :meth:`consume`, but a batch at a time, so a consumer can save
        ``batch.next_cursor`` after handling a batch and resume from it later.

        With ``group`` (and optionally ``member``) it polls as a member of
        that consumer group and commits each batch's ``next_cursor`` itself,
        once the batch is handled: when the generator is resumed after it,
        or closed while it holds it.  Arguments as :meth:`consume`.
        """
        return self._batches(limit, cursor, shard, wait, start, skip_corrupt, timeout,
                             stop_at_end, group, member, _Handout())

    def _batches(self, limit: int, cursor: Optional[str], shard: Optional[int],
                 wait: Seconds, start: Optional[str], skip_corrupt: bool,
                 timeout: Optional[Seconds], stop_at_end: bool, group: Optional[str],
                 member: Optional[str], handout: _Handout) -> BatchGenerator:
        """Check the argument types now, then return the generator of batches."""
        if wait is None:
            raise TypeError("wait must be a number of seconds, got None")
        self._poll_request(limit, cursor, shard, wait, start, skip_corrupt, timeout,
                           group, member)
        if not isinstance(stop_at_end, bool):
            raise TypeError(f"stop_at_end must be a bool, got {type(stop_at_end).__name__}")
        return self._consume(limit, cursor, shard, wait, start, skip_corrupt, timeout,
                             stop_at_end, group, member, handout)

    def _consume(self, limit: int, cursor: Optional[str], shard: Optional[int],
                 wait: Seconds, start: Optional[str], skip_corrupt: bool,
                 timeout: Optional[Seconds], stop_at_end: bool, group: Optional[str],
                 member: Optional[str], handout: _Handout) -> BatchGenerator:
        while not self._closed:
            try:
                batch = self.poll(limit=limit, cursor=cursor, shard=shard, wait=wait,
                                  start=start, skip_corrupt=skip_corrupt, timeout=timeout,
                                  group=group, member=member)
            except (ShutdownError, InvalidHandleError):
                if self._closed:
                    return  # closed (by another thread, or between batches): stop
                raise
            if group is None:
                cursor = batch.next_cursor
                if batch.events:
                    yield batch
                elif stop_at_end and not batch.has_more:
                    return
                continue
            # A group: commit each batch once every event of it was handed out
            # (at-least-once). A batch of only skipped records commits at once.
            if batch.events:
                try:
                    yield batch
                except GeneratorExit:
                    if handout.complete:
                        self._commit_consumed(batch.next_cursor, group, timeout)
                    raise
            if (batch.events or batch.skipped) and \
                    not self._commit_consumed(batch.next_cursor, group, timeout):
                return
            if not batch.events and stop_at_end and not batch.has_more:
                return

    def _commit_consumed(self, cursor: str, group: str, timeout: Optional[Seconds]) -> bool:
        """Commit for a group consume; False when the bus was closed meanwhile
        (the batch is then read again by the group: at-least-once)."""
        try:
            self.commit(cursor, group, timeout=timeout)
        except (ShutdownError, InvalidHandleError):
            if self._closed:
                return False
            raise
        return True

    def consume(self, limit: int = 100, cursor: Optional[str] = None,
                shard: Optional[int] = None, wait: Seconds = 1.0,
                start: Optional[str] = None, skip_corrupt: bool = False,
                timeout: Optional[Seconds] = None,
                stop_at_end: bool = False, *, group: Optional[str] = None,
                member: Optional[str] = None) -> EventGenerator:
        """A generator of events that follows the cursor.

        Each poll reads up to ``limit`` events; when there are none it waits
        up to ``wait`` seconds for new ones (so an idle consumer does not
        spin).  It runs until the generator is closed (``break`` out of the
        loop, or ``gen.close()``), until the bus is closed (also from another
        thread: a waiting poll is woken and the generator ends without an
        error), or, with ``stop_at_end=True``, until an empty poll finds
        nothing more.  Other errors propagate.  Arguments as :meth:`poll`.

        With ``group`` (and optionally ``member``), it reads as a member of
        that consumer group instead of following a cursor (``cursor`` and
        ``shard`` are refused), and commits each batch's ``next_cursor`` once
        all the batch's events were handed out: when the generator is resumed
        after the batch's last event, or closed right after it.  Events of a
        batch that was not finished are not committed: the group reads them
        again once this bus is closed or their shard moves to another member
        (at-least-once; this bus's own later polls of the group read on from
        where it got to).  A commit that fails raises from the generator (from
        ``close()`` when it is closed), except once the bus is closed.

        Example::

            for event in bus.consume(wait=5):
                handle(event.data)

            for event in bus.consume(group="billing", wait=5):
                handle(event.data)   # committed after each batch
        """
        handout = _Handout()
        batches = self._batches(limit, cursor, shard, wait, start, skip_corrupt, timeout,
                                stop_at_end, group, member, handout)
        return self._events(batches, handout)

    @staticmethod
    def _events(batches: BatchGenerator, handout: _Handout) -> EventGenerator:
        try:
            for batch in batches:
                events = batch.events  # never empty
                handout.complete = False
                yield from islice(events, len(events) - 1)
                handout.complete = True
                yield events[-1]
        finally:
            batches.close()

    def stats(self) -> Dict[str, Any]:
        """Counters and health of this handle, decoded from the library's JSON:
        ``published``, ``duplicates``, ``polled``, ``skipped``, ``errors`` (by
        code), ``shards``, ``prefix``, ``embedded``, ``server`` (``url``
        redacted, ``version``, ...), ``healthy``, and once this bus polled a
        consumer group ``groups``: per group its ``group``, ``member``,
        ``assigned`` shards and per shard its ``committed`` position (a decimal
        string) and ``lag`` (``docs/reference.md``, "Stats")."""
        self._check_process()
        result: Dict[str, Any] = json.loads(self._lib.stats(self._handle))
        return result
