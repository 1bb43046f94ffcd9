"""Exceptions raised by netmesh.

Every failure reported by ``libnetmesh`` is a :class:`MeshError` subclass, one
per error code of the C ABI (``docs/reference.md``, "Errors").  Each carries the
library's ``code`` string, its ``retryable`` flag (true for
:class:`TransientError` only) and its ``message``.

Wrong Python types are reported before the library is called, as the usual
:class:`TypeError` or :class:`ValueError`; they are not ``MeshError``\\ s.

A library that cannot be used at all raises a :class:`LibraryLoadError` (an
:class:`OSError`): :class:`LibraryNotFoundError` when there is none to load,
:class:`LibraryVersionError` when the one found has another ABI version.
"""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Dict, Mapping, Optional, Tuple, Type

__all__ = [
    "MeshError",
    "InvalidArgumentError",
    "InvalidHandleError",
    "MeshConnectionError",
    "TransientError",
    "FatalError",
    "TooLargeError",
    "ShutdownError",
    "InternalError",
    "LibraryLoadError",
    "LibraryNotFoundError",
    "LibraryVersionError",
    "STATUS_CODES",
    "error_class",
    "error_from_response",
]


class MeshError(Exception):
    """Base class of every error reported by libnetmesh.

    Attributes:
        code: The error code string, e.g. ``"invalid_argument"``.
        retryable: True when repeating the same call may succeed
            (only for ``"transient"``).
        message: The library's message (names the field, shard or index).
        status: The numeric ``MESH_E_*`` value, or ``None`` when the error
            was raised by the binding itself (e.g. use in a forked child).
    """

    #: The code string this class stands for (set on every subclass).
    code_name: str = ""
    #: The numeric ``MESH_E_*`` value this class stands for.
    status_value: int = 0

    def __init__(self, message: str, code: Optional[str] = None,
                 retryable: Optional[bool] = None,
                 status: Optional[int] = None) -> None:
        super().__init__(message)
        self.message: str = message
        self.code: str = code if code is not None else self.code_name
        self.retryable: bool = (retryable if retryable is not None
                                else self.code == "transient")
        self.status: Optional[int] = status

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(code={self.code!r}, "
                f"retryable={self.retryable!r}, message={self.message!r})")


class InvalidArgumentError(MeshError):
    """Bad JSON, an unknown field, a value out of range (``MESH_E_INVALID_ARGUMENT``)."""

    code_name = "invalid_argument"
    status_value = -1


class InvalidHandleError(MeshError):
    """The bus is closed, unknown, or was opened in another process (``MESH_E_INVALID_HANDLE``)."""

    code_name = "invalid_handle"
    status_value = -2


class MeshConnectionError(MeshError):
    """The server cannot be reached or refused authentication (``MESH_E_CONNECTION``).

    Named so as not to shadow the builtin :class:`ConnectionError`.
    """

    code_name = "connection"
    status_value = -3


class TransientError(MeshError):
    """Timeout, backpressure, leader change: the same call may succeed (``MESH_E_TRANSIENT``).

    Retrying a publish with the same ``batch_id`` stores it exactly once.
    """

    code_name = "transient"
    status_value = -4


class FatalError(MeshError):
    """Structural: a corrupt record, a misconfigured stream (``MESH_E_FATAL``)."""

    code_name = "fatal"
    status_value = -5


class TooLargeError(MeshError):
    """An event or the request is over the size limits (``MESH_E_TOO_LARGE``)."""

    code_name = "too_large"
    status_value = -6


class ShutdownError(MeshError):
    """The bus is shutting down (``MESH_E_SHUTDOWN``)."""

    code_name = "shutdown"
    status_value = -7


class InternalError(MeshError):
    """A bug in the library: a recovered panic (``MESH_E_INTERNAL``)."""

    code_name = "internal"
    status_value = -99


class LibraryLoadError(OSError):
    """``libnetmesh.so`` cannot be used: the base of the two errors below.

    An :class:`OSError` (as :class:`LibraryNotFoundError` always was), not a
    :class:`MeshError`: the library was never called.
    """


class LibraryNotFoundError(LibraryLoadError):
    """``libnetmesh.so`` was not found, or the dynamic loader refused it."""


class LibraryVersionError(LibraryLoadError):
    """The library was found and loaded, but its ``mesh_abi_version()`` is not
    the :data:`~netmesh.ABI_VERSION` this binding is written for.

    Attributes:
        path: The library's path.
        found: The ABI version the library reports.
        expected: The ABI version this binding needs.
    """

    def __init__(self, path: str, found: int, expected: int) -> None:
        super().__init__(f"{path} has ABI version {found}; this binding needs {expected}")
        self.path: str = path
        self.found: int = found
        self.expected: int = expected


_ERROR_CLASSES: Tuple[Type[MeshError], ...] = (
    InvalidArgumentError, InvalidHandleError, MeshConnectionError, TransientError,
    FatalError, TooLargeError, ShutdownError, InternalError)
_BY_CODE: Dict[str, Type[MeshError]] = {cls.code_name: cls for cls in _ERROR_CLASSES}
_BY_STATUS: Dict[int, Type[MeshError]] = {cls.status_value: cls for cls in _ERROR_CLASSES}

#: Every status the library can return, by value: ``MESH_OK`` (0, ``"ok"``) and
#: the ``MESH_E_*`` codes with their code strings (``docs/reference.md``, "Errors").
STATUS_CODES: Mapping[int, str] = MappingProxyType(
    {0: "ok", **{cls.status_value: cls.code_name for cls in _ERROR_CLASSES}})


def error_class(code: str) -> Type[MeshError]:
    """Return the exception class for an error code string (``MeshError`` if unknown)."""
    return _BY_CODE.get(code, MeshError)


def error_from_response(status: int, text: Optional[str],
                        fallback: str = "") -> MeshError:
    """Build the exception for a failed call.

    Args:
        status: The ``int32_t`` the function returned (negative).
        text: The error object the library wrote, if any.
        fallback: The message to use when ``text`` is missing or not an error
            object (``mesh_strerror`` of the status).
    """
    code: Optional[str] = None
    message = fallback
    retryable: Optional[bool] = None
    if text:
        try:
            obj = json.loads(text)["error"]
            code = str(obj["code"])
            message = str(obj.get("message", fallback))
            retryable = bool(obj.get("retryable", False))
        except (ValueError, KeyError, TypeError):
            message = text
    if code is None:
        cls = _BY_STATUS.get(status, MeshError)
        code = cls.code_name or f"unknown({status})"
    else:
        cls = error_class(code)
    return cls(message, code=code, retryable=retryable, status=status)
