package main

/*
#include <stdint.h>
*/
import "C"

import (
	"github.com/netmesh/netmesh/core"
)

// fail stores err's JSON object in *out (when wanted) and returns its code.
func fail(out **C.char, err error) C.int32_t {
	code := core.CodeOf(err)
	if code == core.CodeOK { // an error must never read as success
		code = core.CodeInternal
	}
	setOut(out, core.ErrorJSON(err))
	return C.int32_t(code)
}

// guard is deferred first by every export that returns a code: a panic anywhere
// below becomes MESH_E_INTERNAL with an error object, never a crashed host.
func guard(rc *C.int32_t, out **C.char) {
	r := recover()
	if r == nil {
		return
	}
	*rc = C.int32_t(core.CodeInternal)
	defer func() { _ = recover() }() // a bad out pointer must not panic again
	if out != nil {
		// Whatever was stored before the panic is replaced; it is C memory
		// only the library knows about, so release it first.
		if *out != nil {
			freeC(*out)
		}
		*out = cBytes(core.ErrorJSON(core.NewError(core.CodeInternal, "internal error (recovered panic): %v", r)))
	}
}

// quiet is deferred by the exports that return no code.
func quiet() { _ = recover() }
