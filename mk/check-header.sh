#!/bin/sh
# check-header.sh LIB CGO_HEADER PUBLIC_HEADER
#
# Proves that the hand-written public header and the library agree:
#  1. the mesh_* symbols defined by LIB (nm -D) are exactly the functions the
#     public header declares, and exactly those the cgo header declares;
#  2. each function has the same return and parameter types in both headers,
#     once `const` (which cgo cannot express), parameter names and cgo's Go*
#     typedefs are normalized away.
# Prints the agreed prototypes; exits non-zero with a diff on any difference.
set -eu
lib=$1 cgo=$2 pub=$3
CC=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Symbols defined in the text section of the library.
nm -D --defined-only "$lib" | awk '$2 == "T" && $3 ~ /^mesh_/ { print $3 }' | sort >"$tmp/lib.syms"

# prototypes HEADER: one normalized line per mesh_* declaration, e.g.
#   int32_t mesh_poll(uint64_t,char*,size_t,char**)
# The C preprocessor (in C mode) strips comments and the extern "C" guards.
prototypes() {
	"$CC" -E -P -x c "$1" | tr '\n' ' ' | tr ';' '\n' | awk '
	BEGIN {
		map["GoInt8"] = "int8_t";   map["GoUint8"] = "uint8_t"
		map["GoInt16"] = "int16_t"; map["GoUint16"] = "uint16_t"
		map["GoInt32"] = "int32_t"; map["GoUint32"] = "uint32_t"
		map["GoInt64"] = "int64_t"; map["GoUint64"] = "uint64_t"
		map["GoUintptr"] = "uintptr_t"
	}
	# type: normalize one type (with or without a parameter name).
	function type(s, keepLast,   n, t, i, out, words) {
		gsub(/\*/, " * ", s)
		n = split(s, t, /[ \t]+/)
		out = ""; words = 0
		for (i = 1; i <= n; i++) {
			if (t[i] == "" || t[i] == "const" || t[i] == "extern") continue
			if (t[i] in map) t[i] = map[t[i]]
			tok[++words] = t[i]
		}
		# A trailing identifier after a type is the parameter name (unless it is
		# itself part of a type, as in an unnamed "unsigned long" or "size_t").
		if (!keepLast && words > 1 && tok[words] ~ /^[A-Za-z_][A-Za-z0-9_]*$/ &&
		    tok[words] !~ /^(char|short|int|long|signed|unsigned|float|double|void|_Bool|[A-Za-z0-9_]+_t)$/) words--
		for (i = 1; i <= words; i++) out = out (i > 1 && tok[i] != "*" && tok[i-1] != "*" ? " " : "") tok[i]
		return out
	}
	match($0, /mesh_[a-z_]+[ \t]*\(/) {
		head = substr($0, 1, RSTART - 1)
		name = substr($0, RSTART, RLENGTH); sub(/[ \t]*\($/, "", name)
		rest = substr($0, RSTART + RLENGTH)
		sub(/\)[^)]*$/, "", rest)
		n = split(rest, p, ",")
		args = ""
		for (i = 1; i <= n; i++) args = args (i > 1 ? "," : "") type(p[i], 0)
		print type(head, 1) " " name "(" args ")"
	}' | sort
}

prototypes "$pub" >"$tmp/pub.protos"
prototypes "$cgo" >"$tmp/cgo.protos"
# Functions written in C in capi/*.c are not in the cgo header; each such file
# includes the public header, so the compiler has already checked its type.
for f in $(sed -n 's/^[a-z].* \(mesh_[a-z_]*\)(.*/\1/p' capi/*.c 2>/dev/null); do
	grep " $f(" "$tmp/pub.protos" >>"$tmp/cgo.protos" || true
done
sort -o "$tmp/cgo.protos" "$tmp/cgo.protos"
sed 's/.* \(mesh_[a-z_]*\)(.*/\1/' "$tmp/pub.protos" | sort >"$tmp/pub.syms"
sed 's/.* \(mesh_[a-z_]*\)(.*/\1/' "$tmp/cgo.protos" | sort >"$tmp/cgo.syms"

status=0
if ! diff -u "$tmp/lib.syms" "$tmp/pub.syms" >"$tmp/d1"; then
	echo "check-header: mesh_* symbols of $lib (-) differ from $pub (+):"; cat "$tmp/d1"; status=1
fi
if ! diff -u "$tmp/cgo.syms" "$tmp/pub.syms" >"$tmp/d2"; then
	echo "check-header: functions of $cgo (-) differ from $pub (+):"; cat "$tmp/d2"; status=1
fi
if ! diff -u "$tmp/cgo.protos" "$tmp/pub.protos" >"$tmp/d3"; then
	echo "check-header: types in $cgo (-) differ from $pub (+), const aside:"; cat "$tmp/d3"; status=1
fi
if [ "$(wc -l <"$tmp/lib.syms")" -eq 0 ]; then
	echo "check-header: no mesh_* symbols in $lib"; status=1
fi
if [ $status -eq 0 ]; then
	echo "check-header: $(wc -l <"$tmp/lib.syms") functions agree (nm -D, $pub, $cgo):"
	sed 's/^/  /' "$tmp/pub.protos"
fi
exit $status
