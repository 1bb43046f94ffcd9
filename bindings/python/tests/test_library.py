"""The library the binding loads: its ABI version and its table of codes."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import netmesh
from netmesh import _lib
from netmesh.errors import STATUS_CODES

# A library that is not this binding's ABI: mesh_abi_version answers 999, and
# nothing else of the C ABI is there (the version is checked before any other
# function is looked up).
OTHER_ABI_SOURCE = """\
#include <stdint.h>
uint32_t mesh_abi_version(void) { return 999; }
const char *mesh_version(void) { return "9.9.9"; }
"""

# A shared library that is not libnetmesh at all.
NOT_NETMESH_SOURCE = "int something_else(void) { return 1; }\n"


def build_shared_library(directory: str, name: str, source: str) -> Path:
    """Compile C ``source`` into ``directory/name`` with ``$CC -shared -fPIC``."""
    c_file = Path(directory) / f"{name}.c"
    c_file.write_text(source)
    lib_file = Path(directory) / name
    cc = shlex.split(os.environ.get("CC", "cc"))
    subprocess.run([*cc, "-shared", "-fPIC", "-o", str(lib_file), str(c_file)],
                   check=True, capture_output=True)
    return lib_file


class LibraryVersionTest(unittest.TestCase):
    tmp: tempfile.TemporaryDirectory[str]
    other_abi: Path
    not_netmesh: Path

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory(prefix="netmesh-pytest-lib-")
        cls.other_abi = build_shared_library(cls.tmp.name, "libother_abi.so", OTHER_ABI_SOURCE)
        cls.not_netmesh = build_shared_library(cls.tmp.name, "libnot_netmesh.so",
                                               NOT_NETMESH_SOURCE)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.tmp.cleanup()

    def test_another_abi_version_is_a_version_error(self) -> None:
        with self.assertRaises(netmesh.LibraryVersionError) as cm:
            _lib.Library(self.other_abi)
        err = cm.exception
        self.assertEqual((err.found, err.expected), (999, netmesh.ABI_VERSION))
        self.assertEqual(err.path, str(self.other_abi))
        self.assertIn("ABI version 999", str(err))
        self.assertIn(f"needs {netmesh.ABI_VERSION}", str(err))
        # One family with LibraryNotFoundError, and an OSError as it always was...
        self.assertIsInstance(err, netmesh.LibraryLoadError)
        self.assertIsInstance(err, OSError)
        # ...but the library was found: not a LibraryNotFoundError, not a MeshError.
        self.assertNotIsInstance(err, netmesh.LibraryNotFoundError)
        self.assertNotIsInstance(err, netmesh.MeshError)

    def test_opening_a_bus_through_the_environment(self) -> None:
        """The whole path a user takes: NETMESH_LIBRARY, import, Bus()."""
        script = ("import netmesh\n"
                  "try:\n"
                  "    netmesh.Bus()\n"
                  "except netmesh.LibraryVersionError as exc:\n"
                  "    print('version error:', exc.found, exc.expected)\n")
        env = {**os.environ, "NETMESH_LIBRARY": str(self.other_abi),
               "PYTHONPATH": str(Path(netmesh.__file__).resolve().parents[1])}
        proc = subprocess.run([sys.executable, "-c", script], env=env,
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.strip(), f"version error: 999 {netmesh.ABI_VERSION}")

    def test_a_library_without_the_abi_is_not_found(self) -> None:
        with self.assertRaisesRegex(netmesh.LibraryNotFoundError, "mesh_abi_version"):
            _lib.Library(self.not_netmesh)
        with self.assertRaises(netmesh.LibraryNotFoundError):
            _lib.Library(Path(self.tmp.name) / "libother_abi.so.c")  # not a shared library


class CodeTableTest(unittest.TestCase):
    """The binding's codes are exactly the library's (mesh_strerror tells which)."""

    UNKNOWN = "unknown code"

    def test_every_code_the_binding_knows_is_the_librarys(self) -> None:
        lib = _lib.library()
        for status, name in STATUS_CODES.items():
            with self.subTest(status=status, code=name):
                self.assertNotEqual(lib.strerror(status), self.UNKNOWN)
        self.assertEqual(lib.strerror(1), self.UNKNOWN)  # the probe itself works

    def test_every_code_of_the_library_is_known_to_the_binding(self) -> None:
        lib = _lib.library()
        library_codes = [status for status in range(-128, 1)
                         if lib.strerror(status) != self.UNKNOWN]
        self.assertIn(0, library_codes)
        for status in library_codes:
            with self.subTest(status=status, description=lib.strerror(status)):
                self.assertIn(status, STATUS_CODES)
        # Each error code has its own class, whose code string is the table's.
        for status, name in STATUS_CODES.items():
            if status == 0:
                continue
            err = netmesh.errors.error_from_response(status, None, "m")
            self.assertIs(type(err), netmesh.errors.error_class(name))
            self.assertEqual((err.code, err.status), (name, status))


if __name__ == "__main__":
    unittest.main()
