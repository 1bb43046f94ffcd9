"""Build the netmesh wheel with the standard library only (`make dist`, mk/dist.mk).

    python3 mk/build_wheel.py --version 0.3.0 --library build/libnetmesh.so \
        --source bindings/python --platform linux_x86_64 --out dist

A wheel is a zip: the package's files (netmesh/*.py, py.typed, and the library as
netmesh/libnetmesh.so, where the binding looks first after NETMESH_LIBRARY), then
netmesh-<v>.dist-info/ with METADATA (from pyproject.toml and README.md), WHEEL
(tag py3-none-<platform>: any Python 3, no Python ABI, one platform) and RECORD
(sha256 and size of every file). Entries are sorted and dated SOURCE_DATE_EPOCH
(default 1980-01-01), so the same inputs give the same bytes.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
import sys
import time
import zipfile
from pathlib import Path
from typing import Dict, List, Tuple

PACKAGE = "netmesh"


def read_project(pyproject: Path) -> Dict[str, object]:
    """The [project] table of pyproject.toml (tomllib, or a small reader on 3.10)."""
    text = pyproject.read_text(encoding="utf-8")
    if sys.version_info >= (3, 11):
        import tomllib
        data = tomllib.loads(text)["project"]
        assert isinstance(data, dict)
        return data
    # Python 3.10: the few keys used here, written simply.
    section = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    if section is None:
        raise SystemExit(f"{pyproject}: no [project] table")
    project: Dict[str, object] = {}
    for key, value in re.findall(r'^([\w-]+)\s*=\s*"([^"]*)"\s*$', section.group(1), re.M):
        project[key] = value
    block = re.search(r"^classifiers\s*=\s*\[(.*?)\]", section.group(1), re.M | re.S)
    project["classifiers"] = re.findall(r'"([^"]*)"', block.group(1)) if block else []
    return project


def record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True, help="core.Version")
    parser.add_argument("--library", required=True, type=Path)
    parser.add_argument("--source", required=True, type=Path, help="bindings/python")
    parser.add_argument("--platform", required=True, help="e.g. linux_x86_64")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()

    project = read_project(args.source / "pyproject.toml")
    if project.get("version") != args.version:
        raise SystemExit(f"{args.source}/pyproject.toml has version {project.get('version')!r}, "
                         f"core.Version is {args.version!r}")
    name, version = str(project["name"]), args.version
    tag = f"py3-none-{args.platform}"
    dist_info = f"{name}-{version}.dist-info"

    files: List[Tuple[str, bytes, int]] = []  # (archive name, bytes, mode)
    package_dir = args.source / PACKAGE
    for path in sorted(package_dir.rglob("*")):
        rel = path.relative_to(package_dir)
        if (path.is_dir() or "__pycache__" in rel.parts or path.suffix == ".pyc"
                or path.name.startswith("libnetmesh.so")):
            continue
        files.append((f"{PACKAGE}/{rel.as_posix()}", path.read_bytes(), 0o644))
    files.append((f"{PACKAGE}/libnetmesh.so", args.library.read_bytes(), 0o755))

    readme = (args.source / str(project.get("readme", "README.md"))).read_text(encoding="utf-8")
    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: {project.get('description', '')}",
    ]
    if project.get("requires-python"):
        metadata.append(f"Requires-Python: {project['requires-python']}")
    classifiers = project.get("classifiers", [])
    assert isinstance(classifiers, list)
    metadata += [f"Classifier: {c}" for c in classifiers]
    metadata += ["Description-Content-Type: text/markdown", "", readme]
    files.append((f"{dist_info}/METADATA", "\n".join(metadata).encode("utf-8"), 0o644))
    wheel = ["Wheel-Version: 1.0", "Generator: netmesh mk/build_wheel.py",
             "Root-Is-Purelib: false", f"Tag: {tag}", ""]
    files.append((f"{dist_info}/WHEEL", "\n".join(wheel).encode("utf-8"), 0o644))
    record = [f"{n},{record_hash(data)},{len(data)}" for n, data, _ in files]
    record += [f"{dist_info}/RECORD,,", ""]
    files.append((f"{dist_info}/RECORD", "\n".join(record).encode("utf-8"), 0o644))

    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))
    t = time.gmtime(max(epoch, 315532800))
    date_time = (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"{name}-{version}-{tag}.whl"
    partial = target.with_name(target.name + ".part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, data, mode in files:
            info = zipfile.ZipInfo(arcname, date_time=date_time)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    partial.replace(target)
    print(f"wrote {target} ({target.stat().st_size} bytes, {len(files)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
