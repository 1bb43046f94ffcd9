"""Shared helpers of the netmesh tests (stdlib only)."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import unittest
from typing import Any, Dict
from urllib.parse import urlparse

import netmesh


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


def nats_publish(url: str, subject: str, payload: bytes, timeout: float = 5.0) -> Dict[str, Any]:
    """Publish one message with the NATS text protocol and return JetStream's ack.

    Used to store a record netmesh would never write (a corrupt one) on a
    listening embedded server, with nothing but a socket.
    """
    parts = urlparse(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        reader = sock.makefile("rb")
        info = reader.readline()
        if not info.startswith(b"INFO "):
            raise RuntimeError(f"not a NATS server: {info!r}")
        sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":false}\r\n'
                     b"SUB _ack.netmesh-test 1\r\n"
                     + f"PUB {subject} _ack.netmesh-test {len(payload)}\r\n".encode()
                     + payload + b"\r\nPING\r\n")
        while True:
            line = reader.readline()
            if not line:
                raise RuntimeError("connection closed before the ack")
            if line.startswith(b"PING"):
                sock.sendall(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                raise RuntimeError(line.decode().strip())
            elif line.startswith(b"MSG "):
                size = int(line.split()[-1])
                body = reader.read(size + 2)[:size]
                ack: Dict[str, Any] = json.loads(body)
                if "error" in ack:
                    raise RuntimeError(f"JetStream refused the message: {ack}")
                return ack
