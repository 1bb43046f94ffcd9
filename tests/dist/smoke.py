"""The Python smoke test of the installed wheel (tests/dist/run.sh).

    python smoke.py VERSION STORE_DIR

Run by a venv's python from a folder outside the checkout, with no NETMESH_*
variables: the library must be the copy inside the installed package.
"""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import netmesh


def main() -> int:
    version, store_dir = sys.argv[1], sys.argv[2]
    package_dir = Path(netmesh.__file__).resolve().parent
    found = netmesh.find_library()
    if found != package_dir / "libnetmesh.so" or "site-packages" not in package_dir.parts:
        print(f"smoke (Python): loaded {found}, not the wheel's copy in {package_dir}")
        return 1
    installed = importlib.metadata.version("netmesh")
    if (installed, netmesh.__version__) != (version, version):
        print(f"smoke (Python): package version {installed} / {netmesh.__version__}, "
              f"want {version}")
        return 1
    with netmesh.Bus(embedded={"store_dir": store_dir}, shards=2) as bus:
        result = bus.publish([{"lang": "python"}], batch_id="smoke-python")
        batch = bus.poll(limit=10, wait=5.0)
    if result.published != 1 or [e.data for e in batch.events] != [{"lang": "python"}]:
        print(f"smoke (Python): published {result}, polled {batch}")
        return 1
    library_version = netmesh.library_version()
    if library_version != (version, netmesh.ABI_VERSION):
        print(f"smoke (Python): library {library_version}, want {version}")
        return 1
    print(f"smoke (Python): published and polled one event with libnetmesh {version} "
          f"from {found}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
