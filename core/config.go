package core

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// busConfig is the parsed mesh_init configuration.
type busConfig struct {
	URL             string // comma-separated seeds; empty: embedded server
	Embedded        embeddedConfig
	Prefix          string
	Shards          int
	Replicas        int
	DedupWindow     time.Duration
	MaxMessages     int64 // 0: unlimited
	MaxBytes        int64 // 0: unlimited
	MaxAge          time.Duration
	ConnectTimeout  time.Duration
	RequestTimeout  time.Duration
	MaxRequestBytes int
	Auth            authConfig
	TLS             tlsConfig
	LogLevel        string
	GroupSession    time.Duration // a group member silent this long is dead
	StreamsAtInit   bool          // create every shard stream in mesh_init, not on first use
	transport       Transport     // not from JSON: OpenTransport's; nil: TCP
}

// EmbeddedConfig configures the in-process server used when URL is empty.
type embeddedConfig struct {
	StoreDir string
	Listen   string // host:port to serve other processes; empty: in-process only
	Memory   bool
	WSListen string // host:port to serve WebSocket clients (browsers, the wasm build); empty: none
}

// AuthConfig holds credentials; they never appear in logs, errors or stats.
type authConfig struct {
	User, Password, Token   string
	CredsFile, NkeySeedFile string
}

// TLSConfig configures TLS towards url servers.
type tlsConfig struct {
	CAFile, CertFile, KeyFile string
}

// MaxRequestBytesLimit is the largest max_request_bytes a config may set; the C ABI
// refuses longer requests before copying them.
const MaxRequestBytesLimit = 1 << 30

// DefaultConfig returns the defaults (docs/reference.md, "Config").
func defaultConfig() busConfig {
	return busConfig{
		Embedded:        embeddedConfig{StoreDir: "netmesh-data"},
		Prefix:          "netmesh",
		Shards:          16,
		Replicas:        1,
		DedupWindow:     time.Hour,
		ConnectTimeout:  5 * time.Second,
		RequestTimeout:  10 * time.Second,
		MaxRequestBytes: 64 << 20,
		LogLevel:        "warn",
		GroupSession:    10 * time.Second,
	}
}

const (
	maxShards       = 1024
	maxDurationMs   = math.MaxInt64 / int64(time.Millisecond)
	maxTimeoutMs    = 3600000
	maxWaitMs       = 300000
	maxPollLimit    = 10000
	minRequestBytes = 1024
	maxRequestBytes = MaxRequestBytesLimit
)

var (
	prefixRe  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	batchIDRe = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)
	logLevels = []string{"off", "error", "warn", "info", "debug"}
)

// intRanges are the allowed ranges of integer fields, by the range tag.
var intRanges = map[string][2]int64{
	"shards":        {1, maxShards},
	"replicas":      {1, 5},
	"duration":      {1, maxDurationMs},
	"count":         {1, math.MaxInt64},
	"timeout":       {1, maxTimeoutMs},
	"request_bytes": {minRequestBytes, maxRequestBytes},
	"limit":         {1, maxPollLimit},
	"wait":          {0, maxWaitMs},
	"session":       {1000, 600000},
}

// configJSON is the mesh_init JSON; pointers are fields that may be null.
type configJSON struct {
	URL              *string       `json:"url"`
	Embedded         *embeddedJSON `json:"embedded"`
	Prefix           string        `json:"prefix"`
	Shards           int64         `json:"shards" range:"shards"`
	Replicas         int64         `json:"replicas" range:"replicas"`
	DedupWindowMs    int64         `json:"dedup_window_ms" range:"duration"`
	MaxMessages      *int64        `json:"max_messages" range:"count"`
	MaxBytes         *int64        `json:"max_bytes" range:"count"`
	MaxAgeMs         *int64        `json:"max_age_ms" range:"duration"`
	ConnectTimeoutMs int64         `json:"connect_timeout_ms" range:"timeout"`
	RequestTimeoutMs int64         `json:"request_timeout_ms" range:"timeout"`
	MaxRequestBytes  int64         `json:"max_request_bytes" range:"request_bytes"`
	Auth             *authJSON     `json:"auth"`
	TLS              *tlsJSON      `json:"tls"`
	LogLevel         string        `json:"log_level"`
	Groups           *groupsJSON   `json:"groups"`
	CreateStreams    string        `json:"create_streams"`
}

type groupsJSON struct {
	SessionMs int64 `json:"session_ms" range:"session"`
}

type embeddedJSON struct {
	StoreDir  string         `json:"store_dir"`
	Listen    *string        `json:"listen"`
	Memory    bool           `json:"memory"`
	Websocket *websocketJSON `json:"websocket"`
}

type websocketJSON struct {
	Listen string `json:"listen"`
}

type authJSON struct {
	User         *string `json:"user" secret:"true"`
	Password     *string `json:"password" secret:"true"`
	Token        *string `json:"token" secret:"true"`
	CredsFile    *string `json:"creds_file" secret:"true"`
	NkeySeedFile *string `json:"nkey_seed_file" secret:"true"`
}

type tlsJSON struct {
	CAFile   *string `json:"ca_file"`
	CertFile *string `json:"cert_file"`
	KeyFile  *string `json:"key_file" secret:"true"`
}

// ParseConfig parses the mesh_init JSON strictly: unknown fields, wrong types and
// out-of-range numbers are invalid_argument naming the field.
func parseConfig(data []byte) (busConfig, error) {
	d := defaultConfig()
	data, err := checkJSON("config", data)
	if err != nil {
		return d, err
	}
	j := configJSON{
		Embedded: &embeddedJSON{StoreDir: d.Embedded.StoreDir}, Prefix: d.Prefix,
		Shards: int64(d.Shards), Replicas: int64(d.Replicas), DedupWindowMs: d.DedupWindow.Milliseconds(),
		ConnectTimeoutMs: d.ConnectTimeout.Milliseconds(), RequestTimeoutMs: d.RequestTimeout.Milliseconds(),
		MaxRequestBytes: int64(d.MaxRequestBytes), LogLevel: d.LogLevel,
		Groups:        &groupsJSON{SessionMs: d.GroupSession.Milliseconds()},
		CreateStreams: "lazy",
	}
	defaultEmbedded := j.Embedded
	if err := decodeObject("config", "", data, &j); err != nil {
		return d, err
	}
	c := j.config(d)
	if err := j.check(j.Embedded != defaultEmbedded && j.Embedded != nil); err != nil {
		return c, err
	}
	return c, c.validate()
}

// config turns the decoded JSON into a busConfig over the defaults d.
func (j *configJSON) config(d busConfig) busConfig {
	c := d
	c.URL = deref(j.URL)
	if j.Embedded != nil {
		c.Embedded = embeddedConfig{StoreDir: j.Embedded.StoreDir, Listen: deref(j.Embedded.Listen), Memory: j.Embedded.Memory}
		if ws := j.Embedded.Websocket; ws != nil {
			c.Embedded.WSListen = ws.Listen
		}
	}
	c.Prefix, c.Shards, c.Replicas = j.Prefix, int(j.Shards), int(j.Replicas)
	c.DedupWindow = time.Duration(j.DedupWindowMs) * time.Millisecond
	c.MaxMessages, c.MaxBytes = deref(j.MaxMessages), deref(j.MaxBytes)
	c.MaxAge = time.Duration(deref(j.MaxAgeMs)) * time.Millisecond
	c.ConnectTimeout = time.Duration(j.ConnectTimeoutMs) * time.Millisecond
	c.RequestTimeout = time.Duration(j.RequestTimeoutMs) * time.Millisecond
	c.MaxRequestBytes = int(j.MaxRequestBytes)
	if a := j.Auth; a != nil {
		c.Auth = authConfig{User: deref(a.User), Password: deref(a.Password), Token: deref(a.Token),
			CredsFile: deref(a.CredsFile), NkeySeedFile: deref(a.NkeySeedFile)}
	}
	if t := j.TLS; t != nil {
		c.TLS = tlsConfig{CAFile: deref(t.CAFile), CertFile: deref(t.CertFile), KeyFile: deref(t.KeyFile)}
	}
	c.LogLevel = j.LogLevel
	if j.Groups != nil {
		c.GroupSession = time.Duration(j.Groups.SessionMs) * time.Millisecond
	}
	c.StreamsAtInit = j.CreateStreams == "init"
	return c
}

// check applies the rules on single values that a type cannot say.
func (j *configJSON) check(embeddedSet bool) error {
	switch {
	case j.URL != nil && strings.TrimSpace(*j.URL) == "":
		return NewError(CodeInvalidArgument, "url must not be empty (omit it for the embedded server)")
	case !prefixRe.MatchString(j.Prefix):
		return NewError(CodeInvalidArgument, "prefix must match [A-Za-z0-9_-]{1,64}, got %q", j.Prefix)
	case j.CreateStreams != "lazy" && j.CreateStreams != "init":
		return NewError(CodeInvalidArgument, `create_streams must be "lazy" or "init", got %q`, clip([]byte(j.CreateStreams)))
	case !oneOf(j.LogLevel, logLevels):
		return NewError(CodeInvalidArgument, "log_level must be one of %s, got %q", strings.Join(logLevels, ", "), j.LogLevel)
	case j.Embedded != nil && j.Embedded.StoreDir == "":
		return NewError(CodeInvalidArgument, "embedded.store_dir must not be empty")
	case j.Embedded != nil && j.Embedded.Listen != nil:
		if err := checkListen("embedded.listen", *j.Embedded.Listen); err != nil {
			return err
		}
	}
	if j.Embedded != nil && j.Embedded.Websocket != nil {
		if err := checkListen("embedded.websocket.listen", j.Embedded.Websocket.Listen); err != nil {
			return err
		}
	}
	if embeddedSet && j.URL != nil {
		return NewError(CodeInvalidArgument, "embedded applies only without url")
	}
	return nil
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

func oneOf(s string, set []string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

func checkListen(field, hp string) error {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return NewError(CodeInvalidArgument, "%s must be host:port, got %q", field, hp)
	}
	if host == "" {
		return NewError(CodeInvalidArgument, "%s needs a host (127.0.0.1 for this machine only), got %q", field, hp)
	}
	_, err = intField(field+" port", []byte(port), 0, 65535)
	return err
}

// isLoopback reports whether host only accepts connections from this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validate checks rules that span fields.
func (c *busConfig) validate() error {
	a := c.Auth
	if (a.User == "") != (a.Password == "") {
		return NewError(CodeInvalidArgument, "auth.user and auth.password go together")
	}
	if a.Token != "" && a.User != "" {
		return NewError(CodeInvalidArgument, "auth.token and auth.user/password are exclusive")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return NewError(CodeInvalidArgument, "tls.cert_file and tls.key_file go together")
	}
	if c.MaxAge > 0 && c.DedupWindow > c.MaxAge {
		return NewError(CodeInvalidArgument, "dedup_window_ms (%d) must not exceed max_age_ms (%d)",
			c.DedupWindow.Milliseconds(), c.MaxAge.Milliseconds())
	}
	if c.URL != "" {
		entries := strings.Split(c.URL, ",")
		for i, u := range entries {
			if err := checkServerURL(strings.TrimSpace(u), i+1, len(entries)); err != nil {
				return err
			}
		}
		return nil
	}
	// Embedded server.
	if c.Replicas > 1 {
		return NewError(CodeInvalidArgument, "replicas %d needs a cluster: set url (the embedded server is a single node)", c.Replicas)
	}
	if a.CredsFile != "" || a.NkeySeedFile != "" {
		return NewError(CodeInvalidArgument, "auth.creds_file and auth.nkey_seed_file are for url servers only")
	}
	if c.TLS != (tlsConfig{}) {
		return NewError(CodeInvalidArgument, "tls is for url servers only")
	}
	for _, l := range [...]struct{ field, listen string }{
		{"embedded.listen", c.Embedded.Listen}, {"embedded.websocket.listen", c.Embedded.WSListen}} {
		host, _, _ := net.SplitHostPort(l.listen)
		if l.listen != "" && !isLoopback(host) && a.User == "" && a.Token == "" {
			return NewError(CodeInvalidArgument, "%s on %q serves other hosts: set auth.user/password or auth.token", l.field, host)
		}
	}
	return nil
}

// checkServerURL checks entry i of n. It never quotes the entry: a password
// holding a comma would be cut in two, and neither half is redacted.
func checkServerURL(s string, i, n int) error {
	if s == "" {
		return NewError(CodeInvalidArgument, "url has an empty entry (entry %d of %d)", i, n)
	}
	if !strings.Contains(s, "://") {
		s = "nats://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return NewError(CodeInvalidArgument, "url entry %d of %d is not a server URL ([nats|tls|ws|wss://][user:password@]host:port)", i, n)
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
	default:
		return NewError(CodeInvalidArgument, "url entry %d of %d: scheme %q is not one of nats, tls, ws, wss", i, n, clip([]byte(u.Scheme)))
	}
	return nil
}

// redactURL hides the user info of every URL in s, commas inside a password
// included: each part after a "://" (and the text before the first) loses what
// comes before its last '@'. Only then is the list split and trimmed.
func redactURL(s string) string {
	parts := strings.Split(s, "://")
	for i, p := range parts {
		if at := strings.LastIndexByte(p, '@'); at >= 0 {
			stars := "***"
			if strings.Contains(p[:at], ":") {
				stars = "***:***"
			}
			parts[i] = stars + p[at:]
		}
	}
	entries := strings.Split(strings.Join(parts, "://"), ",")
	for i, e := range entries {
		entries[i] = strings.TrimSpace(e)
	}
	return strings.Join(entries, ",")
}

// RedactedURL is the server URL with credentials hidden, for logs and stats.
func (c *busConfig) RedactedURL() string { return redactURL(c.URL) }

// String prints the config with the URL redacted and no credentials.
func (c busConfig) String() string {
	url := c.RedactedURL()
	if url == "" {
		url = "embedded " + c.Embedded.StoreDir
	}
	return fmt.Sprintf("netmesh config{url: %s, prefix: %s, shards: %d, replicas: %d, auth: %v}",
		url, c.Prefix, c.Shards, c.Replicas, c.Auth)
}

// String never shows secrets, so %v of a busConfig is safe to log.
func (a authConfig) String() string {
	kind := "none"
	switch {
	case a.Token != "":
		kind = "token"
	case a.User != "":
		kind = "user/password"
	case a.CredsFile != "":
		kind = "creds file"
	case a.NkeySeedFile != "":
		kind = "nkey seed file"
	}
	return "auth{" + kind + "}"
}
