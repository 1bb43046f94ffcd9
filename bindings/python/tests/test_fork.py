"""A Bus is refused in a forked child."""

from __future__ import annotations

import os
import unittest
from typing import Callable, List

import netmesh
from _support import BusTestCase


@unittest.skipUnless(hasattr(os, "fork"), "needs os.fork")
class ForkTest(BusTestCase):
    def test_forked_child_is_refused(self) -> None:
        bus = self.open_bus(shards=1)
        bus.publish([{"from": "parent"}])
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: report through the exit code, never return
            code = 0
            try:
                calls: List[Callable[[], object]] = [
                    lambda: bus.publish([{"from": "child"}]), bus.poll, bus.stats]
                for call in calls:
                    try:
                        call()
                        code |= 1  # the call went through: wrong
                    except netmesh.InvalidHandleError as exc:
                        if str(parent) not in exc.message or "forked child" not in exc.message:
                            code |= 2
                    except BaseException:  # noqa: BLE001
                        code |= 4
                bus.close()  # only forgets the handle; must not raise
                if not bus.closed:
                    code |= 8
            except BaseException:  # noqa: BLE001
                code |= 16
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        self.assertTrue(os.WIFEXITED(status), status)
        self.assertEqual(os.WEXITSTATUS(status), 0)
        # The parent's bus is untouched by the child.
        self.assertFalse(bus.closed)
        self.assertEqual([e.data for e in bus.poll()], [{"from": "parent"}])
        bus.publish([{"from": "parent again"}])
        self.assertEqual(bus.stats()["published"], 2)


if __name__ == "__main__":
    unittest.main()
