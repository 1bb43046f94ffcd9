"""Check that every checked-in copy of the version is core.Version (`make version-check`).

    python3 mk/check_versions.py 0.3.0

core.Version in core/bus.go is the one source (make reads it with sed, mk/c.mk).
The package files keep a copy because pip and npm read them from the checkout
too; this check fails when one differs:

- bindings/python/pyproject.toml: [project] version; netmesh/__init__.py: __version__;
- bindings/node/package.json: version; package-lock.json: its two copies of it;
- bindings/wasm/package.json and package-lock.json, the same;
- the system library name the bindings try, libnetmesh.so.<major>
  (SONAME in bindings/python/netmesh/_lib.py and bindings/node/index.js).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import List, Optional, Tuple


def first(pattern: str, path: Path) -> Optional[str]:
    match = re.search(pattern, path.read_text(encoding="utf-8"), re.M)
    return match.group(1) if match else None


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: check_versions.py VERSION", file=sys.stderr)
        return 2
    version = sys.argv[1]
    soname = f"libnetmesh.so.{version.split('.')[0]}"
    root = Path(__file__).resolve().parent.parent
    node = root / "bindings/node"
    lock = json.loads((node / "package-lock.json").read_text(encoding="utf-8"))
    wasm = root / "bindings/wasm"
    wasm_lock = json.loads((wasm / "package-lock.json").read_text(encoding="utf-8"))
    checks: List[Tuple[str, object, str]] = [
        ("bindings/python/pyproject.toml version",
         first(r'^version\s*=\s*"([^"]*)"', root / "bindings/python/pyproject.toml"), version),
        ("bindings/python/netmesh/__init__.py __version__",
         first(r'^__version__\s*=\s*"([^"]*)"', root / "bindings/python/netmesh/__init__.py"),
         version),
        ("bindings/node/package.json version",
         json.loads((node / "package.json").read_text(encoding="utf-8")).get("version"), version),
        ("bindings/node/package-lock.json version", lock.get("version"), version),
        ('bindings/node/package-lock.json packages[""].version',
         lock.get("packages", {}).get("", {}).get("version"), version),
        ("bindings/wasm/package.json version",
         json.loads((wasm / "package.json").read_text(encoding="utf-8")).get("version"), version),
        ("bindings/wasm/package-lock.json version", wasm_lock.get("version"), version),
        ('bindings/wasm/package-lock.json packages[""].version',
         wasm_lock.get("packages", {}).get("", {}).get("version"), version),
        ("bindings/python/netmesh/_lib.py SONAME",
         first(r'^SONAME\s*=\s*"([^"]*)"', root / "bindings/python/netmesh/_lib.py"), soname),
        ("bindings/node/index.js SONAME",
         first(r"^const SONAME = '([^']*)';", node / "index.js"), soname),
    ]
    bad = [(what, got, want) for what, got, want in checks if got != want]
    for what, got, want in bad:
        print(f"version-check: {what} is {got!r}, want {want!r} (from core.Version in "
              f"core/bus.go)", file=sys.stderr)
    if bad:
        return 1
    print(f"version-check: pass: {len(checks)} copies agree with core.Version {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
