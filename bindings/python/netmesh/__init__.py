"""netmesh: a schema-agnostic JSON event bus over NATS JetStream.

A thin ctypes binding of ``libnetmesh.so``, whose C ABI is documented in
``docs/reference.md`` ("Config", "Publish", "Poll", "Stats", "Errors")::

    import netmesh

    with netmesh.Bus(embedded={"store_dir": "netmesh-data"}) as bus:
        bus.publish([{"user": "ada", "action": "login"}])
        result = bus.poll(limit=100)
        for event in result.events:
            print(event.id, event.shard, event.data)
        # pass result.next_cursor as cursor= to read on

        # or as a member of a consumer group, which commits its positions:
        for event in bus.consume(group="billing", stop_at_end=True):
            print(event.data)

The library is found through ``NETMESH_LIBRARY``, next to this package (the
wheel's copy), as the system's ``libnetmesh.so.0``, or in a ``build/`` directory
above it (see :func:`find_library`); one that cannot be used raises
:class:`LibraryLoadError`: :class:`LibraryNotFoundError`, or
:class:`LibraryVersionError` for another ABI version than :data:`ABI_VERSION`.
"""

from __future__ import annotations

from typing import Tuple

from ._lib import ABI_VERSION, find_library, library
from .bus import Bus
from .errors import (
    FatalError,
    InternalError,
    InvalidArgumentError,
    InvalidHandleError,
    LibraryLoadError,
    LibraryNotFoundError,
    LibraryVersionError,
    MeshConnectionError,
    MeshError,
    ShutdownError,
    TooLargeError,
    TransientError,
)
from .types import Ack, CommitResult, Event, PollResult, PublishResult, RawEvent

__all__ = [
    "ABI_VERSION",
    "Ack",
    "Bus",
    "CommitResult",
    "Event",
    "FatalError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidHandleError",
    "LibraryLoadError",
    "LibraryNotFoundError",
    "LibraryVersionError",
    "MeshConnectionError",
    "MeshError",
    "PollResult",
    "PublishResult",
    "RawEvent",
    "ShutdownError",
    "TooLargeError",
    "TransientError",
    "find_library",
    "library_version",
]

__version__ = "0.3.0"


def library_version() -> Tuple[str, int]:
    """The loaded library's version string and ABI version, e.g. ``("0.3.0", 1)``."""
    return library().version()
