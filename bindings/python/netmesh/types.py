"""Result and input types of netmesh."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterator, List, Optional, Union

__all__ = ["Ack", "CommitResult", "Event", "PollResult", "PublishResult", "RawEvent"]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class RawEvent:
    """An event given as JSON text that is stored byte for byte as given.

    ``publish`` normally encodes each event with :func:`json.dumps`.  Wrap
    already-encoded JSON in ``RawEvent`` to skip that step and keep its exact
    bytes (key order, spacing, number spelling), e.g. to share records with
    other producers::

        bus.publish([RawEvent('{"user": "ada", "n": 1.50}')])

    The text must be exactly one JSON value (surrounding whitespace is
    removed); it is checked when the ``RawEvent`` is made, so a malformed
    one raises :class:`ValueError` here rather than corrupting the request.
    ``null`` is accepted here and rejected by the library like any null
    event (``InvalidArgumentError``).
    """

    __slots__ = ("text",)

    def __init__(self, text: Union[str, bytes, bytearray]) -> None:
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8")
        elif not isinstance(text, str):
            raise TypeError(f"RawEvent needs str or bytes JSON text, got {type(text).__name__}")
        text = text.strip(" \t\r\n")
        json.loads(text, parse_constant=_reject_constant)  # ValueError if not one JSON value
        self.text: str = text

    def __repr__(self) -> str:
        return f"RawEvent({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RawEvent) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


@dataclass(frozen=True)
class Ack:
    """Where one published event was stored (``publish(..., acks=True)``)."""

    shard: int
    seq: int
    duplicate: bool


@dataclass(frozen=True)
class PublishResult:
    """The outcome of :meth:`netmesh.Bus.publish`.

    Attributes:
        published: Events newly stored.
        duplicates: Events the server already held (same message id, e.g. a
            retried ``batch_id``).  ``published + duplicates`` is the number
            of events in the request.
        acks: With ``acks=True``, one :class:`Ack` per event in request
            order; otherwise ``None``.
    """

    published: int
    duplicates: int
    acks: Optional[List[Ack]] = None


@dataclass(frozen=True)
class Event:
    """One stored event.

    Attributes:
        id: The stream sequence of the event within its shard (an exact int).
        shard: The shard it was stored in.
        ts: Insertion time in nanoseconds since the Unix epoch (an exact int);
            :attr:`timestamp` gives seconds as a float.
        data: The event, decoded from JSON with :func:`json.loads`.
    """

    id: int
    shard: int
    ts: int
    data: Any

    @property
    def timestamp(self) -> float:
        """Insertion time in seconds since the Unix epoch."""
        return self.ts / 1e9


@dataclass(frozen=True)
class PollResult:
    """The outcome of :meth:`netmesh.Bus.poll`.

    Iterating over it, or ``len()``, goes over :attr:`events`.

    Attributes:
        events: The events read, grouped by shard in sequence order.
        next_cursor: Pass it as ``cursor`` to read on from here.
        has_more: Some polled shard holds events after ``next_cursor``.
        skipped: Records skipped (unparseable JSON, or corrupt ones with
            ``skip_corrupt=True``).
        assigned: For a consumer group poll (``group=...``), the shards this
            member holds now, ascending (possibly empty); ``None`` for a plain
            poll.  A group poll's ``next_cursor`` is what
            :meth:`netmesh.Bus.commit` takes, not a ``cursor`` to poll with.
    """

    events: List[Event] = field(default_factory=list)
    next_cursor: str = ""
    has_more: bool = False
    skipped: int = 0
    assigned: Optional[List[int]] = None

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)


@dataclass(frozen=True)
class CommitResult:
    """The outcome of :meth:`netmesh.Bus.commit`.

    Attributes:
        committed: The shards whose positions were stored (or were already
            at or past the cursor's), ascending.
        revoked: The shards of the cursor this member no longer holds: they
            moved to another member (or this member's session ran out), so
            their positions were not stored and the new owner reads their
            uncommitted events again.
    """

    committed: List[int] = field(default_factory=list)
    revoked: List[int] = field(default_factory=list)
