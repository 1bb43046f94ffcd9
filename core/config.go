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

// Config is the parsed mesh_init configuration.
type Config struct {
	URL             string // comma-separated seeds; empty: embedded server
	Embedded        EmbeddedConfig
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
	Auth            AuthConfig
	TLS             TLSConfig
	LogLevel        string
}

// EmbeddedConfig configures the in-process server used when URL is empty.
type EmbeddedConfig struct {
	StoreDir string
	Listen   string // host:port to serve other processes; empty: in-process only
	Memory   bool
}

// AuthConfig holds credentials; they never appear in logs, errors or stats.
type AuthConfig struct {
	User, Password, Token   string
	CredsFile, NkeySeedFile string
}

// TLSConfig configures TLS towards url servers.
type TLSConfig struct {
	CAFile, CertFile, KeyFile string
}

// MaxRequestBytesLimit is the largest max_request_bytes a config may set; the C ABI
// refuses longer requests before copying them.
const MaxRequestBytesLimit = 1 << 30

// DefaultConfig returns the defaults of DESIGN.md.
func DefaultConfig() Config {
	return Config{
		Embedded:        EmbeddedConfig{StoreDir: "netmesh-data"},
		Prefix:          "netmesh",
		Shards:          16,
		Replicas:        1,
		DedupWindow:     time.Hour,
		ConnectTimeout:  5 * time.Second,
		RequestTimeout:  10 * time.Second,
		MaxRequestBytes: 64 << 20,
		LogLevel:        "warn",
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

// ParseConfig parses the mesh_init JSON strictly: unknown fields, wrong types and
// out-of-range numbers are invalid_argument naming the field.
func ParseConfig(data []byte) (Config, error) {
	c := DefaultConfig()
	data, err := checkJSON("config", data)
	if err != nil {
		return c, err
	}
	embeddedSet := false
	err = eachField("config", data, func(key string, v []byte) error {
		if isNull(v) {
			switch key {
			case "url", "embedded", "max_messages", "max_bytes", "max_age_ms", "auth", "tls":
				return nil // null means absent / unlimited
			}
		}
		var err error
		var n int64
		switch key {
		case "url":
			c.URL, err = stringField(key, v)
			if err == nil && strings.TrimSpace(c.URL) == "" {
				err = NewError(CodeInvalidArgument, "url must not be empty (omit it for the embedded server)")
			}
		case "embedded":
			embeddedSet = true
			err = parseEmbedded(&c.Embedded, v)
		case "prefix":
			c.Prefix, err = stringField(key, v)
			if err == nil && !prefixRe.MatchString(c.Prefix) {
				err = NewError(CodeInvalidArgument, "prefix must match [A-Za-z0-9_-]{1,64}, got %q", c.Prefix)
			}
		case "shards":
			n, err = intField(key, v, 1, maxShards)
			c.Shards = int(n)
		case "replicas":
			n, err = intField(key, v, 1, 5)
			c.Replicas = int(n)
		case "dedup_window_ms":
			n, err = intField(key, v, 1, maxDurationMs)
			c.DedupWindow = time.Duration(n) * time.Millisecond
		case "max_messages":
			c.MaxMessages, err = intField(key, v, 1, math.MaxInt64)
		case "max_bytes":
			c.MaxBytes, err = intField(key, v, 1, math.MaxInt64)
		case "max_age_ms":
			n, err = intField(key, v, 1, maxDurationMs)
			c.MaxAge = time.Duration(n) * time.Millisecond
		case "connect_timeout_ms":
			n, err = intField(key, v, 1, maxTimeoutMs)
			c.ConnectTimeout = time.Duration(n) * time.Millisecond
		case "request_timeout_ms":
			n, err = intField(key, v, 1, maxTimeoutMs)
			c.RequestTimeout = time.Duration(n) * time.Millisecond
		case "max_request_bytes":
			n, err = intField(key, v, minRequestBytes, maxRequestBytes)
			c.MaxRequestBytes = int(n)
		case "auth":
			err = parseAuth(&c.Auth, v)
		case "tls":
			err = parseTLS(&c.TLS, v)
		case "log_level":
			c.LogLevel, err = stringField(key, v)
			if err == nil && !oneOf(c.LogLevel, logLevels) {
				err = NewError(CodeInvalidArgument, "log_level must be one of %s, got %q", strings.Join(logLevels, ", "), c.LogLevel)
			}
		default:
			err = unknownField("config", key)
		}
		return err
	})
	if err != nil {
		return c, err
	}
	if embeddedSet && c.URL != "" {
		return c, NewError(CodeInvalidArgument, "embedded applies only without url")
	}
	return c, c.validate()
}

func oneOf(s string, set []string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

func parseEmbedded(e *EmbeddedConfig, v []byte) error {
	return eachField("embedded", v, func(key string, v []byte) error {
		var err error
		switch key {
		case "store_dir":
			e.StoreDir, err = stringField("embedded.store_dir", v)
			if err == nil && e.StoreDir == "" {
				err = NewError(CodeInvalidArgument, "embedded.store_dir must not be empty")
			}
		case "listen":
			if isNull(v) {
				e.Listen = ""
				return nil
			}
			e.Listen, err = stringField("embedded.listen", v)
			if err == nil {
				err = checkListen(e.Listen)
			}
		case "memory":
			e.Memory, err = boolField("embedded.memory", v)
		default:
			err = unknownField("embedded", key)
		}
		return err
	})
}

func checkListen(hp string) error {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return NewError(CodeInvalidArgument, "embedded.listen must be host:port, got %q", hp)
	}
	if host == "" {
		return NewError(CodeInvalidArgument, "embedded.listen needs a host (127.0.0.1 for this machine only), got %q", hp)
	}
	_, err = intField("embedded.listen port", []byte(port), 0, 65535)
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

func parseAuth(a *AuthConfig, v []byte) error {
	return eachField("auth", v, func(key string, v []byte) error {
		var err error
		var s string
		switch key {
		case "user", "password", "token", "creds_file", "nkey_seed_file":
			if isNull(v) {
				return nil
			}
			s, err = stringField("auth."+key, v)
		default:
			return unknownField("auth", key)
		}
		switch key {
		case "user":
			a.User = s
		case "password":
			a.Password = s
		case "token":
			a.Token = s
		case "creds_file":
			a.CredsFile = s
		case "nkey_seed_file":
			a.NkeySeedFile = s
		}
		return err
	})
}

func parseTLS(t *TLSConfig, v []byte) error {
	return eachField("tls", v, func(key string, v []byte) error {
		if isNull(v) && (key == "ca_file" || key == "cert_file" || key == "key_file") {
			return nil
		}
		var err error
		switch key {
		case "ca_file":
			t.CAFile, err = stringField("tls.ca_file", v)
		case "cert_file":
			t.CertFile, err = stringField("tls.cert_file", v)
		case "key_file":
			t.KeyFile, err = stringField("tls.key_file", v)
		default:
			err = unknownField("tls", key)
		}
		return err
	})
}

// validate checks rules that span fields.
func (c *Config) validate() error {
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
		for _, u := range strings.Split(c.URL, ",") {
			if err := checkServerURL(strings.TrimSpace(u)); err != nil {
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
	if c.TLS != (TLSConfig{}) {
		return NewError(CodeInvalidArgument, "tls is for url servers only")
	}
	if c.Embedded.Listen != "" {
		host, _, _ := net.SplitHostPort(c.Embedded.Listen)
		if !isLoopback(host) && a.User == "" && a.Token == "" {
			return NewError(CodeInvalidArgument, "embedded.listen on %q serves other hosts: set auth.user/password or auth.token", host)
		}
	}
	return nil
}

func checkServerURL(s string) error {
	if s == "" {
		return NewError(CodeInvalidArgument, "url has an empty entry")
	}
	if !strings.Contains(s, "://") {
		s = "nats://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return NewError(CodeInvalidArgument, "url entry %q is not a server URL", redactURL(s))
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
	default:
		return NewError(CodeInvalidArgument, "url scheme %q is not one of nats, tls, ws, wss", u.Scheme)
	}
	return nil
}

// redactURL hides user info in every entry of a comma-separated URL list.
func redactURL(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		at := strings.LastIndex(p, "@")
		if at < 0 {
			parts[i] = p
			continue
		}
		scheme := ""
		rest := p[:at]
		if j := strings.Index(rest, "://"); j >= 0 {
			scheme, rest = rest[:j+3], rest[j+3:]
		}
		if strings.Contains(rest, ":") {
			parts[i] = scheme + "***:***" + p[at:]
		} else {
			parts[i] = scheme + "***" + p[at:]
		}
	}
	return strings.Join(parts, ",")
}

// RedactedURL is the server URL with credentials hidden, for logs and stats.
func (c *Config) RedactedURL() string { return redactURL(c.URL) }

// String prints the config with the URL redacted and no credentials.
func (c Config) String() string {
	url := c.RedactedURL()
	if url == "" {
		url = "embedded " + c.Embedded.StoreDir
	}
	return fmt.Sprintf("netmesh config{url: %s, prefix: %s, shards: %d, replicas: %d, auth: %v}",
		url, c.Prefix, c.Shards, c.Replicas, c.Auth)
}

// String never shows secrets, so %v of a Config is safe to log.
func (a AuthConfig) String() string {
	kind := "none"
	switch {
	case a.Token != "":
		kind = "token"
	case a.User != "":
		kind = "user " + a.User
	case a.CredsFile != "":
		kind = "creds file"
	case a.NkeySeedFile != "":
		kind = "nkey seed file"
	}
	return "auth{" + kind + "}"
}
