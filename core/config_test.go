package core

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	want := busConfig{
		Embedded:        embeddedConfig{StoreDir: "netmesh-data"},
		Prefix:          "netmesh",
		Shards:          16,
		Replicas:        1,
		DedupWindow:     time.Hour,
		ConnectTimeout:  5 * time.Second,
		RequestTimeout:  10 * time.Second,
		MaxRequestBytes: 67108864,
		LogLevel:        "warn",
		GroupSession:    10 * time.Second,
	}
	if got := defaultConfig(); got != want {
		t.Fatalf("DefaultConfig() = %+v, want %+v", got, want)
	}
	for _, in := range []string{"", "{}", "  {}\n", " \t\r\n ",
		`{"url":null,"embedded":null,"max_messages":null,"max_bytes":null,"max_age_ms":null,"auth":null,"tls":null}`,
		`{"embedded":{},"auth":{},"tls":{}}`,
		`{"embedded":{"listen":null}}`,
	} {
		got, err := parseConfig([]byte(in))
		if err != nil {
			t.Fatalf("ParseConfig(%q): %v", in, err)
		}
		if got != want {
			t.Fatalf("ParseConfig(%q) = %+v, want defaults %+v", in, got, want)
		}
	}
	if got, err := parseConfig(nil); err != nil || got != want {
		t.Fatalf("ParseConfig(nil) = %+v, %v", got, err)
	}
}

func TestConfigAllFields(t *testing.T) {
	in := `{"url":"nats://a:4222, nats://b:4222","prefix":"my-Mesh_1","shards":7,"replicas":3,
	"dedup_window_ms":1500,"max_messages":10,"max_bytes":4096,"max_age_ms":2000,
	"connect_timeout_ms":123,"request_timeout_ms":456,"max_request_bytes":2048,
	"auth":{"user":"u","password":"p"},"tls":{"ca_file":"ca","cert_file":"c","key_file":"k"},
	"log_level":"debug"}`
	got, err := parseConfig([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := busConfig{
		URL:             "nats://a:4222, nats://b:4222",
		Embedded:        embeddedConfig{StoreDir: "netmesh-data"},
		Prefix:          "my-Mesh_1",
		Shards:          7,
		Replicas:        3,
		DedupWindow:     1500 * time.Millisecond,
		MaxMessages:     10,
		MaxBytes:        4096,
		MaxAge:          2 * time.Second,
		ConnectTimeout:  123 * time.Millisecond,
		RequestTimeout:  456 * time.Millisecond,
		MaxRequestBytes: 2048,
		Auth:            authConfig{User: "u", Password: "p"},
		TLS:             tlsConfig{CAFile: "ca", CertFile: "c", KeyFile: "k"},
		LogLevel:        "debug",
		GroupSession:    10 * time.Second,
	}
	if got != want {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}

	emb := `{"embedded":{"store_dir":"/tmp/x","listen":"127.0.0.1:0","memory":true},"auth":{"token":"tk"}}`
	got, err = parseConfig([]byte(emb))
	if err != nil {
		t.Fatal(err)
	}
	if got.Embedded != (embeddedConfig{StoreDir: "/tmp/x", Listen: "127.0.0.1:0", Memory: true}) || got.Auth.Token != "tk" {
		t.Fatalf("embedded config parsed as %+v auth %+v", got.Embedded, got.Auth)
	}
}

func TestConfigUnknownFields(t *testing.T) {
	for _, tc := range []struct{ in, name string }{
		{`{"shard":1}`, "shard"},
		{`{"Shards":1}`, "Shards"},
		{`{"bogus":null}`, "bogus"},
		{`{"embedded":{"store":"x"}}`, "store"},
		{`{"embedded":{"memory":true,"bogus":null}}`, "bogus"},
		{`{"auth":{"username":"x"}}`, "username"},
		{`{"auth":{"bogus":null}}`, "bogus"},
		{`{"tls":{"ca":"x"}}`, "ca"},
		{`{"tls":{"bogus":null}}`, "bogus"},
	} {
		_, err := parseConfig([]byte(tc.in))
		if err == nil {
			t.Errorf("ParseConfig(%s): accepted an unknown field", tc.in)
			continue
		}
		if CodeOf(err) != CodeInvalidArgument || !strings.Contains(err.Error(), jsonQuote(tc.name)) ||
			!strings.Contains(err.Error(), "unknown field") {
			t.Errorf("ParseConfig(%s): %v (code %v), want invalid_argument naming %q", tc.in, err, CodeOf(err), tc.name)
		}
	}
}

func TestConfigWrongTypes(t *testing.T) {
	for _, tc := range []struct{ in, mention string }{
		{`[]`, "object"},
		{`5`, "object"},
		{`"x"`, "object"},
		{`null`, "object"},
		{`{`, "invalid JSON"},
		{`{"shards":16,}`, "invalid JSON"},
		{"{\"prefix\":\"\xff\"}", "UTF-8"},
		{`{"shards":"16"}`, "shards"},
		{`{"shards":true}`, "shards"},
		{`{"shards":null}`, "shards"},
		{`{"prefix":5}`, "prefix"},
		{`{"prefix":null}`, "prefix"},
		{`{"url":5}`, "url"},
		{`{"url":""}`, "url"},
		{`{"url":"  "}`, "url"},
		{`{"embedded":[]}`, "embedded"},
		{`{"embedded":"x"}`, "embedded"},
		{`{"embedded":{"memory":"true"}}`, "embedded.memory"},
		{`{"embedded":{"memory":null}}`, "embedded.memory"},
		{`{"embedded":{"store_dir":1}}`, "embedded.store_dir"},
		{`{"embedded":{"store_dir":""}}`, "embedded.store_dir"},
		{`{"embedded":{"listen":4222}}`, "embedded.listen"},
		{`{"embedded":{"listen":"localhost"}}`, "embedded.listen"},
		{`{"embedded":{"listen":"localhost:65536"}}`, "65535"},
		{`{"auth":{"user":1,"password":"p"}}`, "auth.user"},
		{`{"auth":"u:p"}`, "auth"},
		{`{"tls":{"ca_file":true}}`, "tls.ca_file"},
		{`{"log_level":1}`, "log_level"},
		{`{"log_level":"verbose"}`, "log_level"},
		{`{"prefix":"a.b"}`, "prefix"},
		{`{"prefix":""}`, "prefix"},
		{`{"prefix":` + jsonQuote(strings.Repeat("a", 65)) + `}`, "prefix"},
		{`{"shards":4,"shards":4}`, "twice"},
		{`{"auth":{"user":"u"}}`, "auth.password"},
		{`{"auth":{"token":"t","user":"u","password":"p"}}`, "auth.token"},
		{`{"url":"nats://h:4222","tls":{"cert_file":"c"}}`, "tls.key_file"},
		{`{"tls":{"ca_file":"ca"}}`, "tls"},
		{`{"auth":{"creds_file":"x.creds"}}`, "creds_file"},
		{`{"url":"http://h:80"}`, "scheme"},
		{`{"url":"nats://h:1,,nats://h:2"}`, "empty"},
		{`{"max_age_ms":1000}`, "dedup_window_ms"},
	} {
		_, err := parseConfig([]byte(tc.in))
		if err == nil {
			t.Errorf("ParseConfig(%s): accepted", tc.in)
			continue
		}
		if CodeOf(err) != CodeInvalidArgument || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("ParseConfig(%s): %v (code %v), want invalid_argument mentioning %q", tc.in, err, CodeOf(err), tc.mention)
		}
	}
}

func TestConfigNumericRanges(t *testing.T) {
	type rng struct {
		field, base string // base: other fields the case needs
		lo, hi      int64
		get         func(busConfig) int64
	}
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	const url = `"url":"nats://127.0.0.1:4222",`
	maxMs := int64(math.MaxInt64 / int64(time.Millisecond))
	for _, r := range []rng{
		{"shards", "", 1, 1024, func(c busConfig) int64 { return int64(c.Shards) }},
		{"replicas", url, 1, 5, func(c busConfig) int64 { return int64(c.Replicas) }},
		{"dedup_window_ms", "", 1, maxMs, func(c busConfig) int64 { return ms(c.DedupWindow) }},
		{"max_messages", "", 1, math.MaxInt64, func(c busConfig) int64 { return c.MaxMessages }},
		{"max_bytes", "", 1, math.MaxInt64, func(c busConfig) int64 { return c.MaxBytes }},
		{"max_age_ms", `"dedup_window_ms":1,`, 1, maxMs, func(c busConfig) int64 { return ms(c.MaxAge) }},
		{"connect_timeout_ms", "", 1, 3600000, func(c busConfig) int64 { return ms(c.ConnectTimeout) }},
		{"request_timeout_ms", "", 1, 3600000, func(c busConfig) int64 { return ms(c.RequestTimeout) }},
		{"max_request_bytes", "", 1024, 1073741824, func(c busConfig) int64 { return int64(c.MaxRequestBytes) }},
	} {
		rangeText := fmt.Sprintf("%d..%d", r.lo, r.hi)
		for _, v := range []int64{r.lo, r.lo + 1, r.hi - 1, r.hi} {
			in := fmt.Sprintf(`{%s%s:%d}`, r.base, jsonQuote(r.field), v)
			c, err := parseConfig([]byte(in))
			if err != nil {
				t.Errorf("ParseConfig(%s): %v", in, err)
				continue
			}
			if got := r.get(c); got != v {
				t.Errorf("ParseConfig(%s): %s parsed as %d", in, r.field, got)
			}
		}
		bad := []string{"-1", "1.5", "1e30", "1e3", `"100"`, "true", "[]", "{}", "-0.0",
			"99999999999999999999", "-99999999999999999999"}
		if r.lo > 0 {
			bad = append(bad, fmt.Sprint(r.lo-1))
		}
		if r.hi < math.MaxInt64 {
			bad = append(bad, fmt.Sprint(r.hi+1))
		}
		for _, v := range bad {
			in := fmt.Sprintf(`{%s%s:%s}`, r.base, jsonQuote(r.field), v)
			_, err := parseConfig([]byte(in))
			if err == nil {
				t.Errorf("ParseConfig(%s): accepted", in)
				continue
			}
			if CodeOf(err) != CodeInvalidArgument || !strings.Contains(err.Error(), r.field) ||
				!strings.Contains(err.Error(), rangeText) {
				t.Errorf("ParseConfig(%s): %v (code %v), want invalid_argument naming %s and %s",
					in, err, CodeOf(err), r.field, rangeText)
			}
		}
	}
	// The exact boundaries the contract names.
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{`{"shards":0}`, false}, {`{"shards":1}`, true}, {`{"shards":1024}`, true}, {`{"shards":1025}`, false},
		{`{"max_request_bytes":1023}`, false}, {`{"max_request_bytes":1024}`, true},
		{`{"max_request_bytes":1073741824}`, true}, {`{"max_request_bytes":1073741825}`, false},
		{`{"max_request_bytes":-1}`, false}, {`{"max_request_bytes":1.5}`, false},
		{`{"max_request_bytes":1e30}`, false}, {`{"max_request_bytes":"100"}`, false},
		{`{"replicas":0}`, false}, {`{"replicas":6,` + url[:len(url)-1] + `}`, false},
	} {
		_, err := parseConfig([]byte(tc.in))
		if tc.ok && err != nil {
			t.Errorf("ParseConfig(%s): %v", tc.in, err)
		}
		if !tc.ok && CodeOf(err) != CodeInvalidArgument {
			t.Errorf("ParseConfig(%s): %v, want invalid_argument", tc.in, err)
		}
	}
}

func TestConfigCrossFieldRules(t *testing.T) {
	for _, tc := range []struct {
		in      string
		ok      bool
		mention string
	}{
		{`{"url":"nats://127.0.0.1:4222","embedded":{"memory":true}}`, false, "embedded"},
		{`{"url":"nats://127.0.0.1:4222","embedded":{}}`, false, "embedded"},
		{`{"url":"nats://127.0.0.1:4222","embedded":null}`, true, ""},
		{`{"replicas":3}`, false, "url"},
		{`{"replicas":2,"embedded":{"memory":true}}`, false, "url"},
		{`{"replicas":3,"url":"nats://a:4222,nats://b:4222,nats://c:4222"}`, true, ""},
		{`{"embedded":{"listen":"0.0.0.0:4222"}}`, false, "auth"},
		{`{"embedded":{"listen":":4222"}}`, false, "embedded.listen"},
		{`{"embedded":{"listen":"192.168.1.10:4222"}}`, false, "auth"},
		{`{"embedded":{"listen":"[::]:4222"}}`, false, "auth"},
		{`{"embedded":{"listen":"0.0.0.0:4222"},"auth":{"token":"t0k"}}`, true, ""},
		{`{"embedded":{"listen":"0.0.0.0:4222"},"auth":{"user":"u","password":"p"}}`, true, ""},
		{`{"embedded":{"listen":"127.0.0.1:4222"}}`, true, ""},
		{`{"embedded":{"listen":"localhost:0"}}`, true, ""},
		{`{"embedded":{"listen":"[::1]:4222"}}`, true, ""},
		{`{"dedup_window_ms":1000,"max_age_ms":1000}`, true, ""},
		{`{"dedup_window_ms":1001,"max_age_ms":1000}`, false, "max_age_ms"},
	} {
		_, err := parseConfig([]byte(tc.in))
		if tc.ok {
			if err != nil {
				t.Errorf("ParseConfig(%s): %v", tc.in, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("ParseConfig(%s): accepted", tc.in)
			continue
		}
		if CodeOf(err) != CodeInvalidArgument || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("ParseConfig(%s): %v (code %v), want invalid_argument mentioning %q", tc.in, err, CodeOf(err), tc.mention)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"nats://user:secret@host:4222,nats://tok@h2", "nats://***:***@host:4222,nats://***@h2"},
		{"nats://host:4222", "nats://host:4222"},
		{"user:pw@host:4222", "***:***@host:4222"},
		{"nats://u:p@ss@host", "nats://***:***@host"},
		{"nats://a:4222, tls://x:y@b:4222", "nats://a:4222,tls://***:***@b:4222"},
	} {
		got := redactURL(tc.in)
		if got != tc.want {
			t.Errorf("redactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	got := redactURL("nats://user:secret@host:4222,nats://tok@h2")
	for _, secret := range []string{"secret", "tok@", "user"} {
		if strings.Contains(got, secret) {
			t.Errorf("redactURL leaks %q: %q", secret, got)
		}
	}
	c, err := parseConfig([]byte(`{"url":"nats://user:secret@host:4222,nats://tok@h2"}`))
	if err != nil {
		t.Fatal(err)
	}
	if r := c.RedactedURL(); strings.Contains(r, "secret") || strings.Contains(r, "tok") {
		t.Fatalf("RedactedURL leaks credentials: %q", r)
	}
	// %v of a config never shows a secret.
	c, err = parseConfig([]byte(`{"url":"nats://user:secret@host:4222","auth":{"token":"t0psecret"}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprint(c.Auth)} {
		if strings.Contains(s, "secret") {
			t.Fatalf("printed config leaks a secret: %s", s)
		}
	}
	// A URL that does not parse is quoted in the error, redacted.
	_, err = parseConfig([]byte(`{"url":"nats://user:secret@"}`))
	wantCode(t, err, CodeInvalidArgument, "url")
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("config error leaks the password: %v", err)
	}
}

func TestConnectFailureRedacted(t *testing.T) {
	for _, cfg := range []string{
		urlConfig("nats://alice:s3cr3tpw@127.0.0.1:1", `,"connect_timeout_ms":200`),
		urlConfig("nats://127.0.0.1:1", `,"auth":{"user":"alice","password":"s3cr3tpw"},"connect_timeout_ms":200`),
		urlConfig("nats://s3cr3tpw@127.0.0.1:1", `,"connect_timeout_ms":200`),
		urlConfig("nats://127.0.0.1:1", `,"auth":{"token":"s3cr3tpw"},"connect_timeout_ms":200`),
	} {
		_, err := tryOpen(t, cfg)
		if err == nil {
			t.Fatalf("Open(%s) succeeded against a closed port", cfg)
		}
		wantCode(t, err, CodeConnection, "127.0.0.1")
		if strings.Contains(err.Error(), "s3cr3tpw") {
			t.Fatalf("connect error leaks the password: %v", err)
		}
		if ej := string(ErrorJSON(err)); strings.Contains(ej, "s3cr3tpw") ||
			!strings.Contains(ej, `"code":"connection"`) || !strings.Contains(ej, `"retryable":false`) {
			t.Fatalf("error JSON %s", ej)
		}
	}
}
