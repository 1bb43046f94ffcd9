#!/bin/sh
# check-header.sh LIB HEADER: the mesh_* functions HEADER declares (comments
# stripped by the C preprocessor) are exactly the mesh_* text symbols of LIB.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$1" | awk '$2 == "T" && $3 ~ /^mesh_/ { print $3 }' | sort >"$tmp/lib"
${CC:-cc} -E -P -x c "$2" | grep -o 'mesh_[a-z0-9_]*[[:space:]]*(' | sed 's/[[:space:]]*($//' | sort >"$tmp/header"
if ! diff -u "$tmp/lib" "$tmp/header"; then
	echo "check-header: mesh_* symbols of $1 (-) differ from the functions of $2 (+)"; exit 1
fi
test -s "$tmp/lib" || { echo "check-header: no mesh_* symbols in $1"; exit 1; }
echo "check-header: $2 declares the $(wc -l <"$tmp/lib") mesh_* functions $1 defines"
