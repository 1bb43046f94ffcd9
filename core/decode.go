package core

import (
	"reflect"
	"strings"
	"sync"
)

// decodeObject fills the struct *dst from the JSON object data, strictly: each
// key must name a field by its json tag and appear once; a value must have the
// field's type (integers in the range its range tag names). A pointer field
// takes null as absent; any other field refuses null. A field tagged
// secret:"true" never has its value quoted in an error. Messages name the
// field by its path (embedded.store_dir). data must be valid JSON already.
func decodeObject(what, path string, data []byte, dst any) error {
	v := reflect.ValueOf(dst).Elem()
	fields := fieldsOf(v.Type())
	return eachField(what, data, func(key string, raw []byte) error {
		i, ok := fields[key]
		if !ok {
			return unknownField(what, key)
		}
		f, sf := v.Field(i), v.Type().Field(i)
		if f.Kind() == reflect.Slice {
			if !isNull(raw) {
				f.SetBytes(raw)
			}
			return nil
		}
		if f.Kind() == reflect.Pointer {
			if isNull(raw) {
				f.SetZero()
				return nil
			}
			// A fresh value, starting from the one there (the defaults).
			fresh := reflect.New(f.Type().Elem())
			if !f.IsNil() {
				fresh.Elem().Set(f.Elem())
			}
			f.Set(fresh)
			f = f.Elem()
		}
		return decodeValue(key, path+key, sf.Tag, raw, f)
	})
}

func decodeValue(key, name string, tag reflect.StructTag, raw []byte, f reflect.Value) error {
	if tag.Get("secret") == "true" && !isSecretType(f.Kind(), raw) {
		return NewError(CodeInvalidArgument, "%s must be a %s, got %s", name, f.Kind(), jsonKind(raw))
	}
	switch f.Kind() {
	case reflect.String:
		s, err := stringField(name, raw)
		f.SetString(s)
		return err
	case reflect.Bool:
		b, err := boolField(name, raw)
		f.SetBool(b)
		return err
	case reflect.Int64:
		r, ok := intRanges[tag.Get("range")]
		if !ok {
			panic("decodeObject: " + name + " has no known range tag")
		}
		n, err := intField(name, raw, r[0], r[1])
		f.SetInt(n)
		return err
	case reflect.Struct:
		return decodeObject(name, name+".", raw, f.Addr().Interface())
	}
	panic("decodeObject: unsupported field type " + f.Type().String())
}

// isSecretType reports whether raw has the JSON type of kind, so that decoding
// it can fail only on its content, never echoing it.
func isSecretType(kind reflect.Kind, raw []byte) bool {
	return kind != reflect.String || (len(raw) > 0 && raw[0] == '"')
}

// jsonKind names the JSON type of a value without quoting it.
func jsonKind(raw []byte) string {
	switch {
	case len(raw) == 0:
		return "nothing"
	case raw[0] == '"':
		return "a string"
	case raw[0] == '{':
		return "an object"
	case raw[0] == '[':
		return "an array"
	case raw[0] == 't' || raw[0] == 'f':
		return "a boolean"
	case raw[0] == 'n':
		return "null"
	}
	return "a number"
}

var fieldCache sync.Map // reflect.Type -> map[string]int

// fieldsOf maps json tag names to field indexes.
func fieldsOf(t reflect.Type) map[string]int {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]int)
	}
	m := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			m[name] = i
		}
	}
	fieldCache.Store(t, m)
	return m
}
