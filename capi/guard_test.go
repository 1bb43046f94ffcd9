package main

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/netmesh/netmesh/core"
)

// A panic below an export becomes MESH_E_INTERNAL with an error object, and the
// process goes on. A zero core.Bus (never opened, no connection) makes core
// panic on first use.
// (cgo is not allowed in test files; the cgo-generated type names are.)
func TestPanicBecomesInternal(t *testing.T) {
	h := handles.add(new(core.Bus))
	defer handles.remove(h)
	var out *_Ctype_char
	rc := mesh_stats(_Ctype_uint64_t(h), &out)
	if core.Code(rc) != core.CodeInternal {
		t.Fatalf("code %d, want internal", rc)
	}
	if out == nil {
		t.Fatal("no error object")
	}
	js := goString(out)
	freeC(out)
	if !strings.HasPrefix(js, `{"error":{"code":"internal","message":"internal error (recovered panic): `) ||
		!strings.HasSuffix(js, `"retryable":false}}`) {
		t.Errorf("error object %s", js)
	}
	// A NULL response_out is fine too.
	if rc := mesh_poll(_Ctype_uint64_t(h), nil, 0, nil); core.Code(rc) != core.CodeInternal {
		t.Errorf("poll: code %d", rc)
	}
}

func goString(p *_Ctype_char) string {
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice((*byte)(unsafe.Pointer(p)), n))
}
