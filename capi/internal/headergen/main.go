// Command headergen writes include/netmesh.h, the public C header of libnetmesh,
// from the sources it describes; `go generate ./capi` and `make header` run it:
//
//	go run ./internal/headergen [-dir capi] [-o ../include/netmesh.h]
//
// It parses the Go files of -dir (not the tests) and takes, in source order:
//
//   - every function with an //export line: its doc comment (the lines above the
//     //export line) and a C prototype derived from its Go signature;
//   - every comment group with a //netmesh:c line, for a function written in C:
//     the lines above it as the doc, the rest of that line as the prototype;
//
// and from package core the result codes (core.Codes), NETMESH_ABI_VERSION
// (core.ABIVersion) and the version (core.Version). The header's fixed text is
// header.h.tmpl. Doc lines are copied verbatim ("//" becomes "**"), so the
// output depends on nothing but the sources. A doc comment must describe each
// parameter in a list item ("  - name: ..." or "  - ptr, len: ..."), say
// whether the function is thread-safe, and name only codes that exist;
// otherwise headergen fails and writes nothing.
package main

import (
	"bytes"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/netmesh/netmesh/core"
)

//go:embed header.h.tmpl
var headerTemplate string

const (
	exportPrefix = "//export "
	cPrefix      = "//netmesh:c "
)

// fn is one function of the header.
type fn struct {
	pos   token.Pos
	name  string
	doc   []string // comment lines without their "//"
	proto string   // "int32_t mesh_poll(uint64_t handle, ...);"
	names []string // parameter names, which the doc must describe
}

func main() {
	dir := flag.String("dir", ".", "directory of the capi Go sources")
	out := flag.String("o", "", "output file (default: standard output)")
	flag.Parse()
	if flag.NArg() != 0 {
		fail(errors.New("usage: headergen [-dir DIR] [-o FILE]"))
	}
	fns, err := parseDir(*dir)
	if err != nil {
		fail(err)
	}
	h, err := render(fns)
	if err != nil {
		fail(err)
	}
	if *out == "" {
		_, err = os.Stdout.Write(h)
	} else if old, rerr := os.ReadFile(*out); rerr != nil || !bytes.Equal(old, h) {
		// Rewritten only when it changes, so make does not rebuild the library.
		err = os.WriteFile(*out, h, 0o644)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "headergen:", err)
	os.Exit(1)
}

// parseDir returns the functions of the Go files in dir, in file name order and
// then source order.
func parseDir(dir string) ([]fn, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var fns []fn
	for _, e := range entries { // sorted by name
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		path := filepath.Join(dir, name)
		file, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		for _, d := range file.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Doc == nil {
				continue
			}
			where := fset.Position(fd.Pos())
			doc, directive, ok, err := splitDoc(fd.Doc, exportPrefix)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %v", where, fd.Name.Name, err)
			}
			if !ok {
				continue
			}
			if directive != fd.Name.Name {
				return nil, fmt.Errorf("%s: //export %s above func %s", where, directive, fd.Name.Name)
			}
			x, err := exported(fd)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %v", where, fd.Name.Name, err)
			}
			x.pos, x.doc = fd.Pos(), doc
			fns = append(fns, x)
		}
		for _, cg := range file.Comments {
			doc, proto, ok, err := splitDoc(cg, cPrefix)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", fset.Position(cg.Pos()), err)
			}
			if !ok {
				continue
			}
			m := cName.FindStringSubmatch(proto)
			if m == nil {
				return nil, fmt.Errorf("%s: no mesh_ function in %q", fset.Position(cg.Pos()), proto)
			}
			fns = append(fns, fn{pos: cg.Pos(), name: m[1], doc: doc, proto: proto + ";", names: cParams(m[2])})
		}
	}
	sort.SliceStable(fns, func(i, j int) bool { return fns[i].pos < fns[j].pos })
	seen := map[string]bool{}
	for _, f := range fns {
		if seen[f.name] {
			return nil, fmt.Errorf("%s is declared twice", f.name)
		}
		seen[f.name] = true
	}
	if len(fns) == 0 {
		return nil, fmt.Errorf("no //export functions in %s", dir)
	}
	return fns, nil
}

var cName = regexp.MustCompile(`^[A-Za-z0-9_ *]*\b(mesh_[a-z0-9_]+)\(([^()]*)\)$`)

// cParams returns the parameter names of a C parameter list such as
// "char *ptr, size_t n" (none for "void").
func cParams(list string) []string {
	var names []string
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimSpace(p)
		if i := strings.LastIndexAny(p, " *"); i >= 0 && p != "void" {
			names = append(names, p[i+1:])
		}
	}
	return names
}

// splitDoc finds the line starting with prefix in cg and returns the lines above
// it (without "//" and without trailing blank lines) and the rest of that line.
func splitDoc(cg *ast.CommentGroup, prefix string) (doc []string, rest string, ok bool, err error) {
	for i, c := range cg.List {
		if !strings.HasPrefix(c.Text, prefix) {
			continue
		}
		for _, d := range cg.List[:i] {
			if !strings.HasPrefix(d.Text, "//") {
				return nil, "", false, errors.New("write its doc comment with //, not /* */")
			}
			doc = append(doc, strings.TrimRight(strings.TrimPrefix(d.Text, "//"), " \t"))
		}
		for len(doc) > 0 && doc[len(doc)-1] == "" {
			doc = doc[:len(doc)-1]
		}
		return doc, strings.TrimSpace(strings.TrimPrefix(c.Text, prefix)), true, nil
	}
	return nil, "", false, nil
}

// exported derives the C prototype of a cgo export.
func exported(fd *ast.FuncDecl) (fn, error) {
	f := fn{name: fd.Name.Name}
	var params []string
	for _, field := range fd.Type.Params.List {
		t, err := cType(field.Type)
		if err != nil {
			return f, err
		}
		if len(field.Names) == 0 {
			return f, errors.New("unnamed parameter")
		}
		for _, n := range field.Names {
			params = append(params, decl(t, n.Name))
			f.names = append(f.names, n.Name)
		}
	}
	if len(params) == 0 {
		params = []string{"void"}
	}
	result := "void"
	if r := fd.Type.Results; r != nil {
		if r.NumFields() != 1 {
			return f, errors.New("more than one result")
		}
		t, err := cType(r.List[0].Type)
		if err != nil {
			return f, err
		}
		result = t
	}
	f.proto = decl(result, f.name) + "(" + strings.Join(params, ", ") + ");"
	return f, nil
}

// decl joins a C type and a name: "uint64_t handle", "const char *config".
func decl(t, name string) string {
	if strings.HasSuffix(t, "*") {
		return t + name
	}
	return t + " " + name
}

// scalars are the C types of cgo's C.<name> that the header may use as they are.
var scalars = map[string]bool{
	"int8_t": true, "int16_t": true, "int32_t": true, "int64_t": true,
	"uint8_t": true, "uint16_t": true, "uint32_t": true, "uint64_t": true,
	"size_t": true,
}

// cType maps a cgo type to C: C.T is T, *C.T is "T *", **C.char is "char **",
// and *C.char is "const char *" (strings the callee only reads: every input,
// and the static strings it returns).
func cType(e ast.Expr) (string, error) {
	stars := 0
	for {
		s, ok := e.(*ast.StarExpr)
		if !ok {
			break
		}
		stars++
		e = s.X
	}
	sel, ok := e.(*ast.SelectorExpr)
	if !ok || !isIdent(sel.X, "C") {
		return "", fmt.Errorf("type %s is not a C type", types(e))
	}
	base := sel.Sel.Name
	switch {
	case base == "char" && stars == 1:
		return "const char *", nil
	case base == "char" && stars == 2:
		return "char **", nil
	case scalars[base] && stars == 0:
		return base, nil
	case scalars[base] && stars == 1:
		return base + " *", nil
	}
	return "", fmt.Errorf("type %sC.%s has no C mapping in headergen", strings.Repeat("*", stars), base)
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// types names a Go type expression for an error message.
func types(e ast.Expr) string {
	if sel, ok := e.(*ast.SelectorExpr); ok {
		return types(sel.X) + "." + sel.Sel.Name
	}
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return fmt.Sprintf("%T", e)
}

// paramItem matches the list item that describes parameters: "  - a, b: ...".
var paramItem = regexp.MustCompile(`^\s+- ([a-z0-9_]+(?:, [a-z0-9_]+)*):`)

// macroRef matches a name the header defines: a code or NETMESH_ABI_VERSION.
var macroRef = regexp.MustCompile(`\b(?:NETMESH|MESH)_[A-Z_]+\b`)

// check enforces what every doc comment must say, and that it fits in a C comment.
func check(f fn, known map[string]bool) error {
	text := strings.Join(f.doc, "\n")
	switch {
	case len(f.doc) == 0:
		return fmt.Errorf("%s has no doc comment", f.name)
	case !strings.HasPrefix(f.name, "mesh_"):
		return fmt.Errorf("%s: exported names start with mesh_", f.name)
	case strings.Contains(text, "*/") || strings.Contains(text, "/*"):
		return fmt.Errorf("%s: its doc comment cannot contain /* or */", f.name)
	case !strings.Contains(strings.ToLower(text), "thread"):
		return fmt.Errorf("%s: its doc comment must say whether it is thread-safe", f.name)
	}
	described := map[string]bool{}
	for _, line := range f.doc {
		if m := paramItem.FindStringSubmatch(line); m != nil {
			for _, p := range strings.Split(m[1], ",") {
				described[strings.TrimSpace(p)] = true
			}
		}
	}
	for _, p := range f.names {
		if !described[p] {
			return fmt.Errorf("%s: its doc comment has no list item %q for parameter %s", f.name, "  - "+p+": ...", p)
		}
	}
	for _, m := range macroRef.FindAllString(text, -1) {
		if !known[m] && !(strings.HasSuffix(m, "_") && prefixOfAny(m, known)) { // MESH_E_* is fine
			return fmt.Errorf("%s: its doc comment names %s, which the header does not define", f.name, m)
		}
	}
	return nil
}

func prefixOfAny(prefix string, names map[string]bool) bool {
	for n := range names {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

// header is the data of header.h.tmpl.
type header struct {
	Version    string
	ABIVersion string
	Actions    []string // "MESH_E_X  what to do", aligned
	Enum       []string // `MESH_X = -n, /* ("x") description */`, aligned
	Funcs      []headerFunc
}

type headerFunc struct {
	Doc   []string // comment lines, without the leading "**"
	Proto string
}

func render(fns []fn) ([]byte, error) {
	h := header{Version: fmt.Sprint(core.Version), ABIVersion: fmt.Sprint(core.ABIVersion)}
	known := map[string]bool{"NETMESH_ABI_VERSION": true}
	codes := core.Codes()
	width, ewidth := 0, 0 // of the longest name, and of the longest "NAME = n,"
	for _, c := range codes {
		known[c.Enum] = true
		width = max(width, len(c.Enum))
	}
	for _, c := range codes {
		ewidth = max(ewidth, len(fmt.Sprintf("%-*s = %d,", width, c.Enum, c.Code)))
	}
	for i, c := range codes {
		for _, s := range []string{c.Name, c.Description, c.Action} {
			if strings.Contains(s, "*/") || strings.Contains(s, "/*") || strings.Contains(s, "\n") {
				return nil, fmt.Errorf("code %s: %q does not fit in a C comment", c.Enum, s)
			}
		}
		if c.Action != "" {
			h.Actions = append(h.Actions, fmt.Sprintf("%-*s  %s", width, c.Enum, c.Action))
		}
		sep := ","
		if i == len(codes)-1 {
			sep = ""
		}
		e := fmt.Sprintf("%-*s = %d%s", width, c.Enum, c.Code, sep)
		h.Enum = append(h.Enum, fmt.Sprintf("%-*s /* (%q) %s */", ewidth, e, c.Name, c.Description))
	}
	for _, f := range fns {
		if err := check(f, known); err != nil {
			return nil, err
		}
		h.Funcs = append(h.Funcs, headerFunc{Doc: f.doc, Proto: f.proto})
	}
	t, err := template.New("header.h.tmpl").Parse(headerTemplate)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, h); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
