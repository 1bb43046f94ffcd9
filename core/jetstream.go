package core

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Adapter is the JetStream side of the bus, with the semantics of net-mesh's
// JetStream adapter: one stream per shard, created lazily and once, pipelined
// publishes with message ids, and direct-get reads by sequence.
type Adapter struct {
	cfg      *Config
	log      *logger
	embedded *embeddedServer

	nc          *nats.Conn
	js          jetstream.JetStream
	subjects    []string // per shard
	streams     []streamSlot
	nonce       uint64
	nonceHexLen int

	batchGet atomic.Bool // server answers batched direct gets (2.11+)
	version  string

	acks  ackRouter
	reads readRouter
	wake  notifier

	initialized atomic.Bool
}

// streamSlot makes stream creation single-flight per shard.
type streamSlot struct {
	mu    sync.Mutex
	ready atomic.Bool
}

const drainTimeout = 10 * time.Second

func newAdapter(cfg *Config, log *logger) *Adapter {
	a := &Adapter{cfg: cfg, log: log}
	a.subjects = make([]string, cfg.Shards)
	for k := range a.subjects {
		a.subjects[k] = subjectName(cfg.Prefix, k)
	}
	a.streams = make([]streamSlot, cfg.Shards)
	a.nonce = randomNonce()
	a.nonceHexLen = len(strconv.FormatUint(a.nonce, 16))
	return a
}

// Name is the adapter's name, as in net-mesh.
func (a *Adapter) Name() string { return "jetstream" }

// Init connects (starting or joining the embedded server when no url is set),
// detects the server's read capabilities once and opens the reply subscriptions.
func (a *Adapter) Init() error {
	if a.initialized.Load() {
		return nil
	}
	opts := []nats.Option{
		nats.Name("netmesh"),
		nats.Timeout(a.cfg.ConnectTimeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DrainTimeout(drainTimeout),
		nats.NoCallbacksAfterClientClose(),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			a.log.Warnf("nats: %v", err)
		}),
	}
	url := a.cfg.URL
	if url == "" {
		e, err := acquireEmbedded(a.cfg, a.log)
		if err != nil {
			return err
		}
		a.embedded = e
		opts = append(opts, nats.InProcessServer(e.srv))
	} else {
		opts = append(opts, nats.RetryOnFailedConnect(false))
		if a.cfg.TLS.CAFile != "" {
			opts = append(opts, nats.RootCAs(a.cfg.TLS.CAFile))
		}
		if a.cfg.TLS.CertFile != "" {
			opts = append(opts, nats.ClientCert(a.cfg.TLS.CertFile, a.cfg.TLS.KeyFile))
		}
		if a.cfg.Auth.CredsFile != "" {
			opts = append(opts, nats.UserCredentials(a.cfg.Auth.CredsFile))
		}
		if a.cfg.Auth.NkeySeedFile != "" {
			o, err := nats.NkeyOptionFromSeed(a.cfg.Auth.NkeySeedFile)
			if err != nil {
				return wrapError(CodeInvalidArgument, err, "auth.nkey_seed_file")
			}
			opts = append(opts, o)
		}
	}
	if a.cfg.Auth.User != "" {
		opts = append(opts, nats.UserInfo(a.cfg.Auth.User, a.cfg.Auth.Password))
	}
	if a.cfg.Auth.Token != "" {
		opts = append(opts, nats.Token(a.cfg.Auth.Token))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		a.releaseEmbedded()
		return wrapError(CodeConnection, errors.New(redactError(err.Error(), a.cfg)), "connect to %s", a.serverLabel())
	}
	a.nc = nc
	a.version = nc.ConnectedServerVersion()
	a.batchGet.Store(versionAtLeast(a.version, 2, 11))
	if a.js, err = jetstream.New(nc); err != nil {
		a.close()
		return wrapError(CodeInternal, err, "jetstream context")
	}
	inbox := nats.NewInbox()
	if err := a.acks.start(a, inbox+".a."); err != nil {
		a.close()
		return err
	}
	if err := a.reads.start(a, inbox+".r."); err != nil {
		a.close()
		return err
	}
	a.wake.init(a, a.cfg.Prefix+".shard.*")
	a.warnExtraShards()
	a.initialized.Store(true)
	a.log.Infof("connected to %s (server %s, batched direct get: %v)", a.serverLabel(), a.version, a.batchGet.Load())
	return nil
}

// warnExtraShards logs streams of this prefix beyond the configured shard count:
// shards and prefix live in each handle's config, not on the server, so a handle
// configured with fewer shards than a writer would silently never read some.
func (a *Adapter) warnExtraShards() {
	// Only a warning: never hold up Init for long (a cluster may be electing).
	ctx, cancel := context.WithTimeout(context.Background(), min(a.cfg.RequestTimeout, 2*time.Second))
	defer cancel()
	names := a.js.StreamNames(ctx, jetstream.WithStreamListSubject(a.cfg.Prefix+".shard.*"))
	head := a.cfg.Prefix + "_shard_"
	for name := range names.Name() {
		if k, ok := parseUintDec([]byte(strings.TrimPrefix(name, head))); ok && strings.HasPrefix(name, head) && k >= uint64(a.cfg.Shards) {
			a.log.Warnf("stream %s exists, but this handle has %d shards: it neither reads nor writes it", name, a.cfg.Shards)
		}
	}
}

func (a *Adapter) serverLabel() string {
	if a.embedded != nil {
		return a.embedded.clientURL()
	}
	if a.cfg.URL == "" {
		return "embedded server"
	}
	return a.cfg.RedactedURL()
}

// redactError removes credentials that a client library may echo in a message.
func redactError(msg string, c *Config) string {
	for _, secret := range []string{c.Auth.Password, c.Auth.Token} {
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, "***")
		}
	}
	if c.URL != "" {
		msg = strings.ReplaceAll(msg, c.URL, c.RedactedURL())
	}
	return msg
}

// versionAtLeast compares a "major.minor.patch[-x]" server version.
func versionAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}

// IsHealthy reports whether the adapter is initialized and connected.
func (a *Adapter) IsHealthy() bool {
	return a.initialized.Load() && a.nc != nil && a.nc.IsConnected()
}

// Flush is a no-op: publishes return only once JetStream has acknowledged them.
func (a *Adapter) Flush() error { return nil }

// Shutdown drains the connection under a bound and releases the embedded server.
// A drain that times out still releases everything and answers transient.
func (a *Adapter) Shutdown() error {
	if !a.initialized.Swap(false) {
		return errShutdown
	}
	a.wake.stop()
	var err error
	if a.nc != nil {
		if derr := a.nc.Drain(); derr != nil {
			a.nc.Close()
		}
		// Drain closes the connection itself within DrainTimeout.
		deadline := time.Now().Add(drainTimeout + time.Second)
		for !a.nc.IsClosed() && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		if !a.nc.IsClosed() || errors.Is(a.nc.LastError(), nats.ErrDrainTimeout) {
			err = NewError(CodeTransient, "shutdown: drain timed out after %v; connection closed", drainTimeout)
		}
		a.nc.Close()
	}
	a.releaseEmbedded()
	return err
}

func (a *Adapter) close() {
	if a.nc != nil {
		a.nc.Close()
	}
	a.releaseEmbedded()
}

func (a *Adapter) releaseEmbedded() {
	if a.embedded != nil {
		a.embedded.release()
		a.embedded = nil
	}
}

// ensureStream creates the shard's stream on first use; an existing stream is
// used as it is. Concurrent first uses of one shard make one request.
func (a *Adapter) ensureStream(ctx context.Context, shard int) error {
	slot := &a.streams[shard]
	if slot.ready.Load() {
		return nil
	}
	slot.mu.Lock()
	defer slot.mu.Unlock()
	if slot.ready.Load() {
		return nil
	}
	name := streamName(a.cfg.Prefix, shard)
	st, err := a.js.Stream(ctx, name)
	if err == nil {
		if err := a.checkExisting(st.CachedInfo().Config, shard); err != nil {
			return err
		}
	} else if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = a.js.CreateStream(ctx, a.streamConfig(shard))
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			err = nil // created concurrently elsewhere
		}
	}
	if err != nil {
		return classifyAPIError(fmt.Sprintf("stream %s", name), err)
	}
	slot.ready.Store(true)
	return nil
}

// checkExisting accepts a stream made elsewhere (net-mesh, an operator) as it is,
// unless netmesh could not work with it.
func (a *Adapter) checkExisting(c jetstream.StreamConfig, shard int) error {
	if !c.AllowDirect {
		return NewError(CodeFatal, "stream %s exists without allow_direct; netmesh reads it with direct gets", c.Name)
	}
	for _, s := range c.Subjects {
		if s == a.subjects[shard] {
			return nil
		}
	}
	return NewError(CodeFatal, "stream %s exists without the subject %s", c.Name, a.subjects[shard])
}

// streamGone marks a shard's stream for re-creation (e.g. after it was deleted).
func (a *Adapter) streamGone(shard int) { a.streams[shard].ready.Store(false) }

func (a *Adapter) streamConfig(shard int) jetstream.StreamConfig {
	c := jetstream.StreamConfig{
		Name:        streamName(a.cfg.Prefix, shard),
		Subjects:    []string{a.subjects[shard]},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    a.cfg.Replicas,
		Discard:     jetstream.DiscardOld,
		AllowDirect: true,
		Duplicates:  a.cfg.DedupWindow,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		MaxAge:      a.cfg.MaxAge,
	}
	if a.cfg.Embedded.Memory && a.cfg.URL == "" {
		c.Storage = jetstream.MemoryStorage
	}
	if a.cfg.MaxMessages > 0 {
		c.MaxMsgs = a.cfg.MaxMessages
	}
	if a.cfg.MaxBytes > 0 {
		c.MaxBytes = a.cfg.MaxBytes
	}
	return c
}

// classifyAPIError maps a JetStream API failure to a code.
func classifyAPIError(what string, err error) error {
	var apiErr *jetstream.APIError
	switch {
	case errors.As(err, &apiErr):
		switch {
		case apiErr.Code == 503 || apiErr.Code == 408 || apiErr.Code == 429:
			return wrapError(CodeTransient, err, "%s", what)
		case apiErr.Code == 401 || apiErr.Code == 403:
			return wrapError(CodeConnection, err, "%s", what)
		}
		return wrapError(CodeFatal, err, "%s", what)
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return wrapError(CodeConnection, err, "%s", what)
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse):
		return wrapError(CodeTransient, err, "%s: JetStream did not answer", what)
	}
	code := CodeOf(err)
	if code == CodeInternal {
		code = CodeTransient
	}
	return wrapError(code, err, "%s", what)
}

func randomNonce() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}
