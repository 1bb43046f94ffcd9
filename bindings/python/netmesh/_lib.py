"""Loading ``libnetmesh.so`` and calling it through ctypes.

The library is looked up, in order:

1. the path in the environment variable ``NETMESH_LIBRARY`` (used as it is);
2. ``libnetmesh.so`` next to this package (``netmesh/libnetmesh.so``: the copy
   the wheel of ``make dist`` carries);
3. the system's ``libnetmesh.so.<major>`` (:data:`SONAME`), by name through the
   dynamic loader (``LD_LIBRARY_PATH``, ``/etc/ld.so.cache``, ``/lib``,
   ``/usr/lib``): the C library of ``make install`` or of the C tarball;
4. ``build/libnetmesh.so`` in the first parent directory of the package
   that has one (a checkout's build output).

Strings the library returns through ``char **`` out parameters are received
in a ``c_void_p`` (never ``c_char_p``, which would copy the bytes and lose the
pointer), copied with :func:`ctypes.string_at`, then released with
``mesh_free``.  Calls through :class:`ctypes.CDLL` release the GIL, so
threads sharing one bus run their calls in parallel.
"""

from __future__ import annotations

import ctypes
import os
import threading
from ctypes import POINTER, byref, c_char_p, c_int32, c_size_t, c_uint32, c_uint64, c_void_p
from pathlib import Path
from typing import List, Optional, Tuple

from .errors import LibraryNotFoundError, LibraryVersionError, error_from_response

__all__ = ["ABI_VERSION", "Library", "find_library", "library"]

#: The ABI version this binding is written for (``NETMESH_ABI_VERSION``).
ABI_VERSION = 1

LIBRARY_NAME = "libnetmesh.so"
#: The name of the system's library: ``libnetmesh.so.<major of the version>``,
#: its SONAME (``make version-check`` checks it against core.Version).
SONAME = "libnetmesh.so.0"
ENV_VAR = "NETMESH_LIBRARY"
LOADER_PATH = "LD_LIBRARY_PATH, /etc/ld.so.cache, /lib, /usr/lib"


def candidate_paths() -> List[Path]:
    """Return the places :func:`find_library` tries, in order.

    ``Path(SONAME)``, a bare name, stands for the dynamic loader's search.
    """
    paths: List[Path] = []
    env = os.environ.get(ENV_VAR)
    if env:
        paths.append(Path(env))
    here = Path(__file__).resolve().parent
    paths.append(here / LIBRARY_NAME)
    paths.append(Path(SONAME))
    for parent in here.parents:
        paths.append(parent / "build" / LIBRARY_NAME)
    return paths


def find_library() -> Path:
    """Return the path of the library to load (``Path(SONAME)``: the system's).

    ``NETMESH_LIBRARY``, when set, is used as it is (a missing file there is an
    error, not a reason to look elsewhere). The system's library is looked for by
    loading it by name (which is what using it does next).

    Raises:
        LibraryNotFoundError: nothing was found; the message lists every place.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        if not Path(env).is_file():
            raise LibraryNotFoundError(f"{ENV_VAR}={env!r} is not a file")
        return Path(env)
    tried = [f"{ENV_VAR} (not set)"]
    for path in candidate_paths():
        if path == Path(SONAME):
            try:
                ctypes.CDLL(SONAME)
            except OSError as exc:
                tried.append(f"{SONAME} through the dynamic loader ({LOADER_PATH}): {exc}")
                continue
            return path
        if path.is_file():
            return path
        tried.append(str(path))
    raise LibraryNotFoundError(
        f"{LIBRARY_NAME} not found; looked in: {'; '.join(tried)}. Install the netmesh "
        f"wheel or the C library ({SONAME}), set {ENV_VAR} to its path, or build it "
        f"with `make build/libnetmesh.so` in a checkout")


class Library:
    """The loaded library with its function prototypes.

    Raises:
        LibraryNotFoundError: the dynamic loader refused the file, or a
            function is missing from a library of the right ABI version.
        LibraryVersionError: ``mesh_abi_version()`` is not :data:`ABI_VERSION`
            (checked first, before any other function is looked up).
    """

    def __init__(self, path: Path) -> None:
        try:
            self.cdll = ctypes.CDLL(str(path))
        except OSError as exc:
            raise LibraryNotFoundError(f"cannot load {path}: {exc}") from exc
        self.path = path
        self.has_commit = False
        lib = self.cdll
        try:
            abi_version = lib.mesh_abi_version
        except AttributeError as exc:
            raise LibraryNotFoundError(
                f"{path} is not libnetmesh: it has no mesh_abi_version") from exc
        abi_version.argtypes = []
        abi_version.restype = c_uint32
        abi = int(abi_version())
        if abi != ABI_VERSION:
            raise LibraryVersionError(str(path), abi, ABI_VERSION)
        try:
            self._declare()
        except AttributeError as exc:
            raise LibraryNotFoundError(f"{path} lacks a function: {exc}") from exc

    def _declare(self) -> None:
        """Set the prototypes of the functions (AttributeError if one is missing)."""
        lib = self.cdll
        lib.mesh_init.argtypes = [c_char_p, c_size_t, POINTER(c_uint64), POINTER(c_void_p)]
        lib.mesh_init.restype = c_int32
        lib.mesh_publish_batch.argtypes = [c_uint64, c_char_p, c_size_t, POINTER(c_void_p)]
        lib.mesh_publish_batch.restype = c_int32
        lib.mesh_poll.argtypes = [c_uint64, c_char_p, c_size_t, POINTER(c_void_p)]
        lib.mesh_poll.restype = c_int32
        # mesh_commit came with consumer groups, within ABI 1: a library from
        # before them lacks it, and only commit() needs it.
        commit = getattr(lib, "mesh_commit", None)
        if commit is not None:
            commit.argtypes = [c_uint64, c_char_p, c_size_t, POINTER(c_void_p)]
            commit.restype = c_int32
        self.has_commit = commit is not None
        lib.mesh_stats.argtypes = [c_uint64, POINTER(c_void_p)]
        lib.mesh_stats.restype = c_int32
        lib.mesh_shutdown.argtypes = [c_uint64, POINTER(c_void_p)]
        lib.mesh_shutdown.restype = c_int32
        lib.mesh_free.argtypes = [c_void_p]
        lib.mesh_free.restype = None
        # Static strings, never freed: c_char_p copies them into bytes.
        lib.mesh_version.argtypes = []
        lib.mesh_version.restype = c_char_p
        lib.mesh_strerror.argtypes = [c_int32]
        lib.mesh_strerror.restype = c_char_p

    # -- helpers ---------------------------------------------------------

    def take(self, out: c_void_p) -> Optional[str]:
        """Copy the string in ``out`` (if any), free it, and return it."""
        ptr = out.value
        if not ptr:
            return None
        try:
            return ctypes.string_at(ptr).decode("utf-8")
        finally:
            self.cdll.mesh_free(ptr)
            out.value = None

    def strerror(self, status: int) -> str:
        """``mesh_strerror`` of a status code."""
        raw: Optional[bytes] = self.cdll.mesh_strerror(status)
        return raw.decode("utf-8", "replace") if raw else ""

    def check(self, status: int, text: Optional[str]) -> str:
        """Return ``text`` for success; raise the matching ``MeshError`` otherwise."""
        if status == 0:
            return text if text is not None else ""
        raise error_from_response(status, text, self.strerror(status))

    # -- calls -----------------------------------------------------------

    def init(self, config: bytes) -> int:
        """``mesh_init``: return a new handle or raise."""
        handle = c_uint64(0)
        out = c_void_p()
        status = self.cdll.mesh_init(config, len(config), byref(handle), byref(out))
        self.check(status, self.take(out))
        return int(handle.value)

    def publish(self, handle: int, request: bytes) -> str:
        """``mesh_publish_batch``."""
        out = c_void_p()
        status = self.cdll.mesh_publish_batch(handle, request, len(request), byref(out))
        return self.check(status, self.take(out))

    def poll(self, handle: int, request: bytes) -> str:
        """``mesh_poll``."""
        out = c_void_p()
        status = self.cdll.mesh_poll(handle, request, len(request), byref(out))
        return self.check(status, self.take(out))

    def commit(self, handle: int, request: bytes) -> str:
        """``mesh_commit``.

        Raises:
            LibraryNotFoundError: the library predates consumer groups (it has
                no ``mesh_commit``).
        """
        if not self.has_commit:
            raise LibraryNotFoundError(
                f"{self.path} has no mesh_commit: consumer groups need a newer libnetmesh")
        out = c_void_p()
        status = self.cdll.mesh_commit(handle, request, len(request), byref(out))
        return self.check(status, self.take(out))

    def stats(self, handle: int) -> str:
        """``mesh_stats``."""
        out = c_void_p()
        status = self.cdll.mesh_stats(handle, byref(out))
        return self.check(status, self.take(out))

    def shutdown(self, handle: int) -> None:
        """``mesh_shutdown``."""
        out = c_void_p()
        status = self.cdll.mesh_shutdown(handle, byref(out))
        self.check(status, self.take(out))

    def version(self) -> Tuple[str, int]:
        """The library version string and ABI version."""
        raw = self.cdll.mesh_version()
        return (raw.decode("utf-8") if raw else "", int(self.cdll.mesh_abi_version()))


_lock = threading.Lock()
_library: Optional[Library] = None


def library() -> Library:
    """Return the process's library, loading it on first use."""
    global _library
    lib = _library
    if lib is None:
        with _lock:
            if _library is None:
                _library = Library(find_library())
            lib = _library
    return lib
