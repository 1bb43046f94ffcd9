package main

/*
#include <stdlib.h>
*/
import "C"

import (
	"unsafe"

	"github.com/netmesh/netmesh/core"
)

// maxRequestLen is the largest max_request_bytes a config may set (1 GiB). A longer
// request is over every bus's limit, so it is refused before it is copied: copying
// an arbitrary caller-given length could exhaust memory, which Go cannot recover.
const maxRequestLen = core.MaxRequestBytesLimit

// goBytes copies a caller's (pointer, length) request into Go memory, so the core
// never holds C memory after the call returns. NULL with length 0 is nil, which
// the core reads as {}; NULL with a length is invalid_argument. Validation of the
// contents (UTF-8, JSON, size limits) is the core's.
func goBytes(p *C.char, n C.size_t, what string) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	if p == nil {
		return nil, core.NewError(core.CodeInvalidArgument, "%s is NULL with length %d", what, uint64(n))
	}
	if uint64(n) > maxRequestLen {
		return nil, core.NewError(core.CodeTooLarge, "%s of %d bytes is over the largest max_request_bytes (%d)", what, uint64(n), maxRequestLen)
	}
	b := make([]byte, int(n))
	copy(b, unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)))
	return b, nil
}

// cBytes returns a NUL-terminated copy of b in C memory, for the caller to release
// with mesh_free. (cgo's C.malloc never returns NULL: it aborts on exhaustion.)
func cBytes(b []byte) *C.char {
	p := C.malloc(C.size_t(len(b) + 1))
	dst := unsafe.Slice((*byte)(p), len(b)+1)
	copy(dst, b)
	dst[len(b)] = 0
	return (*C.char)(p)
}

// setOut stores a copy of b in *out, unless the caller passed NULL (does not want it).
func setOut(out **C.char, b []byte) {
	if out != nil {
		*out = cBytes(b)
	}
}

// freeC releases C memory the library returned; free(NULL) is a no-op.
func freeC(p *C.char) { C.free(unsafe.Pointer(p)) }

// clearOut sets *out to NULL on entry, so a caller may mesh_free it whatever happens.
func clearOut(out **C.char) {
	if out != nil {
		*out = nil
	}
}

// The static strings of mesh_version and mesh_strerror: allocated once, never
// freed, read-only after init (so safe from any thread).
var (
	versionC       = C.CString(core.Version)
	unknownCodeC   = C.CString(core.Code(1).Describe()) // 1 is no code: "unknown code"
	describeByCode = map[core.Code]*C.char{}
)

func init() {
	for _, row := range core.Codes() {
		describeByCode[row.Code] = C.CString(row.Description)
	}
}
