"""Shared helpers of the netmesh tests (stdlib only)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path
from typing import Any, Dict

import netmesh

#: The repository's root directory (tests are in bindings/python/tests).
REPO_ROOT = Path(__file__).resolve().parents[3]


class BusTestCase(unittest.TestCase):
    """A test case that opens buses on a fresh memory store per test."""

    def store_dir(self) -> str:
        path = tempfile.mkdtemp(prefix="netmesh-pytest-")
        self.addCleanup(shutil.rmtree, path, True)
        return path

    def config(self, **embedded: Any) -> Dict[str, Any]:
        return {"embedded": {"store_dir": self.store_dir(), "memory": True, **embedded}}

    def open_bus(self, config: Dict[str, Any] | None = None, **options: Any) -> netmesh.Bus:
        bus = netmesh.Bus(config if config is not None else self.config(), **options)
        self.addCleanup(bus.close)
        return bus

    def assertNoLibraryErrors(self, bus: netmesh.Bus) -> None:
        """The library counted no failed call on this bus."""
        errors = bus.stats()["errors"]
        self.assertEqual(sum(errors.values()), 0, errors)


def rawpub_path() -> str:
    """The rawpub tool (tests/rawpub): ``NETMESH_RAWPUB``, else ``build/tools/rawpub``."""
    env = os.environ.get("NETMESH_RAWPUB")
    if env:
        return env
    built = REPO_ROOT / "build" / "tools" / "rawpub"
    if built.is_file():
        return str(built)
    raise RuntimeError("the rawpub tool is missing: set NETMESH_RAWPUB, or build it "
                       "with `make build/tools/rawpub` (make py-test does both)")


def raw_publish(url: str, subject: str, payload: bytes,
                timeout: float = 5.0) -> Dict[str, Any]:
    """Publish one message byte for byte and return JetStream's ack.

    Stores a record netmesh would never write (a corrupt one) on a listening
    embedded server, through the Go tool the Node tests use too.  The ack is
    ``{"stream": ..., "seq": ..., "duplicate": ...}``.
    """
    proc = subprocess.run([rawpub_path(), "-timeout", f"{timeout}s", url, subject],
                          input=payload, capture_output=True, timeout=timeout + 10)
    if proc.returncode != 0:
        raise RuntimeError(f"rawpub exited {proc.returncode}: "
                           f"{proc.stderr.decode(errors='replace').strip()}")
    ack: Dict[str, Any] = json.loads(proc.stdout)
    return ack
