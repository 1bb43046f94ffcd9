package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/netmesh/netmesh/core"
)

// common holds the flags every command takes, before or after the command
// name. Each is recorded only when given, so the library's defaults apply
// otherwise and --config keeps the keys no flag sets.
type common struct {
	url, storeDir, prefix, config string
	shards                        int
	timeout                       time.Duration
	set                           map[string]bool
}

func newCommon() *common { return &common{set: map[string]bool{}} }

// register adds the common flags to fs. Both the top-level flag set and each
// command's record into the same struct; no default is written, so a flag
// given before the command is not reset by the command's flag set.
func (c *common) register(fs *flag.FlagSet) {
	str := func(name string, dst *string) {
		fs.Func(name, "", func(s string) error {
			*dst, c.set[name] = s, true
			return nil
		})
	}
	str("url", &c.url)
	str("store-dir", &c.storeDir)
	str("prefix", &c.prefix)
	str("config", &c.config)
	fs.Func("shards", "", func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil {
			return errors.New("not an integer")
		}
		c.shards, c.set["shards"] = n, true
		return nil
	})
	fs.Func("timeout", "", func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil {
			return errors.New("not a duration such as 500ms, 10s or 1m")
		}
		c.timeout, c.set["timeout"] = d, true
		return nil
	})
}

const commonFlagsHelp = `Common flags (before or after the command):
  --url URL        NATS server(s): one URL or comma-separated cluster seeds.
                   Absent: the embedded server, in this process, on --store-dir
  --store-dir DIR  the embedded server's store (default netmesh-data); one process
                   at a time may use it
  --prefix P       stream prefix (default netmesh)
  --shards N       number of shards (default 16); everyone on a bus must agree
  --timeout D      request timeout, such as 500ms or 30s (default 10s)
  --config JSON    a config object (docs/reference.md#config), or @FILE to read
                   it from a file; the flags above override its keys
`

// member is one key of a JSON object with its value as written.
type member struct {
	key string
	raw json.RawMessage
}

// objectMembers splits a JSON object into its members, in order. A value
// that is not an object, or a key given twice, is an error.
func objectMembers(data []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	var out []member
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key := tok.(string) // inside an object the decoder only yields string keys
		if seen[key] {
			return nil, fmt.Errorf("key %q appears twice", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		out = append(out, member{key, raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("text after the JSON object")
	}
	return out, nil
}

// setMember replaces key's value, or appends it.
func setMember(ms []member, key string, raw json.RawMessage) []member {
	for i := range ms {
		if ms[i].key == key {
			ms[i].raw = raw
			return ms
		}
	}
	return append(ms, member{key, raw})
}

func dropMember(ms []member, key string) []member {
	out := ms[:0]
	for _, m := range ms {
		if m.key != key {
			out = append(out, m)
		}
	}
	return out
}

func getMember(ms []member, key string) (json.RawMessage, bool) {
	for _, m := range ms {
		if m.key == key {
			return m.raw, true
		}
	}
	return nil, false
}

func encodeObject(ms []member) []byte {
	out := []byte{'{'}
	for i, m := range ms {
		if i > 0 {
			out = append(out, ',')
		}
		k, _ := json.Marshal(m.key)
		out = append(append(append(out, k...), ':'), m.raw...)
	}
	return append(out, '}')
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// configJSON merges the flags over --config into the config object of
// core.Open. The values themselves are the library's to check.
func (c *common) configJSON(cmd string) ([]byte, error) {
	var ms []member
	if c.set["config"] {
		data := []byte(c.config)
		if name, ok := strings.CutPrefix(c.config, "@"); ok {
			var err error
			if data, err = os.ReadFile(name); err != nil {
				return nil, usagef(cmd, "--config: %v", err)
			}
		}
		var err error
		if ms, err = objectMembers(data); err != nil {
			return nil, usagef(cmd, "--config must be a JSON object: %v", err)
		}
	}
	if c.set["url"] {
		if c.set["store-dir"] {
			return nil, usagef(cmd, "--store-dir is for the embedded server and cannot go with --url")
		}
		// url and embedded are the two answers to "which server": the flag wins.
		ms = setMember(dropMember(ms, "embedded"), "url", jsonString(c.url))
	}
	if c.set["store-dir"] {
		if u, ok := getMember(ms, "url"); ok && !isNull(u) {
			return nil, usagef(cmd, "--store-dir is for the embedded server, but --config sets url")
		}
		var emb []member
		if raw, ok := getMember(ms, "embedded"); ok && !isNull(raw) {
			var err error
			if emb, err = objectMembers(raw); err != nil {
				return nil, usagef(cmd, "--config: embedded must be a JSON object: %v", err)
			}
		}
		emb = setMember(emb, "store_dir", jsonString(c.storeDir))
		ms = setMember(ms, "embedded", encodeObject(emb))
	}
	if c.set["prefix"] {
		ms = setMember(ms, "prefix", jsonString(c.prefix))
	}
	if c.set["shards"] {
		ms = setMember(ms, "shards", json.RawMessage(strconv.Itoa(c.shards)))
	}
	if c.set["timeout"] {
		if c.timeout <= 0 {
			return nil, usagef(cmd, "--timeout must be positive, got %v", c.timeout)
		}
		millis := (c.timeout + time.Millisecond - 1) / time.Millisecond // whole ms, rounded up
		ms = setMember(ms, "request_timeout_ms", json.RawMessage(strconv.FormatInt(int64(millis), 10)))
	}
	return encodeObject(ms), nil
}

// open connects with the merged config.
func (c *common) open(cmd string) (*core.Bus, []byte, error) {
	cfg, err := c.configJSON(cmd)
	if err != nil {
		return nil, nil, err
	}
	bus, err := core.Open(cfg)
	return bus, cfg, err
}

// maxRequestBytes is the config's max_request_bytes, or the library default.
func maxRequestBytes(cfg []byte) int {
	var probe struct {
		MaxRequestBytes int64 `json:"max_request_bytes"`
	}
	if json.Unmarshal(cfg, &probe) == nil && probe.MaxRequestBytes > 0 {
		return int(min(probe.MaxRequestBytes, core.MaxRequestBytesLimit))
	}
	return 64 << 20
}

// optInt is an integer flag that may be absent (--shard).
type optInt struct {
	v   int
	set bool
}

func (o *optInt) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.Itoa(o.v)
}

func (o *optInt) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("not an integer")
	}
	o.v, o.set = n, true
	return nil
}
