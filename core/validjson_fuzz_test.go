package core

import (
	"encoding/json"
	"testing"
)

// FuzzValidAgrees keeps the fast validator honest against encoding/json.
func FuzzValidAgrees(f *testing.F) {
	for _, s := range []string{`{}`, `[1,2]`, `01`, `1 2`, `{"a":1,}`, `[1,]`, `"\x"`, `"\u12"`,
		`{"a" 1}`, `  {"a":[{"b":null}]}  `, `1e5`, `-0`, `-`, `1.`, `.5`, `tru`, `"a` + "\x01" + `"`,
		`{"a":1}x`, `[`, `""`, `"\ud800"`, `1E+2`, `{"events":[{"a":1},null,"x"]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if validJSON(b) != json.Valid(b) {
			t.Fatalf("validJSON(%q) = %v, encoding/json says %v", b, validJSON(b), json.Valid(b))
		}
	})
}
