#!/bin/sh
# run.sh VERSION WHEEL NPM_TGZ C_TGZ CHECKOUT: `make dist-test` (mk/dist.mk).
# Installs each package of `make dist` in a temporary folder outside the checkout,
# with no NETMESH_* variables, and uses it against the embedded server:
#   - the wheel in a fresh venv (pip, no index), smoke.py;
#   - the npm tarball in an empty folder (npm install; koffi from the registry),
#     smoke.cjs (require) and smoke.mjs (import);
#   - the C tarball extracted to a prefix: smoke.c and smoke.cpp built with
#     pkg-config and with CMake (find_package(netmesh), netmesh::netmesh), run;
#     the SONAME; `make install PREFIX=...` gives the same files.
# Environment: MAKE, PYTHON, NODE, NPM, CC, CXX, APT_GET.
set -eu
version=$1 wheel=$2 npm_tgz=$3 c_tgz=$4 checkout=$5
major=${version%%.*}
soname=libnetmesh.so.$major
PYTHON=${PYTHON:-python3} NODE=${NODE:-node} NPM=${NPM:-npm} CC=${CC:-cc} CXX=${CXX:-c++}
MAKE=${MAKE:-make}
unset NETMESH_LIBRARY PYTHONPATH NODE_PATH LD_LIBRARY_PATH PKG_CONFIG_PATH CMAKE_PREFIX_PATH

tmp=$(mktemp -d "${TMPDIR:-/tmp}/netmesh-dist-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
case $tmp in "$checkout"/*) echo "dist-test: $tmp is inside the checkout"; exit 1 ;; esac
start=$(date +%s)
# The test programs, copied out of the checkout.
mkdir "$tmp/src" && cp "$checkout"/tests/dist/smoke.* "$checkout/tests/dist/CMakeLists.txt" "$tmp/src/"
here=$tmp/src
pass() { echo "dist-test: pass: $* ($(( $(date +%s) - start ))s)"; }
fail() { echo "dist-test: FAIL: $*"; exit 1; }

# --- Python: the wheel in a fresh venv --------------------------------------
if ! "$PYTHON" -m venv "$tmp/venv" >"$tmp/venv.log" 2>&1; then
	# Debian's python3 has no ensurepip without python3-venv.
	if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
		${APT_GET:-apt-get} update >/dev/null && ${APT_GET:-apt-get} install -y python3-venv >/dev/null
		rm -rf "$tmp/venv"
		"$PYTHON" -m venv "$tmp/venv" || fail "python3 -m venv"
	else
		cat "$tmp/venv.log"; fail "python3 -m venv (install python3-venv)"
	fi
fi
"$tmp/venv/bin/python" -m pip install --quiet --no-index --disable-pip-version-check "$wheel" \
	|| fail "pip install $wheel"
mkdir "$tmp/py" && cp "$here/smoke.py" "$tmp/py/"
(cd "$tmp/py" && "$tmp/venv/bin/python" smoke.py "$version" "$tmp/py/data") || fail "wheel smoke"
pass "wheel $(basename "$wheel") installs in a fresh venv; import netmesh publishes and polls"

# --- Node: the npm tarball in an empty folder -------------------------------
mkdir "$tmp/node"
(cd "$tmp/node" && "$NPM" install --no-audit --no-fund --prefer-offline --loglevel=error "$npm_tgz" >"$tmp/npm.log" 2>&1) \
	|| { cat "$tmp/npm.log"; fail "npm install $npm_tgz"; }
cp "$here/smoke.cjs" "$here/smoke.mjs" "$tmp/node/"
(cd "$tmp/node" && "$NODE" smoke.cjs "$version" "$tmp/node/data-cjs") || fail "npm smoke (require)"
(cd "$tmp/node" && "$NODE" smoke.mjs "$version" "$tmp/node/data-mjs") || fail "npm smoke (import)"
pass "npm $(basename "$npm_tgz") installs in an empty folder; require('netmesh') and import('netmesh') publish and poll"

# --- C and C++: the tarball, with pkg-config and with CMake -----------------
prefix=$tmp/prefix
mkdir "$prefix"
tar -xzf "$c_tgz" -C "$prefix" --strip-components=1
for f in "lib/libnetmesh.so.$version" include/netmesh.h lib/pkgconfig/netmesh.pc \
	lib/cmake/netmesh/netmeshConfig.cmake lib/cmake/netmesh/netmeshConfigVersion.cmake; do
	[ -f "$prefix/$f" ] || fail "$(basename "$c_tgz") has no $f"
done
[ "$(readlink "$prefix/lib/$soname")" = "libnetmesh.so.$version" ] || fail "lib/$soname is not a link to libnetmesh.so.$version"
[ "$(readlink "$prefix/lib/libnetmesh.so")" = "$soname" ] || fail "lib/libnetmesh.so is not a link to $soname"
got=$(readelf -d "$prefix/lib/libnetmesh.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$got" = "$soname" ] || fail "SONAME of lib/libnetmesh.so.$version is '$got', want $soname"
pass "$(basename "$c_tgz"): lib/libnetmesh.so.$version (readelf -d: SONAME $got), its links, header, netmesh.pc, CMake files"

# needed BINARY: the binary needs libnetmesh.so.<major>.
needed() {
	readelf -d "$1" | grep -q "(NEEDED).*\[$soname\]" || fail "$1 does not need $soname"
}

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
[ "$(pkg-config --modversion netmesh)" = "$version" ] || fail "pkg-config --modversion netmesh is not $version"
libdir=$(pkg-config --variable=libdir netmesh)
mkdir "$tmp/pc"
# shellcheck disable=SC2046 # the flags are words
"$CC" -std=c11 -Wall -Wextra -Werror -pedantic -o "$tmp/pc/smoke_c" "$here/smoke.c" \
	$(pkg-config --cflags --libs netmesh) -Wl,-rpath,"$libdir"
# shellcheck disable=SC2046
"$CXX" -std=c++17 -Wall -Wextra -Werror -pedantic -o "$tmp/pc/smoke_cpp" "$here/smoke.cpp" \
	$(pkg-config --cflags --libs netmesh) -Wl,-rpath,"$libdir"
unset PKG_CONFIG_PATH
for p in smoke_c smoke_cpp; do
	needed "$tmp/pc/$p"
	"$tmp/pc/$p" "$tmp/pc/data-$p" "$version" || fail "pkg-config $p"
done
pass "C and C++ programs build with pkg-config against the tarball and run"

cmake -S "$here" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DNETMESH_VERSION="$version" \
	-DCMAKE_C_COMPILER="$(command -v "$CC")" -DCMAKE_CXX_COMPILER="$(command -v "$CXX")" \
	>"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "cmake configure"; }
cmake --build "$tmp/cmake" >"$tmp/cmake-build.log" 2>&1 || { cat "$tmp/cmake-build.log"; fail "cmake --build"; }
for p in smoke_c smoke_cpp; do
	needed "$tmp/cmake/$p"
	"$tmp/cmake/$p" "$tmp/cmake/data-$p" "$version" || fail "CMake $p"
done
pass "C and C++ programs build with CMake (find_package(netmesh $version), netmesh::netmesh) and run"

if [ -e "$prefix/bin/netmesh" ]; then
	case $("$prefix/bin/netmesh" version) in
	"netmesh $version "*) pass "bin/netmesh version says $version" ;;
	*) fail "bin/netmesh version: $("$prefix/bin/netmesh" version)" ;;
	esac
fi

# --- the bindings without their copy: the system's libnetmesh.so.<major> -------
# The packages installed above, their library removed, with the tarball's lib/ on
# LD_LIBRARY_PATH: both load libnetmesh.so.<major> by name.
site=$("$tmp/venv/bin/python" -c 'import netmesh, os; print(os.path.dirname(netmesh.__file__))')
rm "$site/libnetmesh.so"
(cd "$tmp/py" && LD_LIBRARY_PATH="$prefix/lib" "$tmp/venv/bin/python" -c '
import sys, netmesh
found = str(netmesh.find_library())
with netmesh.Bus(embedded={"store_dir": sys.argv[1]}) as bus:
    bus.publish([{"lang": "python"}])
    assert len(bus.poll(wait=5).events) == 1
print(found)' "$tmp/py/data-system" >"$tmp/py/found") || fail "Python with the system library"
[ "$(cat "$tmp/py/found")" = "$soname" ] || fail "Python loaded $(cat "$tmp/py/found"), not $soname"
rm -r "$tmp/node/node_modules/netmesh/prebuilds"
(cd "$tmp/node" && LD_LIBRARY_PATH="$prefix/lib" "$NODE" -e '
const netmesh = require("netmesh");
(async () => {
  const found = netmesh.findLibrary();
  const bus = await netmesh.Bus.open({ embedded: { store_dir: process.argv[1] } });
  await bus.publish([{ lang: "node" }]);
  if ((await bus.poll({ waitMs: 5000 })).events.length !== 1) throw new Error("no event");
  await bus.close();
  console.log(found);
})().catch((err) => { console.error(err); process.exit(1); });' "$tmp/node/data-system" >"$tmp/node/found") \
	|| fail "Node with the system library"
[ "$(cat "$tmp/node/found")" = "$soname" ] || fail "Node loaded $(cat "$tmp/node/found"), not $soname"
pass "without their copy, the Python and Node packages load the system's $soname (LD_LIBRARY_PATH=<tarball>/lib)"

# --- make install: the same files as the tarball ----------------------------
"$MAKE" -s -C "$checkout" install PREFIX="$tmp/installed" >"$tmp/install.log" 2>&1 \
	|| { cat "$tmp/install.log"; fail "make install"; }
(cd "$prefix" && find . ! -path './bin*' | sort) >"$tmp/tarball.files"
(cd "$tmp/installed" && find . | sort) >"$tmp/installed.files"
diff -u "$tmp/tarball.files" "$tmp/installed.files" || fail "make install and the tarball differ (-tarball +install)"
[ "$(PKG_CONFIG_PATH="$tmp/installed/lib/pkgconfig" pkg-config --variable=prefix netmesh)" = "$tmp/installed" ] \
	|| fail "the installed netmesh.pc does not name its prefix"
mkdir "$tmp/inst"
# shellcheck disable=SC2046
"$CC" -std=c11 -o "$tmp/inst/smoke_c" "$here/smoke.c" \
	$(PKG_CONFIG_PATH="$tmp/installed/lib/pkgconfig" pkg-config --cflags --libs netmesh) \
	-Wl,-rpath,"$tmp/installed/lib"
"$tmp/inst/smoke_c" "$tmp/inst/data" "$version" >/dev/null || fail "smoke.c against make install"
pass "make install PREFIX=... installs the tarball's files; a C program builds against it and runs"
